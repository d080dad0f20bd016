// Package contracttest checks the engine from the outside, as a partner
// service or a reader of the README would: it builds the real binary, starts
// `ntsflow serve` on loopback with an empty data directory, and talks to it
// over HTTP. It imports nothing of ours, so it keeps working while the
// internal Go APIs change.
package contracttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the ntsflow binary TestMain builds once for every test here.
var binary string

// repoRoot is the repository's top directory (this package's parent).
var repoRoot, _ = filepath.Abs("..")

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ntsflow-contracttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ntsflow")
	build := exec.Command("go", "build", "-o", binary, "./cmd/ntsflow")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/ntsflow: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine is a running `ntsflow serve`.
type engine struct {
	URL  string // e.g. http://127.0.0.1:40123
	Addr string // e.g. 127.0.0.1:40123

	mu  sync.Mutex
	log []string
}

// logTail is the engine's last log lines, for failure messages.
func (e *engine) logTail(n int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	from := max(0, len(e.log)-n)
	return strings.Join(e.log[from:], "\n")
}

// startEngine runs `ntsflow serve` from the repository's top directory (so
// paths such as examples/tokens.json resolve as in the README) on a port the
// kernel picks, and waits for it to say where it serves. It is stopped with
// SIGTERM when the test ends.
func startEngine(t *testing.T, args ...string) *engine {
	t.Helper()
	all := append([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(binary, all...)
	cmd.Dir = repoRoot
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &engine{}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			e.mu.Lock()
			e.log = append(e.log, line)
			e.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "ntsflow serving" {
				addr <- rec.HTTP
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-done; exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("ntsflow serve did not stop within 30 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("engine log (last lines):\n%s", e.logTail(30))
		}
	})
	select {
	case u := <-addr:
		e.URL, e.Addr = u, strings.TrimPrefix(u, "http://")
		return e
	case err := <-exited:
		t.Fatalf("ntsflow %s exited before serving: %v\n%s", strings.Join(all, " "), err, e.logTail(30))
	case <-time.After(60 * time.Second):
		t.Fatalf("ntsflow serve did not start within 60 s\n%s", e.logTail(30))
	}
	return nil
}

// readAll reads and closes a body.
func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
