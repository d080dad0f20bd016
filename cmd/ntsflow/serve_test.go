package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
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
