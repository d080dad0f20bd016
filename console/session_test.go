package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/console"
)

// clock is a console clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sessionCookie is the visitor's session cookie's value.
func (b *visitor) sessionCookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "ntsflow_session" {
			return c.Value
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

// withCookie is a new visitor presenting only the given session cookie, as
// someone who copied it would.
func withCookie(t *testing.T, base, value string) *visitor {
	v := newVisitor(t, base)
	u, _ := url.Parse(base)
	v.jar.SetCookies(u, []*http.Cookie{{Name: "ntsflow_session", Value: value, Path: "/"}})
	return v
}

// signedIn reports whether the visitor is let into a page that needs
// signing in (rather than sent to sign in).
func (b *visitor) signedIn() bool {
	b.t.Helper()
	res, body := b.get("/console/at-risk")
	switch {
	case res.StatusCode == http.StatusOK && strings.Contains(body, "Signed in as"):
		return true
	case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/console/sign-in"):
		return false
	}
	b.t.Fatalf("GET /console/at-risk: %d %s", res.StatusCode, res.Header.Get("Location"))
	return false
}

func (b *visitor) signOut() {
	b.t.Helper()
	_, page := b.get("/console/at-risk")
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatal("no CSRF token on the page")
	}
	if res, _ := b.post("/console/sign-out", url.Values{"csrf": {m[1]}}); res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign out: %d", res.StatusCode)
	}
}

// Signing out ends the session on the server: the cookie it had, presented
// again, is signed out. The cookie holds only a random id, never the token.
func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	b := newVisitor(t, r.base)
	if res := b.signIn(r.tokens["auditor"], "/console/audit"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", res.StatusCode)
	}
	old := b.sessionCookie()
	if strings.Contains(old, r.tokens["auditor"]) || strings.Contains(old, strings.TrimPrefix(r.tokens["auditor"], "ntsf_")) || len(old) != 32 {
		t.Fatalf("the session cookie %q carries more than a session id", old)
	}
	if !withCookie(t, r.base, old).signedIn() {
		t.Fatal("the session cookie does not sign its holder in")
	}
	b.signOut()
	if b.signedIn() {
		t.Fatal("still signed in after signing out")
	}
	if withCookie(t, r.base, old).signedIn() {
		t.Fatal("the cookie of a session signed out still signs its holder in")
	}
	// A cookie in the earlier form, an id and the bearer token, is not a
	// session.
	if withCookie(t, r.base, strings.Repeat("a", 32)+"~"+r.tokens["auditor"]).signedIn() {
		t.Fatal("a cookie carrying a bearer token signs its holder in")
	}
}

// A session ends after DefaultSessionIdle unused, and DefaultSessionMaxAge
// after signing in however much it is used.
func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	clk := newClock()
	r := newRigWith(t, rigOptions{signIn: true, now: clk.now})
	idle, maxAge := console.DefaultSessionIdle, console.DefaultSessionMaxAge

	b := newVisitor(t, r.base)
	b.signIn(r.tokens["auditor"], "")
	clk.advance(idle - time.Minute)
	if !b.signedIn() {
		t.Fatal("signed out before the idle time")
	}
	// Used just now, so another idle time nearly over keeps it.
	clk.advance(idle - time.Minute)
	if !b.signedIn() {
		t.Fatal("signed out though used within the idle time")
	}
	clk.advance(idle)
	if b.signedIn() {
		t.Fatalf("still signed in after %v unused", idle)
	}

	b = newVisitor(t, r.base)
	b.signIn(r.tokens["auditor"], "")
	started := clk.now()
	for clk.now().Sub(started)+idle/2 < maxAge {
		clk.advance(idle / 2)
		if !b.signedIn() {
			t.Fatalf("a session in use signed out %v after signing in", clk.now().Sub(started))
		}
	}
	clk.advance(maxAge - clk.now().Sub(started))
	if b.signedIn() {
		t.Fatalf("a session in use still signed in %v after signing in", clk.now().Sub(started))
	}
}

// Revoking a token (removing it from the token file) ends every session
// signed in with it, and only those.
func TestRevokingATokenEndsItsSessions(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	var auditors, others []*visitor
	for range 2 {
		a, o := newVisitor(t, r.base), newVisitor(t, r.base)
		a.signIn(r.tokens["auditor"], "")
		o.signIn(r.tokens["region:North West"], "")
		auditors, others = append(auditors, a), append(others, o)
	}
	for _, v := range append(auditors, others...) {
		if !v.signedIn() {
			t.Fatal("not signed in")
		}
	}

	var f auth.File
	b, err := os.ReadFile(r.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	all := f.Tokens
	revoked := auth.TokenHash(r.tokens["auditor"])
	var kept []auth.Entry
	for _, e := range all {
		if e.SHA256 != revoked {
			kept = append(kept, e)
		}
	}
	write := func(entries []auth.Entry, inForce bool) {
		t.Helper()
		b, _ := json.Marshal(auth.File{Tokens: entries})
		// Written aside and renamed, as an operator's tool should, so the
		// watcher never reads half a file.
		tmp := filepath.Join(filepath.Dir(r.tokenFile), "tokens.json.new")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, r.tokenFile); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the token file reloaded", 10*time.Second, func() bool {
			_, ok := r.auth.Lookup(r.tokens["auditor"])
			return ok == inForce
		})
	}
	write(kept, false)
	for i, v := range auditors {
		if v.signedIn() {
			t.Errorf("auditor's session %d still signed in after its token was revoked", i)
		}
	}
	for i, v := range others {
		if !v.signedIn() {
			t.Errorf("another token's session %d signed out", i)
		}
	}

	// A session not used while its token was out of the file stays ended
	// when the token is put back; signing in again works.
	write(all, true)
	idle := newVisitor(t, r.base)
	idle.signIn(r.tokens["auditor"], "")
	write(kept, false)
	write(all, true)
	if idle.signedIn() {
		t.Error("a session signed in before its token was revoked came back with the token")
	}
	again := newVisitor(t, r.base)
	again.signIn(r.tokens["auditor"], "")
	if !again.signedIn() {
		t.Error("signing in with the token put back does not work")
	}
}

// Unknown tokens at sign-in are counted per client: past the limit every
// sign-in from it, even with a good token, is answered 429 with
// Retry-After, until the window has passed.
func TestSignInIsThrottled(t *testing.T) {
	t.Parallel()
	clk := newClock()
	r := newRigWith(t, rigOptions{signIn: true, now: clk.now})
	b := newVisitor(t, r.base)
	for i := range auth.DefaultMaxFailures {
		if res := b.signIn("ntsf_guess"+strconv.Itoa(i), ""); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unknown token %d: %d", i+1, res.StatusCode)
		}
	}
	check := func(what string) {
		t.Helper()
		res, body := b.post("/console/sign-in", url.Values{"token": {r.tokens["auditor"]}, "csrf": {b.csrf()}})
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || err != nil || ra < 1 || ra > int(auth.DefaultFailWindow/time.Second) {
			t.Fatalf("%s: %d, Retry-After %q", what, res.StatusCode, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, "signing in from it is paused") {
			t.Fatalf("%s: the page does not say why", what)
		}
	}
	check("a good token past the limit")
	// Another client is not held back.
	if _, err := r.auth.Authenticate("192.0.2.1", r.tokens["auditor"]); err != nil {
		t.Fatalf("another client: %v", err)
	}
	clk.advance(auth.DefaultFailWindow - time.Second)
	check("a second before the window has passed")
	clk.advance(time.Second)
	if res := b.signIn(r.tokens["auditor"], "/console/audit"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", res.StatusCode)
	}
}
