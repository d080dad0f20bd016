package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServe runs the serve command in process on a fresh port and returns
// its address and a stop function that waits for a graceful exit.
func startServe(t *testing.T, dataDir string, extra ...string) (string, func() error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := serveFlags(fs)
	if err := fs.Parse(append([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--sync-interval", "0"}, extra...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- runServe(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { addrc <- a }) }()
	select {
	case a := <-addrc:
		return "http://" + a, func() error { cancel(); return <-errc }
	case err := <-errc:
		cancel()
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return "", nil
}

func TestServeStartsStopsAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	if res, err := http.Get(base + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	body := `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	loc := res.Header.Get("Location")
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}

	base, stop = startServe(t, dir)
	defer stop()
	res, err = http.Get(base + loc)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after restart: %v %v", res, err)
	}
	b, _ := io.ReadAll(res.Body)
	if !bytes.Contains(b, []byte(`"status":"open"`)) {
		t.Fatalf("after restart: %s", b)
	}
}

func TestHelpExplains(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"data-dir", "nats-url", "http-addr", "sync-interval", "replicas", "SIGTERM", "/readyz"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
}

// The whole engine: the saga runs inside serve, and the referral's GET shows
// the deadline moving from on-track to breached (a policy in seconds).
func TestServeRunsTheDeadlineSaga(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"version":"demo-seconds","routes":{"hotel":{"duration":"3s"},"entry-authority":{"duration":"6s"}},"warnBefore":{"duration":"1s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`), 0o600)
	base, stop := startServe(t, t.TempDir(), "--deadline-policy", policy)
	defer stop()
	body := fmt.Sprintf(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":%q}`, time.Now().UTC().Format(time.RFC3339Nano))
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	loc := res.Header.Get("Location")
	seen := map[string]bool{}
	var last map[string]any
	// Until the saga has recorded the breach (the state says "breached" as
	// soon as the deadline passes; the breach event names who must act).
	for start := time.Now(); time.Since(start) < 8*time.Second && (last == nil || last["deadline"].(map[string]any)["escalatedTo"] == nil); time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(base + loc)
		if err != nil {
			t.Fatal(err)
		}
		last = nil
		json.NewDecoder(res.Body).Decode(&last)
		res.Body.Close()
		d := last["deadline"].(map[string]any)
		seen[d["state"].(string)] = true
	}
	d := last["deadline"].(map[string]any)
	if !seen["on-track"] || !seen["at-risk"] || !seen["breached"] || d["policy"] != "demo-seconds" || d["dueAt"] == nil || d["escalatedTo"] != "team-leader" {
		t.Fatalf("states seen %v; last %v", seen, d)
	}
}

func TestRebuildAndReplayCommands(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	body := `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`
	if res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body)); err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"rebuild", "--server", base, "capacity"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "rebuilt and swapped in") {
		t.Fatalf("rebuild exit %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"replay", "--server", base, "--as-of", time.Now().UTC().Format(time.RFC3339), "--view", "capacity"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"inFlight": 1`) {
		t.Fatalf("replay exit %d: %s %s", code, out.String(), errb.String())
	}
	if code := run([]string{"replay", "--view", "capacity"}, &out, &errb); code != 2 {
		t.Fatalf("replay without --as-of: exit %d", code)
	}
}

func TestHistoryExportVerifyCommands(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	body := `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")
	http.Post(base+"/v1/referrals/"+id+"/placement", "application/json", strings.NewReader(`{"placementType":"U1","provider":"p","placedAt":"2025-06-04T10:00:00Z"}`))

	var out, errb bytes.Buffer
	if code := run([]string{"history", "--server", base, id}, &out, &errb); code != 0 || !strings.Contains(out.String(), "referral.placed") || !strings.Contains(out.String(), "placementType=U1") {
		t.Fatalf("history exit %d:\n%s%s", code, out.String(), errb.String())
	}
	// Received 10:00 UTC on 2 June 2025 reads 11:00 BST in the table.
	if !strings.Contains(out.String(), "2025-06-02 11:00 BST") || !strings.Contains(out.String(), "(London)") {
		t.Fatalf("history table times are not London's:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"history", id, "--json", "--server", base}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "{") {
		t.Fatalf("history --json exit %d: %s", code, out.String())
	}
	out.Reset()
	// The receipt and the placement (the saga's deadline.set may or may not
	// have landed yet).
	if code := run([]string{"export", "--server", base}, &out, &errb); code != 0 || strings.Count(out.String(), "\n") < 2 || !strings.Contains(out.String(), `"referral.placed"`) {
		t.Fatalf("export exit %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"verify", "--server", base}, &out, &errb); code != 0 || !strings.Contains(out.String(), "no problems") {
		t.Fatalf("verify exit %d: %s %s", code, out.String(), errb.String())
	}
	// With the engine stopped, the tools read its data directory directly.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"verify", "--data-dir", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "no problems") {
		t.Fatalf("verify --data-dir exit %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"export", "--data-dir", dir, "--since", "2000-01-01T00:00:00Z"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"referral.received"`) {
		t.Fatalf("export --data-dir exit %d: %s %s", code, out.String(), errb.String())
	}
}

