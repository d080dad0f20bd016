package console_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// A fresh machine with chromium but without axe-core (the README asks for
// neither) must skip the browser suite with a reason, not fail it.
func TestBrowserToolsSayWhatIsMissing(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	onPath := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, m := range names {
				if m == n {
					return "/usr/bin/" + n, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	noFiles := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	axeFile := func(p string) ([]byte, error) {
		if strings.HasSuffix(p, "axe.min.js") {
			return []byte("/* axe */"), nil
		}
		return nil, fs.ErrNotExist
	}
	for _, c := range []struct {
		name     string
		getenv   func(string) string
		lookPath func(string) (string, error)
		readFile func(string) ([]byte, error)
		missing  string // a word the reason must carry; "" for none
		chromium string
	}{
		{"nothing", env(nil), onPath(), noFiles, "chromium", ""},
		{"chromium without axe-core", env(nil), onPath("chromium"), noFiles, "npm install --prefix .tools axe-core@", "/usr/bin/chromium"},
		{"both", env(nil), onPath("chromium-browser"), axeFile, "", "/usr/bin/chromium-browser"},
		{"both named by the environment", env(map[string]string{"NTSFLOW_CHROMIUM": "/opt/c", "NTSFLOW_AXE": "/opt/axe.min.js"}), onPath(), axeFile, "", "/opt/c"},
	} {
		tools, missing := findBrowserTools(c.getenv, c.lookPath, c.readFile)
		if c.missing == "" && (missing != "" || tools.axe == "") || c.missing != "" && !strings.Contains(missing, c.missing) {
			t.Errorf("%s: missing %q, want it to name %q", c.name, missing, c.missing)
		}
		if tools.chromium != c.chromium {
			t.Errorf("%s: chromium %q, want %q", c.name, tools.chromium, c.chromium)
		}
	}
}
