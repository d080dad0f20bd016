package contracttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	line int // where its first command is
	text string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && l == "```sh":
			cur = &readmeBlock{line: n + 1}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	return blocks
}

// How each README block is treated, by the start of its first line. Every
// block runs: a block this table does not know fails the test, and so does
// a block the table would skip (there is no such mode).
var readmeBlockPlan = []struct {
	starts string
	run    string // "plain": against an engine started as the README's first block starts it; "tokens": with --tokens; "nats": with --nats-listen
	why    string
}{
	{"go run ./cmd/ntsflow serve        # the engine", "plain", "the two commands: serve is the engine this test started; go test is the run this test belongs to (and .ci/run's command)"},
	{"# Receive a referral", "plain", "the walk-through"},
	{"# Refer a child into the scheme", "plain", "the allocation walk-through"},
	{"# The child placed in the walk-through above", "plain", "missing episodes of the walk-through's child"},
	{"# Stockport's team", "plain", "the social worker rota and planning"},
	{"curl -s localhost:8080/v1/capacity ", "plain", "the views"},
	{"go run ./cmd/ntsflow serve --nats-listen", "nats", "the public stream, read by the example consumer as the subscriber user"},
	{"go run ./cmd/ntsflow history", "plain", "the auditors' tools"},
	{"go run ./cmd/ntsflow serve --tokens examples/tokens.json", "tokens", "authentication with the example token file"},
}

// The shell functions the blocks run under. curl records each status (and
// fails on a transport error); `go run ./cmd/ntsflow` runs the built binary,
// pointing the tools at the test's engine with --server (the README relies on
// their default, http://127.0.0.1:8080, which the test does not take, so as
// not to collide with an engine someone runs on this machine); `serve` lines
// are recorded, not run: the test started that engine with the same flags.
// `go test` is the command this test is part of: it is checked to be the
// one .ci/run runs, and recorded. `go run ./examples/...` runs the example,
// built by the test.
const readmePrelude = `set -e -o pipefail
curl() {
  local code
  code=$(command curl -sS -o "$RT_DIR/curl-body" -w '%{http_code}' "$@")
  cat "$RT_DIR/curl-body"
  local args="$*"
  echo "$code curl ${args//$'\n'/ }" >> "$RT_DIR/curl-statuses"
}
go() {
  if [ "$1" = test ]; then
    if [ "$*" != "test -race -count=1 ./..." ] || ! grep -qxF "go $*" "$RT_ROOT/.ci/run"; then echo "README test: go $* is not .ci/run's test command" >&2; return 1; fi
    echo "$*" >> "$RT_DIR/test-lines"; return 0
  fi
  if [ "$1" = run ] && [ "$2" = ./examples/placement-consumer ]; then shift 2; "$RT_CONSUMER" "$@"; return; fi
  if [ "$1" != run ] || [ "$2" != ./cmd/ntsflow ]; then echo "README test: will not run: go $*" >&2; return 1; fi
  shift 2
  case "$1" in
    serve) echo "$*" >> "$RT_DIR/serve-lines"; return 0 ;;
    history|export|verify|replay|rebuild|simulate) local c=$1; shift; "$RT_BIN" "$c" --server "$RT_URL" "$@" ;;
    *) "$RT_BIN" "$@" ;;
  esac
}
`