// The benchmark harness, as CI runs it: a seconds-long smoke of every part
// that checks the harness works and the counts add up, not the figures.
// The parts that start serve (memory, mix, writes) start this test binary,
// which TestMain turns into ntsflow.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("bench smoke: not in -short")
	}
	t.Setenv(asMainEnv, "1")
	var out, errb bytes.Buffer
	jsonFile := filepath.Join(t.TempDir(), "bench.json")
	if code := run([]string{"bench", "--quick", "--json", jsonFile}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"raw JetStream publish (sync)", "ntsflow conditional append", "ntsflow commands (receive", "req/s offered", "referral of 500 events",
		"rebuild timeliness", "peak RSS", "lost 0, doubled 0", "round 1: serve, cold, 50/s offered", "round 1: serve, warm, 50/s offered", "raw JetStream publish (4 clients", "highest rate with p99", "messages written per command"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	var doc struct {
		Rows []struct {
			Group         string
			Name          string
			Ops, Events   int
			Errors        int
			Offered       int `json:"offeredPerSecond"`
			FsyncsPerOp   *float64
			MessagesPerOp map[string]float64
			Note          string
		}
	}
	b, _ := os.ReadFile(jsonFile)
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Rows) < 20 {
		t.Fatalf("json: %v, %d rows", err, len(doc.Rows))
	}
	mixed, writes := 0, 0
	for i, r := range doc.Rows {
		if r.Errors != 0 {
			t.Errorf("row %d (%s): %d errors", i, r.Name, r.Errors)
		}
		switch {
		case strings.Contains(r.Name, ": serve, "):
			// Every command the mix sent to serve was accepted.
			mixed++
			if r.Offered != 50 || r.Ops == 0 || r.Events != r.Ops {
				t.Errorf("mix row %q: offered %d, sent %d, accepted %d", r.Name, r.Offered, r.Ops, r.Events)
			}
		case strings.HasPrefix(r.Group, "writes per command"):
			// Every command writes its commit to the events stream; the
			// fsyncs are counted where strace may attach.
			writes++
			if r.Ops == 0 || r.Events != r.Ops || r.MessagesPerOp["NTS_EVENTS"] < 1 {
				t.Errorf("writes row: sent %d, accepted %d, messages per command %v", r.Ops, r.Events, r.MessagesPerOp)
			}
			if (r.FsyncsPerOp == nil || *r.FsyncsPerOp <= 0) && !strings.Contains(r.Note, "fsyncs not measured") {
				t.Errorf("writes row: no fsyncs counted, and not said why: %s", r.Note)
			}
			t.Logf("writes: %s", r.Note)
		}
	}
	// One of each in each mode, cold and warm.
	if mixed != 2 || writes != 2 {
		t.Errorf("%d mix rows and %d writes rows, want 2 of each (cold and warm)", mixed, writes)
	}
}

func TestSimulateDrivesAnEngine(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "--server", base, "--referrals", "20", "--seed", "3"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "simulated 20 referrals") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	first := out.String()
	out.Reset()
	// The same seed again records nothing new: every command is a repeat.
	if code := run([]string{"simulate", "--server", base, "--referrals", "20", "--seed", "3"}, &out, &errb); code != 0 {
		t.Fatalf("second run exit %d", code)
	}
	var v struct{ StreamSequence uint64 }
	getJSON(t, base+"/v1/views", &v)
	var list struct{ Result struct{ Total int } }
	getJSON(t, fmt.Sprintf("%s/v1/referrals?minSequence=%d", base, v.StreamSequence), &list)
	if list.Result.Total != 20 {
		t.Fatalf("%d referrals after two runs of one seed (%s)", list.Result.Total, first)
	}
}
