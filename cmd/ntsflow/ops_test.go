package main

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// metricLines polls base's /metrics until a line matches re, or gives up
// after limit and returns what it last saw.
func metricLines(t *testing.T, base string, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	var found []string
	for start := time.Now(); time.Since(start) < limit; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		found = found[:0]
		for _, l := range strings.Split(string(b), "\n") {
			if re.MatchString(l) {
				found = append(found, l)
			}
		}
		if len(found) > 0 {
			return found
		}
	}
	return nil
}

// A child referred into the scheme and still awaiting allocation has no
// receiving authority yet, but its breach belongs to the region it was
// referred to: the dashboard's per-region panels must count it there.
func TestBreachAwaitingAllocationCountsInItsRegion(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	// Received long ago: the saga records the breach at once.
	body := `{"region":"north-west","route":"hotel","hotel":"H","childReference":"HO-R1","receivedAt":"2025-06-02T10:00:00Z"}`
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("refer: %v %v", res, err)
	}
	got := metricLines(t, base, regexp.MustCompile(`^ntsflow_deadline_breaches_total\{.*\} [1-9]`), 20*time.Second)
	if len(got) != 1 || !strings.HasPrefix(got[0], `ntsflow_deadline_breaches_total{region="North West"} 1`) {
		t.Fatalf("breaches counted: %q, want one, in region \"North West\"", got)
	}
}

// The image's default command is what runs when nobody passes one: it must
// pass the same exposure rules as any other serve. Docker does not run on
// the development machines, so the test reads the Dockerfile's CMD and
// parses it as serve would.
func TestDockerfileDefaultCommandPassesTheExposureRules(t *testing.T) {
	var cmd []string
	for _, l := range strings.Split(readFile(t, "../../Dockerfile"), "\n") {
		if rest, ok := strings.CutPrefix(l, "CMD "); ok {
			if err := json.Unmarshal([]byte(rest), &cmd); err != nil {
				t.Fatalf("Dockerfile CMD is not an exec-form list: %v", err)
			}
		}
	}
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("Dockerfile CMD %q: want a serve command", cmd)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := serveFlags(fs)
	if err := fs.Parse(cmd[1:]); err != nil {
		t.Fatal(err)
	}
	if err := checkExposure(cfg); err != nil {
		t.Fatalf("Dockerfile CMD %q: %v", cmd, err)
	}
}
