package main

import (
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
