package auth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClientIsTheRemoteAddress(t *testing.T) {
	tk := &Tokens{}
	for addr, want := range map[string]string{
		"192.0.2.7:51000":                    "192.0.2.7",
		"[::ffff:192.0.2.7]:51000":           "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":         "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:443":         "2001:db8:1:2::/64",
		"[2001:db8:1:3:aaaa::1]:443":         "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":                  "fe80::/64",
		"127.0.0.1:8080":                     "127.0.0.1",
		"not an address":                     "not an address",
		"[2001:db8:ffff:ffff:ffff::1]:12345": "2001:db8:ffff:ffff::/64",
	} {
		r := &http.Request{RemoteAddr: addr, Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
		if got := tk.Client(r); got != want {
			t.Errorf("from %q (X-Forwarded-For not trusted): %q, want %q", addr, got, want)
		}
	}
}

// Given trusted proxies, X-Forwarded-For is read from the right, past the
// trusted hops only: what the client wrote left of them is not believed.
func TestClientBehindTrustedProxies(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.0.2.9 ,2001:db8:aa::/48")
	if err != nil {
		t.Fatal(err)
	}
	tk := &Tokens{TrustedProxies: proxies}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"10.1.2.3:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:1", []string{"6.6.6.6", "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"192.0.2.9:1", []string{"2001:db8:1:2::5"}, "2001:db8:1:2::/64"},
		{"[2001:db8:aa::1]:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:1", nil, "10.1.2.3"},
		{"10.1.2.3:1", []string{"10.4.4.4"}, "10.4.4.4"},
		{"10.1.2.3:1", []string{"nonsense, 198.51.100.7"}, "198.51.100.7"},
		{"10.1.2.3:1", []string{"198.51.100.7, nonsense"}, "10.1.2.3"},
		{"203.0.113.5:1", []string{"198.51.100.7"}, "203.0.113.5"},
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{"X-Forwarded-For": c.xff}}
		if got := tk.Client(r); got != c.want {
			t.Errorf("from %s with %q: %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
	if _, err := ParseProxies("10.0.0.0/8, the load balancer"); err == nil || !strings.Contains(err.Error(), `"the load balancer"`) {
		t.Errorf("a bad proxy: %v", err)
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func heldFor(t *testing.T, err error) time.Duration {
	t.Helper()
	var h *ThrottledError
	if !errors.As(err, &h) {
		t.Fatalf("want a client held back, got %v", err)
	}
	return h.RetryAfter
}

// Given failures spread wider than the window, when they go on, then the
// client is never held back; given MaxFailures within it, the client is
// held back for Window after the last, whatever it presents.
func TestLimiterCountsFailuresInAWindow(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	l := &Limiter{MaxFailures: 3, Window: time.Minute, Now: clk.now}

	for range 10 {
		l.Fail("a")
		l.Fail("a")
		clk.advance(time.Minute)
		if err := l.Check("a"); err != nil {
			t.Fatalf("two failures a minute, limit three: %v", err)
		}
	}

	l.Fail("b")
	clk.advance(20 * time.Second)
	l.Fail("b")
	if err := l.Check("b"); err != nil {
		t.Fatalf("two failures: %v", err)
	}
	l.Fail("b")
	if d := heldFor(t, l.Check("b")); d != time.Minute {
		t.Fatalf("held for %v, want a minute", d)
	}
	if err := l.Check("c"); err != nil {
		t.Fatalf("another client: %v", err)
	}
	clk.advance(59 * time.Second)
	if d := heldFor(t, l.Check("b")); d != time.Second {
		t.Fatalf("held for %v, want a second", d)
	}
	clk.advance(time.Second)
	if err := l.Check("b"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Given a token file's tokens, when a client presents unknown tokens past
// the limit, then its good token is refused too until the window passes.
func TestAuthenticateHoldsBackAGoodToken(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	good, e := NewToken("Ada", "auditor")
	tk := &Tokens{byHash: map[string]Principal{e.SHA256: {Name: "Ada", Kind: Auditor}}}
	tk.Attempts.Now = clk.now
	for i := range DefaultMaxFailures {
		if _, err := tk.Authenticate("a", "ntsf_"+strconv.Itoa(i)); !errors.Is(err, ErrUnknownToken) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	_, err := tk.Authenticate("a", good)
	if d := heldFor(t, err); d != DefaultFailWindow {
		t.Fatalf("held for %v", d)
	}
	if p, err := tk.Authenticate("b", good); err != nil || p.Name != "Ada" {
		t.Fatalf("another client: %v %v", p, err)
	}
	clk.advance(DefaultFailWindow)
	if p, err := tk.Authenticate("a", good); err != nil || p.Name != "Ada" {
		t.Fatalf("after the window: %v %v", p, err)
	}
}

// Given more clients failing than the limiter keeps, then its memory stays
// bounded, and a client held back is kept while others are forgotten.
func TestLimiterMemoryIsBounded(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	l := &Limiter{MaxFailures: 2, Window: time.Minute, MaxClients: 100, Now: clk.now}
	l.Fail("x")
	l.Fail("x")
	for i := range 1000 {
		l.Fail(strconv.Itoa(i))
		if n := len(l.clients); n > 100 {
			t.Fatalf("%d clients kept, bound 100", n)
		}
	}
	heldFor(t, l.Check("x"))
	// Once their window has passed, the others make room without loss.
	clk.advance(time.Minute)
	l.Fail("late")
	if n := len(l.clients); n != 1 {
		t.Fatalf("%d clients kept after the window, want only the new one", n)
	}
}

func TestRetryAfterWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Millisecond:            "1 second",
		1500 * time.Millisecond:     "2 seconds",
		5 * time.Minute:             "5 minutes",
		90 * time.Second:            "90 seconds",
		4*time.Minute + time.Second: "5 minutes",
	} {
		if got := RetryAfterWords(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
