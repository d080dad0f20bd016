package contracttest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// How each README block is treated, by the start of its first line. A block
// this table does not know fails the test: decide for it here.
var readmeBlockPlan = []struct {
	starts string
	run    string // "plain": against an engine started as the README's first block starts it; "tokens": with --tokens; "" skipped
	why    string
}{
	{"go run ./cmd/ntsflow serve        # the engine", "", "starts the engine in the foreground and runs the whole test suite, this test included; the other blocks run against the same `serve`"},
	{"# Receive a referral", "plain", "the walk-through"},
	{"# Refer a child into the scheme", "plain", "the allocation walk-through"},
	{"# Stockport's team", "plain", "the social worker rota and planning"},
	{"curl -s localhost:8080/v1/capacity ", "plain", "the views"},
	{"go run ./cmd/ntsflow serve --nats-listen", "", "needs the nats CLI (natscli) and jq, which the test machine need not have"},
	{"go run ./cmd/ntsflow history", "plain", "the auditors' tools"},
	{"curl -s -XPOST $NTS/v1/referrals/$ID/missing-episodes", "", "needs a placed referral ($ID) of the caller's authority; TestEveryOperationsExampleMatchesTheContract sends each of these examples to a real engine"},
	{"go run ./cmd/ntsflow serve --tokens examples/tokens.json", "tokens", "authentication with the example token file"},
}

// The shell functions the blocks run under. curl records each status (and
// fails on a transport error); `go run ./cmd/ntsflow` runs the built binary,
// pointing the tools at the test's engine with --server (the README relies on
// their default, http://127.0.0.1:8080, which the test does not take, so as
// not to collide with an engine someone runs on this machine); `serve` lines
// are recorded, not run: the test started that engine with the same flags.
const readmePrelude = `set -e -o pipefail
curl() {
  local code
  code=$(command curl -sS -o "$RT_DIR/curl-body" -w '%{http_code}' "$@")
  cat "$RT_DIR/curl-body"
  local args="$*"
  echo "$code curl ${args//$'\n'/ }" >> "$RT_DIR/curl-statuses"
}
go() {
  if [ "$1" != run ] || [ "$2" != ./cmd/ntsflow ]; then echo "README test: will not run: go $*" >&2; return 1; fi
  shift 2
  case "$1" in
    serve) echo "$*" >> "$RT_DIR/serve-lines"; return 0 ;;
    history|export|verify|replay|rebuild|simulate) local c=$1; shift; "$RT_BIN" "$c" --server "$RT_URL" "$@" ;;
    *) "$RT_BIN" "$@" ;;
  esac
}
`

// TestReadmeCommandsWork runs the README's shell blocks against real
// engines, as a reader would in a second terminal, and fails when a
// documented command no longer works: a non-zero exit, an HTTP status that
// is not 2xx (401 only where the block shows it), or a walk-through that
// does not end as the README says. Blocks that need Docker or the nats CLI
// are skipped, named in the log.
func TestReadmeCommandsWork(t *testing.T) {
	blocks := readmeBlocks(t)
	scripts := map[string]string{}
	for _, b := range blocks {
		first := strings.SplitN(b.text, "\n", 2)[0]
		known := false
		for _, p := range readmeBlockPlan {
			if !strings.HasPrefix(first, p.starts) {
				continue
			}
			known = true
			if p.run == "" {
				t.Logf("README.md:%d skipped: %s", b.line, p.why)
			} else {
				t.Logf("README.md:%d runs (%s engine): %s", b.line, p.run, p.why)
				scripts[p.run] += "echo '### README.md:" + strconv.Itoa(b.line) + "'\n" + b.text
			}
			break
		}
		if !known {
			t.Errorf("README.md:%d: a sh block this test does not know (%q): add it to readmeBlockPlan", b.line, first)
		}
	}
	for _, want := range []string{"plain", "tokens"} {
		if scripts[want] == "" {
			t.Fatalf("no README block runs on the %s engine: has the README changed?", want)
		}
	}

	t.Run("plain", func(t *testing.T) {
		e := startEngine(t)
		out, statuses, serves := runReadmeScript(t, e, scripts["plain"])
		for _, s := range statuses {
			if !strings.HasPrefix(s, "2") {
				t.Errorf("a README command was refused: %s", s)
			}
		}
		if len(serves) != 0 {
			t.Errorf("unexpected serve lines: %q", serves)
		}
		// The README says the backdated walk-through ends met, with the breach kept.
		if !strings.Contains(out, `"state":"met"`) || !strings.Contains(out, "deadline.breached") {
			t.Errorf("the walk-through does not end as the README says (deadline met, breach in the history):\n%s", out)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		args := []string{"--tokens", "examples/tokens.json", "--deadline-policy", "examples/demo-policy.json"}
		e := startEngine(t, args...)
		_, statuses, serves := runReadmeScript(t, e, scripts["tokens"])
		for _, s := range statuses {
			if !strings.HasPrefix(s, "2") && !strings.HasPrefix(s, "401 curl -s -i "+e.Addr+"/v1/referrals") {
				t.Errorf("a README command was refused: %s", s)
			}
		}
		if want := "serve " + strings.Join(args, " "); len(serves) != 1 || serves[0] != want {
			t.Errorf("the README starts the engine with %q; this test started it with %q", serves, want)
		}
	})
}

// runReadmeScript runs blocks under readmePrelude in a fresh directory,
// against e, and returns their output, the HTTP statuses their curl calls
// got and the serve lines they meant to run.
func runReadmeScript(t *testing.T, e *engine, blocks string) (string, []string, []string) {
	t.Helper()
	dir := t.TempDir()
	script := readmePrelude + strings.ReplaceAll(blocks, "localhost:8080", e.Addr)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RT_DIR="+dir, "RT_BIN="+binary, "RT_URL="+e.URL, "NTSFLOW_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README commands failed: %v\n%s", err, out)
	}
	return string(out), lines(t, filepath.Join(dir, "curl-statuses")), lines(t, filepath.Join(dir, "serve-lines"))
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
