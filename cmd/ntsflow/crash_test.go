package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// engineProcess runs `ntsflow serve` as a child process, as production does.
type engineProcess struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
}

func (e *engineProcess) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.bin, "serve", "--data-dir", e.dir, "--http-addr", e.addr, "--log-format", "json")
	stderr, _ := e.cmd.StderrPipe()
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ntsflow serving") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		e.t.Fatal("the engine did not start")
	}
}

// kill sends SIGKILL: no shutdown, no flush.
func (e *engineProcess) kill() {
	e.cmd.Process.Kill()
	e.cmd.Wait()
}

// Kill -9 under load: four writers send commands with idempotency keys and
// log every acknowledged one; the engine is killed at random points and
// restarted; every unacknowledged command is resent with its key. After:
// every command's events exist exactly once, and every view equals a
// rebuild from zero.
func TestKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "ntsflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	eng := &engineProcess{t: t, bin: bin, dir: t.TempDir(), addr: addr}
	eng.start()
	defer func() { eng.kill() }()
	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}

	// Each writer takes referrals through receipt, three placement searches
	// (each a new event, so a command applied twice would show) and a
	// placement.
	const writers, perWriter = 4, 12
	type acked struct{ key, id string }
	var mu sync.Mutex
	var log []acked
	ids := make([][]string, writers)
	send := func(path, key, body string) (string, bool) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := client.Do(req)
		if err != nil {
			return "", false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 && res.StatusCode != 201 {
			if res.StatusCode < 500 {
				t.Errorf("%s %s: %d %s", path, key, res.StatusCode, b)
			}
			return "", false
		}
		var out struct{ ReferralID string }
		json.Unmarshal(b, &out)
		return out.ReferralID, true
	}
	// resend until acknowledged: a refused connection means the engine is
	// down; the same key makes the resend safe.
	until := func(path, key, body string) string {
		for {
			if id, ok := send(path, key, body); ok {
				mu.Lock()
				log = append(log, acked{key, id})
				mu.Unlock()
				return id
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				k := fmt.Sprintf("w%d-r%d", w, i)
				id := until("/v1/referrals", k+"-receive", fmt.Sprintf(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-%s","receivedAt":"2025-06-02T10:00:00Z"}`, k))
				mu.Lock()
				ids[w] = append(ids[w], id)
				mu.Unlock()
				for s := range 3 {
					until("/v1/referrals/"+id+"/placement-searches", fmt.Sprintf("%s-search%d", k, s), fmt.Sprintf(`{"track":"in-house","offersFound":%d}`, s))
				}
				until("/v1/referrals/"+id+"/placement", k+"-place", `{"placementType":"U1","provider":"p","placedAt":"2025-06-04T10:00:00Z"}`)
			}
		}()
	}
	// Kill it three times at random points, restarting each time.
	kills := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for kills < 3 {
		select {
		case <-done:
			kills = 99
			continue
		case <-time.After(time.Duration(200+rand.IntN(600)) * time.Millisecond):
		}
		eng.kill()
		kills++
		time.Sleep(100 * time.Millisecond)
		eng.start()
	}
	<-done
	t.Logf("%d commands acknowledged across %d kills", len(log), min(kills, 3))

	// Every referral: one receipt, three searches, one placement. Nothing
	// lost, nothing doubled.
	for w := range writers {
		if len(ids[w]) != perWriter {
			t.Fatalf("writer %d: %d referrals", w, len(ids[w]))
		}
		for _, id := range ids[w] {
			res, err := client.Get(base + "/v1/referrals/" + id + "/history")
			if err != nil {
				t.Fatal(err)
			}
			var h struct{ Events []struct{ Type string } }
			json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			n := map[string]int{}
			for _, e := range h.Events {
				n[e.Type]++
			}
			if n["referral.received"] != 1 || n["placement.searched"] != 3 || n["referral.placed"] != 1 {
				t.Errorf("referral %s: %v", id, n)
			}
		}
	}
	// Every view equals a rebuild from zero.
	var st struct{ StreamSequence uint64 }
	st.StreamSequence = waitQuiet(t, base)
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	for _, view := range []string{"/v1/capacity", "/v1/timeliness", "/v1/referrals?limit=500&"} {
		sep := "?"
		if strings.HasSuffix(view, "&") {
			sep = ""
		}
		var live, rebuilt struct{ Result json.RawMessage }
		getJSON(t, fmt.Sprintf("%s%s%sminSequence=%d", base, view, sep, st.StreamSequence), &live)
		getJSON(t, fmt.Sprintf("%s%s%sasOf=%s", base, view, sep, future), &rebuilt)
		if !bytes.Equal(live.Result, rebuilt.Result) {
			t.Errorf("%s: live differs from a rebuild:\n%s\n%s", view, live.Result, rebuilt.Result)
		}
	}
	var verify struct{ Problems []any }
	getJSON(t, base+"/v1/audit/verify", &verify)
	if len(verify.Problems) != 0 {
		t.Errorf("the chain does not verify after the kills: %v", verify.Problems)
	}
}
