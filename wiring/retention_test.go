package wiring_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/wiring"
)

// waitDisposed waits for the child's key to be destroyed and returns the
// disposals on their record.
func waitDisposed(ctx context.Context, t *testing.T, st *eventstore.Store, id string) []events.RecordDisposed {
	t.Helper()
	if !storetest.WaitFor(30*time.Second, func() bool {
		gone, err := st.KeyDestroyed(ctx, id)
		return err == nil && gone
	}) {
		t.Fatalf("the key of %s was never destroyed", id)
	}
	rec, err := st.Load(ctx, events.RecordSubject(id))
	if err != nil {
		t.Fatal(err)
	}
	var out []events.RecordDisposed
	for _, c := range rec {
		for _, e := range c.Commit.Events {
			if d, ok := e.Data.(events.RecordDisposed); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// shortPolicy keeps a record of a child never looked after until the 18th
// birthday and not a day after closing: the shipped periods are decades,
// a test cannot wait for them, and what is tested is the disposal, not
// the length (the periods are tested in sagas/retention).
func shortPolicy(t *testing.T) *retention.Policy {
	p := retention.DefaultPolicy()
	p.Version = "retention-test"
	p.NeverLookedAfter.UntilBirthday, p.NeverLookedAfter.YearsAfterClosing = 18, 0
	return &p
}

// Issue 24's test: dispose of a child. Their child reference, date of
// birth and free text appear nowhere under the data directory, byte for
// byte; verify passes; the views' totals are unchanged; reads give each
// personal field as disposed of; the disposal is recorded once with no
// personal data.
func TestDisposalLeavesNoPersonalDataOnDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Durable: true})
	key := bytes.Repeat([]byte{7}, 32)
	// The engine's clock: a month ago while the referral is recorded,
	// then now.
	var clock atomic.Pointer[time.Time]
	monthAgo := time.Now().AddDate(0, -1, 0).UTC()
	clock.Store(&monthAgo)
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: key, Retention: shortPolicy(t),
		Now: func() time.Time { return *clock.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { node.Run(runCtx, wiring.Views); done <- struct{}{} }()

	// 17 when referred a month ago; 18 five days ago.
	dob := calendar.DateOf(time.Now().AddDate(-18, 0, -5)).String()
	const (
		childRef = "UASC-SCAN-77310"
		need     = "needs an inhaler kept by Mrs Oduya"
		detail   = "reunited with an uncle at 14 Larch Road, Stockport"
		hotel    = "hotel-scan-4471"
	)
	meta := engine.Meta{Actor: "test"}
	recv := aggregates.ReceiveReferral{ReferralID: "r-gone", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: hotel,
		ChildReference: childRef, DateOfBirth: dob, Needs: []string{need}, ReceivedAt: monthAgo.Add(-time.Hour)}
	if _, err := node.Engine.Handle(ctx, "r-gone", recv, meta); err != nil {
		t.Fatal(err)
	}
	kept := recv
	kept.ReferralID, kept.ChildReference = "r-kept", "UASC-KEPT-1"
	if _, err := node.Engine.Handle(ctx, "r-kept", kept, meta); err != nil {
		t.Fatal(err)
	}
	totals := func() (int, string) {
		var count int
		node.Views.Referrals.Read(func(v *projections.ReferralList, _ uint64) { count = v.Len() })
		var tl []byte
		node.Views.Timeliness.Read(func(v *projections.Timeliness, _ uint64) { tl, _ = json.Marshal(v) })
		return count, string(tl)
	}
	now := time.Now().UTC()
	clock.Store(&now)
	if _, err := node.Engine.Handle(ctx, "r-gone", aggregates.Withdraw{Reason: "family-reunion", Detail: detail}, meta); err != nil {
		t.Fatal(err)
	}
	if !storetest.WaitFor(10*time.Second, func() bool { c, _ := totals(); return c == 2 }) {
		t.Fatal("the views never saw both referrals")
	}

	// The period ended five days ago: the retention saga's sweep, when it
	// starts, disposes of the record (its daily sweeps are tested in
	// sagarun).
	go func() { node.Run(runCtx, wiring.RetentionSaga); done <- struct{}{} }()
	disposals := waitDisposed(ctx, t, n.Store, "r-gone")
	if len(disposals) != 1 {
		t.Fatalf("%d disposals on record, want 1", len(disposals))
	}
	d := disposals[0]
	if d.ReferralID != "r-gone" || d.Rule != retention.RuleNeverLookedAfter || d.Policy != "retention-test" {
		t.Errorf("disposal %+v", d)
	}
	// Reads now give the personal fields as disposed of; the rest stays.
	if !storetest.WaitFor(5*time.Second, func() bool {
		_, stored, err := node.Engine.Load(ctx, "r-gone")
		if err != nil || len(stored) == 0 {
			return false
		}
		e := stored[0].Commit.Events[0]
		r := e.Data.(events.ReferralReceived)
		return r.ChildReference == "" && r.Hotel == hotel && slices.Contains(e.Disposed, "childReference")
	}) {
		t.Error("the engine still reads the disposed child's personal fields")
	}
	_, stored, err := node.Engine.Load(ctx, "r-kept")
	if err != nil || stored[0].Commit.Events[0].Data.(events.ReferralReceived).ChildReference != "UASC-KEPT-1" {
		t.Errorf("another child's record changed: %v", err)
	}
	countBefore, timelinessBefore := totals()
	if rep, err := audit.Verify(ctx, n.Store, key, nil); err != nil || !rep.OK() {
		t.Errorf("verify after the disposal: %+v, %v", rep.Problems, err)
	}

	// The views rebuilt from the log as it now reads keep their totals.
	if err := node.Views.Rebuild(ctx, "timeliness", nil); err != nil {
		t.Fatal(err)
	}
	if err := node.Views.Rebuild(ctx, "referrals", nil); err != nil {
		t.Fatal(err)
	}
	if c, tl := totals(); c != countBefore || tl != timelinessBefore {
		t.Errorf("the views' totals changed with the disposal: %d referrals (was %d)\n%s\nwas\n%s", c, countBefore, tl, timelinessBefore)
	}
	// Take views' snapshots as they are now, then stop, so the files are
	// all written out.
	stop()
	<-done
	<-done
	dir := n.Dir
	n.Stop()
	hits := storetest.FilesHolding(t, dir, []byte(childRef), []byte(dob), []byte(need), []byte(detail), []byte(hotel))
	if len(hits[hotel]) == 0 {
		t.Fatal("the scan finds not even the hotel, which is no personal data: it cannot see the files")
	}
	for _, secret := range []string{childRef, dob, need, detail} {
		if len(hits[secret]) > 0 {
			t.Errorf("%q is still in %v", secret, hits[secret])
		}
	}
}

// childEnv names the data directory a re-executed test binary works in.
const childEnv = "NTSFLOW_TEST_DISPOSAL_DIR"

// Issue 24's kill -9 test: a process is killed (SIGKILL, no clean-up) in
// the middle of a disposal, with the disposal recorded and the child's key
// not yet destroyed. Started again on the same data directory, the
// retention saga finishes it: the key is destroyed, the disposal is on
// record once, the log verifies.
func TestKillNineInTheMiddleOfADisposal(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	if dir := os.Getenv(childEnv); dir != "" {
		disposeHalfway(t, dir, key)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineInTheMiddleOfADisposal$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	halfway := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "disposal recorded; key not yet destroyed" {
				halfway <- true
				return
			}
		}
		halfway <- false
	}()
	select {
	case ok := <-halfway:
		if !ok {
			cmd.Wait()
			t.Fatal("the child process ended before it was halfway through the disposal")
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child process never got halfway through the disposal")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: key, Retention: shortPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	if gone, err := n.Store.KeyDestroyed(ctx, "r-kill"); err != nil || gone {
		t.Fatalf("before the restart's saga ran: destroyed %v, %v (the kill was not in the middle)", gone, err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { node.Run(runCtx, wiring.RetentionSaga); close(done) }()
	defer func() { stop(); <-done }()
	if disposals := waitDisposed(ctx, t, n.Store, "r-kill"); len(disposals) != 1 {
		t.Errorf("%d disposals on record, want 1", len(disposals))
	}
	if !storetest.WaitFor(5*time.Second, func() bool {
		_, stored, err := node.Engine.Load(ctx, "r-kill")
		return err == nil && len(stored) > 0 && len(stored[0].Commit.Events[0].Disposed) > 0
	}) {
		t.Error("the child's personal fields are still read")
	}
	if rep, err := audit.Verify(ctx, n.Store, key, nil); err != nil || !rep.OK() {
		t.Errorf("verify: %+v, %v", rep.Problems, err)
	}
}

// disposeHalfway is the killed process: it records a referral and its
// disposal as the retention saga does (same command, same message id), says
// so, and waits to be killed before it destroys the key.
func disposeHalfway(t *testing.T, dir string, key []byte) {
	ctx := context.Background()
	n := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	monthAgo := time.Now().AddDate(0, -1, 0).UTC()
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	recv := aggregates.ReceiveReferral{ReferralID: "r-kill", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "h",
		ChildReference: "UASC-KILL-1", DateOfBirth: calendar.DateOf(time.Now().AddDate(-18, 0, -5)).String(), ReceivedAt: monthAgo}
	meta := engine.Meta{Actor: "test"}
	if _, err := node.Engine.Handle(ctx, "r-kill", recv, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Engine.Handle(ctx, "r-kill", aggregates.Withdraw{Reason: "reallocated"}, meta); err != nil {
		t.Fatal(err)
	}
	_, stored, err := node.Engine.Load(ctx, "r-kill")
	if err != nil {
		t.Fatal(err)
	}
	var facts []events.Event
	for _, st := range stored {
		facts = append(facts, st.Commit.Events...)
	}
	r, ok := shortPolicy(t).Retain(retention.FactsOf(facts))
	if !ok {
		t.Fatal("no retention for the child")
	}
	d := aggregates.Dispose{Policy: "retention-test", Rule: r.Rule, Due: r.Due()}
	if _, err := engine.Handle(ctx, node.Engine, aggregates.Records, "r-kill", aggregates.RecordCommand(d),
		engine.Meta{Actor: "retention-saga", MsgID: "retention:r-kill:" + d.CommandName()}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("disposal recorded; key not yet destroyed")
	select {}
}
