package storetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes for the test and returns its path:
// the only way to give a store a disk that really fills. It skips the
// test, saying why, where the machine does not allow it (not root, or no
// mount in this container). The mount is removed when the test ends,
// after whatever the test started on it afterwards has stopped.
func Tmpfs(t testing.TB, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: filling a real disk needs a small tmpfs, and mounting one needs root (CI runs as root)")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("skipped: mount -t tmpfs failed here (%v: %s); the full-disk behaviour is then untested on this machine", err, strings.TrimSpace(string(out)))
	}
	// Registered before the test starts anything on it, so it runs last.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; detaching it lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// Fill writes a file in dir until its disk has no space left, and returns
// the file's path: remove it to give the space back.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Halving the writes on each refusal takes the last pages too.
	for size := 64 << 10; size >= 512; size /= 2 {
		buf := make([]byte, size)
		for {
			_, err := f.Write(buf)
			if err == nil {
				continue
			}
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	return path
}
