package app_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/wiring"
)

// Kill -9 in the middle of a rectification leaves nothing half done. A
// child process (this test binary) opens a durable embedded store on a
// data directory, and corrects a child's nationality through the use case;
// its engine's store stops at a chosen point of the append (before the
// commit is sent, or after the server acknowledged it but before the use
// case returns), says so in a file, and waits there to be killed. The
// parent kills it with SIGKILL, opens the directory again and checks: the
// correction is there whole or not at all, the chain verifies, and the
// retried correction (same idempotency key) lands exactly once.

const (
	killDirEnv   = "NTSFLOW_RECTIFY_KILL_DIR"
	killPointEnv = "NTSFLOW_RECTIFY_KILL_POINT"
	killKey      = "correct-nationality-1"
)

var correction = aggregates.CorrectChildDetail{Field: aggregates.FieldNationality, NewValue: "Eritrean", Reason: "the child's documents"}

func killNode(t *testing.T, dir string) (context.Context, *storetest.Node, *wiring.Node, []byte) {
	t.Helper()
	return nodeOn(t, storetest.Options{Dir: dir, Durable: true})
}

// nodeOn is production's node (wiring.Build, no views served) on an
// embedded server started with o, with its chain key.
func nodeOn(t *testing.T, o storetest.Options) (context.Context, *storetest.Node, *wiring.Node, []byte) {
	t.Helper()
	sn := storetest.Start(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	key, err := sn.Store.ChainKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := wiring.Build(wiring.Config{Store: sn.Store, Log: slog.New(slog.DiscardHandler), ChainKey: key, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, sn, n, key
}

func TestKillNineInTheMiddleOfARectification(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test: not in -short")
	}
	for _, point := range []string{"before-append", "after-append"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			ctx, sn, n, _ := killNode(t, dir)
			u := app.Referrals{Engine: n.Engine, Authorities: refdata.Default(), Reads: n.Reads}
			id := receiveChild(t, ctx, u, "kill-"+point)
			sn.Stop()

			reached := filepath.Join(dir, "reached")
			cmd := exec.Command(os.Args[0], "-test.run=^TestRectificationToBeKilled$", "-test.count=1")
			cmd.Env = append(os.Environ(), killDirEnv+"="+dir, killPointEnv+"="+point, "NTSFLOW_RECTIFY_REFERRAL="+id)
			out, _ := os.Create(filepath.Join(t.TempDir(), "child.log"))
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if !storetest.WaitFor(60*time.Second, func() bool { _, err := os.Stat(reached); return err == nil }) {
				cmd.Process.Kill()
				cmd.Wait()
				log, _ := os.ReadFile(out.Name())
				t.Fatalf("the child never reached %s:\n%s", point, log)
			}
			cmd.Process.Kill() // SIGKILL: no shutdown, no flush
			cmd.Wait()

			ctx, _, n, key := killNode(t, dir)
			ref, stored, err := n.Engine.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			corrections := count(stored, events.TypeChildDetailCorrected)
			switch point {
			case "before-append":
				if corrections != 0 || ref.Nationality != "Sudanese" || ref.Corrections != 0 {
					t.Errorf("killed before the append: %d corrections, nationality %q", corrections, ref.Nationality)
				}
			case "after-append":
				if corrections != 1 || ref.Nationality != "Eritrean" || ref.Corrections != 1 {
					t.Errorf("killed after the append: %d corrections, nationality %q", corrections, ref.Nationality)
				}
			}
			rep, err := audit.Verify(ctx, n.Store, key, nil)
			if err != nil || !rep.OK() {
				t.Fatalf("verify after the kill: %v %+v", err, rep.Problems)
			}

			// The caller never heard back: it retries with its key.
			u = app.Referrals{Engine: n.Engine, Authorities: refdata.Default(), Reads: n.Reads}
			res, err := u.Correct(ctx, stockportSP, id, correction, engine.Meta{Actor: "Stockport placements", IdempotencyKey: killKey})
			if err != nil {
				t.Fatalf("the retried correction: %v", err)
			}
			if res.Replayed != (point == "after-append") {
				t.Errorf("the retry replayed %v; the first attempt reached the log: %v", res.Replayed, point == "after-append")
			}
			ref, stored, _ = n.Engine.Load(ctx, id)
			if count(stored, events.TypeChildDetailCorrected) != 1 || ref.Nationality != "Eritrean" {
				t.Errorf("after the retry: %d corrections, nationality %q", count(stored, events.TypeChildDetailCorrected), ref.Nationality)
			}
		})
	}
}

func count(stored []eventstore.Stored, typ string) int {
	n := 0
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			if e.Type == typ {
				n++
			}
		}
	}
	return n
}

// TestRectificationToBeKilled is the child process of the test above; on
// its own it skips.
func TestRectificationToBeKilled(t *testing.T) {
	dir, point := os.Getenv(killDirEnv), os.Getenv(killPointEnv)
	if dir == "" {
		t.Skip("the child process of TestKillNineInTheMiddleOfARectification")
	}
	ctx, _, n, _ := killNode(t, dir)
	n.Engine.Store = &stopAt{Store: n.Engine.Store, point: point, reached: filepath.Join(dir, "reached")}
	u := app.Referrals{Engine: n.Engine, Authorities: refdata.Default(), Reads: n.Reads}
	_, err := u.Correct(ctx, stockportSP, os.Getenv("NTSFLOW_RECTIFY_REFERRAL"), correction, engine.Meta{Actor: "Stockport placements", IdempotencyKey: killKey})
	t.Fatalf("the correction returned (%v): it should have been killed at %s", err, point)
}

// stopAt is the store with a stop in its append, where the parent kills.
type stopAt struct {
	engine.Store
	point, reached string
}

func (s *stopAt) Append(ctx context.Context, subject string, expected uint64, msgID string, c events.Commit) (eventstore.Appended, error) {
	if s.point == "before-append" {
		s.wait()
	}
	a, err := s.Store.Append(ctx, subject, expected, msgID, c)
	if err != nil {
		return a, err
	}
	s.wait()
	return a, errors.New("unreachable: killed at the stop")
}

// wait says the stop is reached and waits for the kill.
func (s *stopAt) wait() {
	os.WriteFile(s.reached, []byte(s.point), 0o644)
	select {}
}
