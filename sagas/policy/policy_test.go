package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type rule struct {
	Version string `json:"version"`
	Days    int    `json:"days"`
}

func check(r rule) error {
	if r.Version == "" || r.Days <= 0 {
		return errors.New("a rule has a version and positive days")
	}
	return nil
}

func TestReadingPolicies(t *testing.T) {
	if r, err := Parse([]byte(`{"version":"v1","days":5}`), check); err != nil || r.Days != 5 {
		t.Fatalf("good: %+v %v", r, err)
	}
	for name, b := range map[string]string{
		"a misspelt field": `{"version":"v1","dayz":5}`,
		"not usable":       `{"version":"v1","days":0}`,
		"not JSON":         `days: 5`,
	} {
		if r, err := Parse([]byte(b), check); err == nil || r != (rule{}) {
			t.Errorf("%s: accepted %+v", name, r)
		}
	}
	path := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(path, []byte(`{"version":"v1"}`), 0o600)
	if _, err := Load(path, "test policy", check); err == nil || !strings.Contains(err.Error(), "test policy "+path) {
		t.Fatalf("a bad file is named: %v", err)
	}
	if _, err := Load(path+".missing", "test policy", check); err == nil {
		t.Fatal("a missing file was read")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a bad shipped policy did not stop the build")
		}
	}()
	Shipped([]byte(`{}`), "test", check)
}
