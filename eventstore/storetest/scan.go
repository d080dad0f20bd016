package storetest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FilesHolding scans every file under dir, byte for byte, and returns, for
// each of what found anywhere, the files that hold it: how a test shows
// that something erased is in no file a server left (issue 24).
func FilesHolding(t testing.TB, dir string, what ...[]byte) map[string][]string {
	t.Helper()
	hits := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, w := range what {
			if bytes.Contains(b, w) {
				hits[string(w)] = append(hits[string(w)], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}
