package main

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// Issue 12, items 10 and 12: the engine's HTTP server bounds headers and
// every phase of a connection.
func TestHTTPServerBoundsConnections(t *testing.T) {
	hs := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if hs.ReadHeaderTimeout == 0 || hs.ReadTimeout == 0 || hs.WriteTimeout == 0 || hs.IdleTimeout == 0 || hs.MaxHeaderBytes == 0 || hs.MaxHeaderBytes > 1<<20 {
		t.Fatalf("unbounded: %+v", hs)
	}
	base, stop := startServe(t, t.TempDir(), "--no-sagas")
	defer stop()
	req, _ := http.NewRequest("POST", base+"/v1/referrals", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Actor", strings.Repeat("a", 1_000_000))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 1 MB X-Actor: %d", res.StatusCode)
	}
}
