package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A saga's Rule reads its policy from the file an operator names, or ships
// its own when none is named, and names the saga's policy in the errors.
func TestARuleReadsTheNamedFileOrTheShippedPolicy(t *testing.T) {
	r := Rule[rule]{What: "test policy", Shipped: []byte(`{"version":"shipped","days":5}`), Check: check}
	if p, err := r.FileOr(""); err != nil || p.Version != "shipped" || r.Default() != p {
		t.Fatalf("no file named: %+v %v", p, err)
	}
	path := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(path, []byte(`{"version":"operator","days":10}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := r.FileOr(path); err != nil || p.Version != "operator" || p.Days != 10 {
		t.Fatalf("the operator's file: %+v %v", p, err)
	}
	if _, err := r.FileOr(path + ".missing"); err == nil || !strings.HasPrefix(err.Error(), "test policy: ") {
		t.Fatalf("a missing file: %v", err)
	}
	if p, err := r.Parse([]byte(`{"version":"v","days":0}`)); err == nil || p != (rule{}) {
		t.Fatalf("an unusable policy was accepted: %+v", p)
	}
}