// TestReadmeCommandsWork runs every one of the README's shell blocks
// against real engines, as a reader would in a second terminal, and fails
// when a documented command no longer works: a non-zero exit, an HTTP
// status that is not 2xx (401 only where the block shows it), a
// walk-through that does not end as the README says, or a block it does
// not run.
func TestReadmeCommandsWork(t *testing.T) {
	blocks := readmeBlocks(t)
	scripts := map[string]string{}
	modes := map[string]bool{"plain": true, "tokens": true, "nats": true}
	for _, b := range blocks {
		first := strings.SplitN(b.text, "\n", 2)[0]
		known := false
		for _, p := range readmeBlockPlan {
			if !strings.HasPrefix(first, p.starts) {
				continue
			}
			known = true
			if !modes[p.run] {
				t.Errorf("README.md:%d would not run (mode %q): every README block must run", b.line, p.run)
				break
			}
			t.Logf("README.md:%d runs (%s engine): %s", b.line, p.run, p.why)
			scripts[p.run] += "echo '### README.md:" + strconv.Itoa(b.line) + "'\n" + b.text
			break
		}
		if !known {
			t.Errorf("README.md:%d: a sh block this test does not know (%q): add it to readmeBlockPlan", b.line, first)
		}
	}
	for want := range modes {
		if scripts[want] == "" {
			t.Fatalf("no README block runs on the %s engine: has the README changed?", want)
		}
	}

	t.Run("plain", func(t *testing.T) {
		e := startEngine(t)
		r := runReadmeScript(t, t.TempDir(), e, scripts["plain"])
		for _, s := range r.statuses {
			if !strings.HasPrefix(s, "2") {
				t.Errorf("a README command was refused: %s", s)
			}
		}
		if len(r.serves) != 1 || r.serves[0] != "serve" {
			t.Errorf("the README starts the engine with %q; this test started it with no flags", r.serves)
		}
		if len(r.tests) != 1 {
			t.Errorf("the README's test command ran %d times, want once: %q", len(r.tests), r.tests)
		}
		// The README says the backdated walk-through ends met, with the breach kept.
		if !strings.Contains(r.out, `"state":"met"`) || !strings.Contains(r.out, "deadline.breached") {
			t.Errorf("the walk-through does not end as the README says (deadline met, breach in the history):\n%s", r.out)
		}
		// And what the first missing-episode command answers.
		if !regexp.MustCompile(`\{"referralId":"[^"]+","version":1,"sequence":\d+,"events":\[\{"id":"[^"]+","type":"missing.reported"\}\]\}`).MatchString(r.out) {
			t.Errorf("the first missing-episode command does not answer as the README shows (version 1, one missing.reported):\n%s", r.out)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		args := []string{"--tokens", "examples/tokens.json", "--deadline-policy", "examples/demo-policy.json"}
		e := startEngine(t, args...)
		r := runReadmeScript(t, t.TempDir(), e, scripts["tokens"])
		for _, s := range r.statuses {
			if !strings.HasPrefix(s, "2") && !strings.HasPrefix(s, "401 curl -s -i "+e.Addr+"/v1/referrals") {
				t.Errorf("a README command was refused: %s", s)
			}
		}
		if want := "serve " + strings.Join(args, " "); len(r.serves) != 1 || r.serves[0] != want {
			t.Errorf("the README starts the engine with %q; this test started it with %q", r.serves, want)
		}
	})
	t.Run("nats", func(t *testing.T) {
		// The README's engine keeps ./data beside the reader; so does this one,
		// in the script's directory, and listens where the README says but on
		// a free port.
		dir := t.TempDir()
		port := freePort(t)
		e := startEngine(t, "--data-dir", filepath.Join(dir, "data"), "--nats-listen", port)
		// A placement for the consumer to find.
		post := func(path, body string) string {
			res, err := http.Post(e.URL+path, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b := readAll(t, res.Body)
			if res.StatusCode >= 300 {
				t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
			}
			var out struct{ ReferralID string }
			json.Unmarshal(b, &out)
			return out.ReferralID
		}
		id := post("/v1/referrals", `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-N1","receivedAt":"2025-06-02T10:00:00Z"}`)
		post("/v1/referrals/"+id+"/placement", `{"placementType":"U4","provider":"P","placedAt":"2025-06-05T15:00:00Z"}`)
		r := runReadmeScript(t, dir, e, strings.ReplaceAll(scripts["nats"], "127.0.0.1:4222", port))
		if want := "serve --nats-listen " + port; len(r.serves) != 1 || r.serves[0] != want {
			t.Errorf("the README starts the engine with %q; this test started it with %q", r.serves, want)
		}
		if !strings.Contains(r.out, id) || !strings.Contains(r.out, "handled=1") {
			t.Errorf("the example consumer did not take the placement of %s, and only it:\n%s", id, r.out)
		}
	})
}

// freePort is a loopback host:port nobody listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// readmeRun is what a script did: its output, the HTTP statuses its curl
// calls got, and the serve and go test lines it meant to run.
type readmeRun struct {
	out                     string
	statuses, serves, tests []string
}

// runReadmeScript runs blocks under readmePrelude in dir, against e.
func runReadmeScript(t *testing.T, dir string, e *engine, blocks string) readmeRun {
	t.Helper()
	script := readmePrelude + strings.ReplaceAll(blocks, "localhost:8080", e.Addr)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RT_DIR="+dir, "RT_BIN="+binary, "RT_CONSUMER="+consumerBinary(t), "RT_ROOT="+repoRoot, "RT_URL="+e.URL, "NTSFLOW_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README commands failed: %v\n%s", err, out)
	}
	return readmeRun{string(out), lines(t, filepath.Join(dir, "curl-statuses")), lines(t, filepath.Join(dir, "serve-lines")), lines(t, filepath.Join(dir, "test-lines"))}
}

var consumerOnce struct {
	sync.Once
	path string
	err  error
}

// consumerBinary builds examples/placement-consumer once.
func consumerBinary(t *testing.T) string {
	consumerOnce.Do(func() {
		consumerOnce.path = filepath.Join(filepath.Dir(binary), "placement-consumer")
		build := exec.Command("go", "build", "-o", consumerOnce.path, "./examples/placement-consumer")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			consumerOnce.err = fmt.Errorf("go build ./examples/placement-consumer: %v\n%s", err, out)
		}
	})
	if consumerOnce.err != nil {
		t.Fatal(consumerOnce.err)
	}
	return consumerOnce.path
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
