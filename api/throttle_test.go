package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/wiring"
)

// clientAt is an HTTP client whose connections come from the loopback
// address ip, so one test can speak as several clients.
func clientAt(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

func callAs(t *testing.T, c *http.Client, url, token string, headers ...string) resp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// Unknown bearer tokens are counted per client address (X-Forwarded-For is
// not read without a trusted proxy): past the limit,
// every request from that address, even with a good token, is answered 429
// with Retry-After and a message saying why, until the window has passed.
// Other addresses are not held back. Refusals are counted in /metrics.
func TestUnknownTokensAreThrottled(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	quiet := slog.New(slog.DiscardHandler)
	reg := refdata.Default()
	var f auth.File
	auditor, ea := auth.NewToken("Ada Auditor", "auditor")
	operator, eo := auth.NewToken("Oli Operator", "operator")
	f.Tokens = append(f.Tokens, ea, eo)
	b, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Load(path, reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	tokens.Attempts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	node := buildNode(t, n, wiring.Config{Log: quiet, Authorities: reg, Tokens: tokens, Version: "test", NoViews: true})
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	// httptest listens on 127.0.0.1; Linux answers the whole of 127/8, so
	// these are two clients.
	guesser, other := clientAt("127.0.0.2"), clientAt("127.0.0.3")

	// Each guess claims another client in X-Forwarded-For; with no trusted
	// proxy configured, nobody believes it.
	for i := range auth.DefaultMaxFailures {
		if r := callAs(t, guesser, ts.URL+"/v1/audit/verify", "ntsf_guess"+strconv.Itoa(i), "X-Forwarded-For", "198.51.100."+strconv.Itoa(i)); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown token %d: %d %s", i+1, r.status, r.body)
		}
	}
	held := func(what string) {
		t.Helper()
		r := callAs(t, guesser, ts.URL+"/v1/audit/verify", auditor)
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != http.StatusTooManyRequests || err != nil || ra < 1 || ra > int(auth.DefaultFailWindow/time.Second) {
			t.Fatalf("%s: %d, Retry-After %q: %s", what, r.status, r.header.Get("Retry-After"), r.body)
		}
		var e struct {
			Error struct{ Code, Field, Message string } `json:"error"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != "too_many_attempts" || e.Error.Field != "Authorization" || !strings.Contains(e.Error.Message, "too many unknown tokens") {
			t.Fatalf("%s: body %s", what, r.body)
		}
	}
	held("a good token past the limit")
	if r := callAs(t, other, ts.URL+"/v1/audit/verify", auditor); r.status != http.StatusOK {
		t.Fatalf("another client with a good token: %d %s", r.status, r.body)
	}
	m := callAs(t, other, ts.URL+"/metrics", operator)
	for _, want := range []string{
		`ntsflow_auth_refused_total{reason="unknown_token",surface="api"} 10`,
		`ntsflow_auth_refused_total{reason="throttled",surface="api"} 1`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	advance(auth.DefaultFailWindow - time.Second)
	held("a second before the window has passed")
	advance(time.Second)
	if r := callAs(t, guesser, ts.URL+"/v1/audit/verify", auditor); r.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
}
