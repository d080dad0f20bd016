package main

import (
	"log/slog"
	"net/http"
	"regexp"
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

// Issue 12, item 6: the shipped compose file is safe by default: ports on
// loopback only, tokens on, NATS users, Prometheus with a token, and no
// password written into it.
func TestComposeIsSafeByDefault(t *testing.T) {
	compose := readFile(t, "../../docker-compose.yml")
	for _, m := range regexp.MustCompile(`ports: \[([^\]]*)\]`).FindAllStringSubmatch(compose, -1) {
		if !strings.HasPrefix(m[1], `"127.0.0.1:`) {
			t.Errorf("a port published beyond loopback: %s", m[0])
		}
	}
	if n := strings.Count(compose, `"--tokens", "/secrets/tokens.json"`); n != 2 {
		t.Errorf("%d of 2 engines run with tokens", n)
	}
	for _, want := range []string{"${GRAFANA_ADMIN_PASSWORD:?", "${NTSFLOW_NATS_PASSWORD:?", "/etc/nats/permissions.conf", `"--nats-user", "ntsflow"`} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml lacks %s", want)
		}
	}
	// A password in a command line is readable by every process on the host.
	for _, m := range regexp.MustCompile(`(?s)command: \[[^\]]*\]`).FindAllString(compose, -1) {
		if strings.Contains(m, "PASSWORD") || regexp.MustCompile(`nats://[^/"]*@`).MatchString(m) {
			t.Errorf("a secret in a command line: %s", m)
		}
	}
	if strings.Contains(compose, "ADMIN_PASSWORD: admin") {
		t.Error("Grafana's admin password is written into the compose file")
	}
	if !strings.Contains(readFile(t, "../../deploy/prometheus/prometheus.yml"), "credentials_file: /secrets/prometheus.token") {
		t.Error("Prometheus scrapes without a token")
	}
}
