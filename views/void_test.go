package views_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/views"
)

// runSet runs the engine's set of views until the returned stop is called
// (which snapshots them, as serve's shutdown does).
func runSet(t *testing.T, store *eventstore.Store) (*views.Set, func()) {
	set := views.NewSet(store, refdata.Default(), calendar.Default(), quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return set, stop
}

// waitStalled waits, with a bound, for every view of the set to report
// the stop at seq.
func waitStalled(t *testing.T, set *views.Set, seq uint64) {
	t.Helper()
	stopped := storetest.WaitFor(15*time.Second, func() bool {
		for _, s := range set.Statuses() {
			if s.Stalled == nil || s.Stalled.Sequence != seq || s.Sequence != seq-1 {
				return false
			}
		}
		return true
	})
	if !stopped {
		t.Fatalf("the views did not all stop at %d: %+v", seq, set.Statuses())
	}
}

func waitAll(t *testing.T, set *views.Set, store *eventstore.Store) uint64 {
	t.Helper()
	last := waitCaughtUp(t, set.Capacity, store)
	waitCaughtUp(t, set.Timeliness, store)
	waitCaughtUp(t, set.Referrals, store)
	waitCaughtUp(t, set.Safeguarding, store)
	waitCaughtUp(t, set.Deadlines, store)
	return last
}

func referralsListed(set *views.Set) int {
	n := 0
	set.Referrals.Read(func(v *projections.ReferralList, _ uint64) { n = v.Len() })
	return n
}

// One event of a type this build does not read stops every view, and a
// restart stops them again at the same place: they never skip it
// silently. An operator's void of that commit, on the record, lets them
// go on (at once, and across restarts, from a snapshot or from zero), and
// they count everything that follows it.
func TestViewsGoOnPastAVoidedEvent(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	before := drive(t, eng, 41, 6, 1, "p")
	target := before[0].evs[0].AggregateID
	doc := fmt.Sprintf(`{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":%q,"occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`, target)
	ack, err := n.Store.JetStream().Publish(context.Background(), events.ReferralSubject(target), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	drive(t, eng, 42, 8, 1, "q")

	// Given: the views stop before it, and again after a restart.
	set, stop := runSet(t, n.Store)
	waitStalled(t, set, ack.Sequence)
	if err := set.Ready(); err == nil || !strings.Contains(err.Error(), "referral.teleported") || !strings.Contains(err.Error(), events.ReferralSubject(target)) {
		t.Fatalf("readiness: %v", err)
	}
	listedBefore := referralsListed(set)
	stop()
	set, stop = runSet(t, n.Store)
	waitStalled(t, set, ack.Sequence)

	// When: an operator voids it, while the views are stopped at it.
	out, err := engine.Void(context.Background(), eng, engine.VoidRequest{Subject: events.ReferralSubject(target), Sequence: ack.Sequence, Reason: "published by hand"}, engine.Meta{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	more := drive(t, eng, 43, 5, 1, "r")

	// Then: they go on at once, count what followed, and are ready.
	last := waitAll(t, set, n.Store)
	if last <= out.Sequence || last != more[len(more)-1].seq {
		t.Fatalf("caught up to %d; the void is at %d, the last commit at %d", last, out.Sequence, more[len(more)-1].seq)
	}
	if err := set.Ready(); err != nil {
		t.Fatalf("ready after the void: %v", err)
	}
	for _, s := range set.Statuses() {
		if s.Stalled != nil || s.Stats.Voided != 1 {
			t.Fatalf("%s after the void: %+v", s.Name, s.Status)
		}
	}
	referrals := receivedReferrals(t, n.Store)
	if got := referralsListed(set); got != referrals || got <= listedBefore {
		t.Fatalf("the referral list holds %d referrals (%d before the void); the log received %d", got, listedBefore, referrals)
	}
	whole, seq, stats, err := views.Fold(context.Background(), n.Store, projections.ReferralListSpec(), views.FoldOptions{UpTo: last})
	if err != nil || seq != last || stats.Voided != 1 {
		t.Fatalf("a fold from zero: sequence %d of %d, stats %+v, %v", seq, last, stats, err)
	}
	set.Referrals.Read(func(v *projections.ReferralList, _ uint64) {
		if js(t, v) != js(t, whole) {
			t.Error("the live referral list differs from a fold from zero")
		}
	})

	// Across restarts: from the snapshots, and from zero.
	stop()
	set, stop = runSet(t, n.Store)
	waitAll(t, set, n.Store)
	if err := set.Ready(); err != nil || referralsListed(set) != referrals {
		t.Fatalf("restarted from snapshots: %v, %d referrals", err, referralsListed(set))
	}
	stop()
	for _, name := range views.Names() {
		if err := n.Store.DeleteSnapshot(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	set, _ = runSet(t, n.Store)
	waitAll(t, set, n.Store)
	if err := set.Ready(); err != nil || referralsListed(set) != referrals {
		t.Fatalf("restarted from zero: %v, %d referrals", err, referralsListed(set))
	}
	if s := set.Capacity.Status(); s.Stats.Voided != 1 {
		t.Fatalf("restarted from zero: %+v", s.Stats)
	}
}

// receivedReferrals counts the referrals the log received.
func receivedReferrals(t *testing.T, store *eventstore.Store) int {
	last, err := store.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range readCommits(t, store, 1, last) {
		for _, e := range a.evs {
			if e.Type == events.TypeReferralReceived || e.Type == events.TypeReferralReferred {
				seen[e.AggregateID] = true
			}
		}
	}
	return len(seen)
}
