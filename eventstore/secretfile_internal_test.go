package eventstore

import (
	"os"
	"path/filepath"
	"testing"
)

// A secret is written whole into a new file only its owner may read, in a
// private directory; one already there is never overwritten.
func TestANewSecretIsWrittenOnceAndPrivately(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret")
	created, err := writeNewSecret("test secret", path, []byte("first\n"))
	if err != nil || !created {
		t.Fatalf("new: %v %v", created, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	created, err = writeNewSecret("test secret", path, []byte("second\n"))
	if err != nil || created {
		t.Fatalf("again: %v %v", created, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first\n" {
		t.Fatalf("the secret there was overwritten: %q", b)
	}
	if _, err := writeNewSecret("test secret", filepath.Join(path, "under-a-file"), nil); err == nil {
		t.Fatal("a secret under a file was written")
	}
}
