package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/auth"
)

// A console session is kept in NATS beside the log: signed in before a
// restart on the same data directory, the same cookie is signed in after
// it, and signing out then ends it. serve counts refused sign-ins.
func TestConsoleSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	tok, entry := auth.NewToken("Ada Auditor", "auditor")
	op, opEntry := auth.NewToken("Oli Operator", "operator")
	b, _ := json.Marshal(auth.File{Tokens: []auth.Entry{entry, opEntry}})
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokens, b, 0o600); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRe := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	page := func(base, path string) (int, string) {
		t.Helper()
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	post := func(base, path string, form url.Values) int {
		t.Helper()
		_, body := page(base, "/console/sign-in")
		m := csrfRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no CSRF token")
		}
		form.Set("csrf", m[1])
		res, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	signedIn := func(base string) bool {
		t.Helper()
		code, body := page(base, "/console/at-risk")
		return code == http.StatusOK && strings.Contains(body, "Signed in as Ada Auditor")
	}

	base, stop := startServe(t, dir, "--tokens", tokens)
	// A mistyped token is refused, logged and counted.
	if code := post(base, "/console/sign-in", url.Values{"token": {tok + "x"}}); code != http.StatusUnauthorized {
		t.Fatalf("sign in with a mistyped token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+op)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `ntsflow_auth_refused_total{reason="unknown_token",surface="console"} 1`; !strings.Contains(string(m), want) {
		t.Fatalf("/metrics lacks %s", want)
	}
	if code := post(base, "/console/sign-in", url.Values{"token": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", code)
	}
	if !signedIn(base) {
		t.Fatal("not signed in")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	base, stop = startServe(t, dir, "--tokens", tokens)
	defer stop()
	// The jar keys cookies by host, not port: the restarted engine's
	// address differs only in its port.
	if !signedIn(base) {
		t.Fatal("signed out by a restart")
	}
	if code := post(base, "/console/sign-out", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}
	if signedIn(base) {
		t.Fatal("still signed in after signing out")
	}
}

// Settings that cannot work stop serve with an error naming the flag.
func TestServeRefusesBadSessionAndProxySettings(t *testing.T) {
	_, entry := auth.NewToken("Ada Auditor", "auditor")
	b, _ := json.Marshal(auth.File{Tokens: []auth.Entry{entry}})
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokens, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--session-idle", "0s"}, "--session-idle"},
		{[]string{"--session-max-age", "-1h"}, "--session-max-age"},
		{[]string{"--tokens", tokens, "--trusted-proxy", "10.0.0.0/8, the load balancer"}, `--trusted-proxy: trusted proxy "the load balancer"`},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cfg := serveFlags(fs)
		if err := fs.Parse(append([]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		err := runServe(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.args, err, c.want)
		}
	}
}
