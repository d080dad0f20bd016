package main

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
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

// No secret on the command line (any user of the machine reads it with
// ps): the flags and URLs that once carried one are refused, naming what
// replaced them, before anything starts.
func TestSecretsOnTheCommandLineAreRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "--token", "ntsf_secret", "some-id"}, "NTSFLOW_TOKEN"},
		{[]string{"verify", "--token", "ntsf_secret"}, "--token-file"},
		{[]string{"export", "--token=ntsf_secret"}, "NTSFLOW_TOKEN"},
		{[]string{"rebuild", "--token", "ntsf_secret", "capacity"}, "NTSFLOW_TOKEN"},
		{[]string{"replay", "--token", "ntsf_secret", "--as-of", "2025-06-30T23:59:59Z", "--view", "capacity"}, "NTSFLOW_TOKEN"},
		{[]string{"simulate", "--token", "ntsf_secret"}, "NTSFLOW_TOKEN"},
		{[]string{"verify", "--nats-url", "nats://ntsflow:hunter2-secret@127.0.0.1:1"}, "--nats-user"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--log-format", "text", "--nats-url", "nats://127.0.0.1:1,nats://ntsflow:hunter2-secret@127.0.0.1:2"}, "NTSFLOW_NATS_PASSWORD"},
	} {
		var out, errb strings.Builder
		code := run(c.args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "ps") {
			t.Errorf("%q: exit %d, want a refusal naming %s:\n%s", c.args, code, c.want, errb.String())
		}
		if strings.Contains(errb.String(), "hunter2") {
			t.Errorf("%q: the refusal repeats the password:\n%s", c.args, errb.String())
		}
	}
}

// A password comes from a file or the environment, and a user without one
// is refused rather than tried without.
func TestNATSLoginFromFileOrEnvironment(t *testing.T) {
	t.Setenv(envNATSPassword, "")
	if _, err := (natsLogin{user: "ntsflow"}).options("nats://127.0.0.1:4222"); err == nil || !strings.Contains(err.Error(), envNATSPassword) {
		t.Errorf("a user without a password: %v", err)
	}
	if opts, err := (natsLogin{}).options("nats://127.0.0.1:4222"); err != nil || opts != nil {
		t.Errorf("no login at all: %v %v", opts, err)
	}
	t.Setenv(envNATSPassword, "from-the-environment")
	if opts, err := (natsLogin{}).options("nats://127.0.0.1:4222"); err != nil || len(opts) != 1 {
		t.Errorf("a password in the environment: %v %v", opts, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := (natsLogin{passwordFile: empty}).options("nats://127.0.0.1:4222"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password file: %v", err)
	}
}
