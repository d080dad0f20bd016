package console_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// visitor is a cookie-keeping client that never follows a redirect and
// does not parse Location (Go's client refuses one holding a control
// character, which is exactly what a browser must not be sent): a test sees
// each Location as the console wrote it.
type visitor struct {
	t    *testing.T
	base string
	jar  http.CookieJar
}

func newVisitor(t *testing.T, base string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, base: base, jar: jar}
}

func (b *visitor) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.jar.SetCookies(req.URL, res.Cookies())
	return res, readBody(b.t, res)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf opens a form (the sign-in page's, or with sign-in off the receive
// form's) and reads its CSRF token.
func (b *visitor) csrf() string {
	b.t.Helper()
	_, page := b.get("/console/sign-in")
	if !csrfRe.MatchString(page) {
		_, page = b.get("/console/referrals/new")
	}
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatal("no CSRF token on the sign-in form")
	}
	return m[1]
}

func (b *visitor) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *visitor) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// signIn sends the sign-in form with token and next.
func (b *visitor) signIn(token, next string) *http.Response {
	b.t.Helper()
	res, _ := b.post("/console/sign-in", url.Values{"token": {token}, "csrf": {b.csrf()}, "next": {next}})
	return res
}

// browserResolve follows a Location as a browser does (the WHATWG URL
// parser): it drops every tab, newline and carriage return, trims leading
// and trailing C0 controls and spaces, and reads a backslash as a slash in
// a special scheme's URL; then it resolves the result against the page.
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, loc)
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(u), nil
}

// After signing in, the console goes back to the page asked for, and only
// to a page of its own: every 'next' a visitor would follow off-site, once
// it has normalised the Location as browsers do, sends the caller to the
// at-risk page instead. The same holds for the next kept in the sign-in
// form, and with sign-in off.
func TestSignInNextStaysOnSite(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	base, _ := url.Parse(r.base + "/console/sign-in")
	hostile := []string{
		"//evil.example",
		"//evil.example/",
		"///evil.example",
		"/\\evil.example",
		"\\\\evil.example",
		"\\/evil.example",
		"/\t/evil.example", // the next=/%09/evil.example, once the form is decoded
		"/\n/evil.example",
		"/\r/evil.example",
		"\t//evil.example",
		" //evil.example",
		"/\x00/evil.example",
		"/\x0b/evil.example",
		"/\x7f/evil.example",
		"https://evil.example",
		"https:evil.example",
		"http:/evil.example",
		"javascript:alert(1)",
		"evil.example",
		"/\u3000/evil.example",
		"/\uff0fevil.example",
		"/.//evil.example",
		"",
	}
	const home = "/console/at-risk"
	for _, next := range hostile {
		b := newVisitor(t, r.base)
		res := b.signIn(r.tokens["auditor"], next)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("next=%q: status %d, want 303", next, res.StatusCode)
			continue
		}
		u, err := browserResolve(base, loc)
		if err != nil || u.Host != base.Host || u.Scheme != base.Scheme {
			t.Errorf("next=%q: Location %q leaves the site (a browser goes to %v)", next, loc, u)
			continue
		}
		// A value that is not a plain path of ours goes to the home page.
		if next != "/.//evil.example" && loc != home {
			t.Errorf("next=%q: Location %q, want %q", next, loc, home)
		}
		// The sign-in form keeps only a safe next.
		_, page := b.get("/console/sign-in?next=" + url.QueryEscape(next))
		m := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("next=%q: the sign-in form has no next field", next)
		}
		kept := strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(m[1])
		if u, err := browserResolve(base, kept); err != nil || u.Host != base.Host {
			t.Errorf("next=%q: the sign-in form keeps %q, which leaves the site", next, kept)
		}
	}

	// The console's own pages, with their queries, are kept.
	for _, next := range []string{"/console/audit", "/console/capacity?region=North+West", "/console/referrals/abc-1?x=%2F%2Fy", "/"} {
		b := newVisitor(t, r.base)
		if res := b.signIn(r.tokens["auditor"], next); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != next {
			t.Errorf("next=%q: %d %q", next, res.StatusCode, res.Header.Get("Location"))
		}
	}

	// With sign-in off, the form's next is held to the same rule.
	open := newRig(t, false)
	b := newVisitor(t, open.base)
	res, _ := b.post("/console/sign-in", url.Values{"csrf": {b.csrf()}, "next": {"/\t/evil.example"}})
	if loc := res.Header.Get("Location"); loc != home {
		t.Errorf("sign-in off, next with a tab: Location %q", loc)
	}
}
