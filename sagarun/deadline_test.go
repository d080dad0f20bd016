package sagarun_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/wiring"
)

// A policy in seconds: warning 2s after receipt, deadline at 3s, escalation
// to the director 2s after the deadline.
func secondsPolicy(t testing.TB) deadline.Policy {
	p, err := deadline.ParsePolicy([]byte(`{"version":"test-seconds","routes":{"hotel":{"duration":"3s"},"entry-authority":{"duration":"6s"}},"warnBefore":{"duration":"1s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"},{"after":{"duration":"2s"},"to":"director"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type rig struct {
	t      testing.TB
	node   *storetest.Node
	eng    *engine.Engine
	policy deadline.Policy
}

// newRig starts a store and serve's engine (wiring.Build), which records
// each referral's deadline in its receipt.
func newRig(t testing.TB, dir string) *rig {
	return newRigWith(t, dir, secondsPolicy(t))
}

func newRigWith(t testing.TB, dir string, p deadline.Policy) *rig {
	n := storetest.Start(t, storetest.Options{Dir: dir})
	return &rig{t: t, node: n, policy: p, eng: buildEngine(t, wiring.Config{Store: n.Store, Deadline: &p})}
}

// buildEngine is the engine of the node wiring.Build puts together.
func buildEngine(t testing.TB, cfg wiring.Config) *engine.Engine {
	t.Helper()
	node, err := wiring.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return node.Engine
}

// runner starts a saga runner (an engine instance's worth) and returns a
// function that stops it and waits for it.
func (r *rig) runner() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	run := &sagarun.Deadline{Saga: deadline.Saga{Policy: r.policy, Calendar: calendar.Default()}, Engine: r.eng, Store: r.node.Store, Log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { run.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(stop)
	return stop
}

func (r *rig) receive(id string, at time.Time) {
	r.t.Helper()
	c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, ReceivedAt: at}
	if _, err := r.eng.Handle(context.Background(), id, c, engine.Meta{Actor: "test"}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) do(id string, c aggregates.Command) error {
	_, err := r.eng.Handle(context.Background(), id, c, engine.Meta{Actor: "test"})
	return err
}

func (r *rig) history(id string) []events.Event {
	r.t.Helper()
	_, stored, err := r.eng.Load(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []events.Event
	for _, st := range stored {
		out = append(out, st.Commit.Events...)
	}
	return out
}

func count(evs []events.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func find(evs []events.Event, typ string) events.Event {
	for _, e := range evs {
		if e.Type == typ {
			return e
		}
	}
	return events.Event{}
}

// waitFor polls until cond holds or the time is up.
func (r *rig) waitFor(what string, within time.Duration, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// idle waits until the deadline saga has nothing left to do: no sentinel
// scheduled, no fired sentinel and no referral commit waiting for its
// consumers. The reads follow the work's own order (a sweep commits, then
// schedules the next sentinel, then acknowledges), and
// the schedules are read again last, so work moving between the reads is
// still seen by one of them.
func (r *rig) idle(within time.Duration) {
	r.t.Helper()
	ctx := context.Background()
	r.waitFor("the deadline saga to be idle", within, func() bool {
		n := r.pending()
		t, err1 := r.node.Store.ConsumerPending(ctx, eventstore.TimersStream, sagarun.DeadlineTimersConsumer)
		e, err2 := r.node.Store.ConsumerPending(ctx, eventstore.EventsStream, sagarun.DeadlineEventsConsumer)
		return err1 == nil && err2 == nil && n+t+e == 0 && r.pending() == 0
	})
}

// untilPast waits for the clock to pass a moment the test is about (a
// deadline falling due): the passing of time is the condition itself.
func untilPast(at time.Time) { time.Sleep(time.Until(at)) }

func (r *rig) pending() uint64 {
	n, err := r.node.Store.PendingTimers(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func TestWarningBreachAndEscalationFireOnTime(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	received := time.Now()
	r.receive("r1", received)
	r.waitFor("the escalation", 10*time.Second, func() bool { return count(r.history("r1"), events.TypeDeadlineEscalated) == 1 })
	h := r.history("r1")
	set := find(h, events.TypeDeadlineSet).Data.(events.DeadlineSet)
	warn, breach := find(h, events.TypeDeadlineWarning), find(h, events.TypeDeadlineBreached)
	if warn.RecordedAt.Before(set.WarningAt) || warn.RecordedAt.After(set.WarningAt.Add(2*time.Second)) {
		t.Errorf("warning recorded at %s, due at %s", warn.RecordedAt, set.WarningAt)
	}
	if !breach.RecordedAt.After(set.DueAt) || breach.RecordedAt.After(set.DueAt.Add(2*time.Second)) {
		t.Errorf("breach recorded at %s, deadline %s", breach.RecordedAt, set.DueAt)
	}
	if b := breach.Data.(events.DeadlineBreached); b.EscalatedTo != "team-leader" || !b.Deadline.Equal(set.DueAt) {
		t.Errorf("breach %+v", b)
	}
	if e := find(h, events.TypeDeadlineEscalated).Data.(events.DeadlineEscalated); e.EscalatedTo != "director" {
		t.Errorf("escalated to %q", e.EscalatedTo)
	}
	if breach.Actor != "deadline-saga" || breach.CausationID == "" {
		t.Errorf("breach envelope: actor %q causation %q", breach.Actor, breach.CausationID)
	}
	r.idle(10 * time.Second)
	h = r.history("r1")
	if count(h, events.TypeDeadlineWarning) != 1 || count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineEscalated) != 1 {
		t.Fatalf("recorded more than once: %v", types(h))
	}
	ref, _, _ := r.eng.Load(context.Background(), "r1")
	if s := ref.DeadlineState(time.Now()); s != aggregates.StateBreached {
		t.Fatalf("state %s", s)
	}
}

// A placement cancels nothing: the warning's sentinel fires, the sweep
// finds the referral's clock stopped, and nothing more is armed for it.
func TestPlacingBeforeTheDeadlineIsNeverWarnedOrBreached(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	r.receive("r1", time.Now())
	r.waitFor("the warning's sentinel, the only one armed", 5*time.Second, func() bool { return r.pending() == 1 })
	if err := r.do("r1", aggregates.Place{PlacementType: "U1", Provider: "carer", PlacedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the sentinel to fire and the sweep to arm nothing more", 6*time.Second, func() bool { return r.pending() == 0 })
	ref, _, _ := r.eng.Load(context.Background(), "r1")
	untilPast(ref.EscalateAt.Add(time.Second))
	r.idle(5 * time.Second)
	h := r.history("r1")
	if count(h, events.TypeDeadlineWarning)+count(h, events.TypeDeadlineBreached) != 0 {
		t.Fatalf("a placed referral was warned or breached: %v", types(h))
	}
	ref, _, _ = r.eng.Load(context.Background(), "r1")
	if s := ref.DeadlineState(time.Now()); s != aggregates.StateMet {
		t.Fatalf("state %s, want met", s)
	}
}

func TestPlacingAfterTheBreachKeepsItAndIsMissed(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	r.receive("r1", time.Now())
	r.waitFor("the breach", 8*time.Second, func() bool { return count(r.history("r1"), events.TypeDeadlineBreached) == 1 })
	if err := r.do("r1", aggregates.Place{PlacementType: "K2", Provider: "home", PlacedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ref, _, _ := r.eng.Load(context.Background(), "r1")
	if s := ref.DeadlineState(time.Now()); s != aggregates.StateMissed || !ref.Breached {
		t.Fatalf("state %s breached %v", s, ref.Breached)
	}
}

// Stop the engine after the timers are set and before they fire; start a
// new one after the fire time: the breach is recorded exactly once.
func TestEngineRestartBeforeTheFire(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	stop := r.runner()
	r.receive("r1", time.Now())
	r.waitFor("the warning's timer", 5*time.Second, func() bool { return r.pending() == 1 })
	stop()
	// The warning fires with no engine running and waits for one.
	r.waitFor("the warning to fire with no engine", 8*time.Second, func() bool {
		fired, err := r.node.Store.ConsumerPending(context.Background(), eventstore.TimersStream, sagarun.DeadlineTimersConsumer)
		return err == nil && fired == 1 && r.pending() == 0
	})
	if h := r.history("r1"); count(h, events.TypeDeadlineWarning)+count(h, events.TypeDeadlineBreached) != 0 {
		t.Fatalf("recorded with no engine: %v", types(h))
	}
	r.runner()
	r.waitFor("the breach", 8*time.Second, func() bool { return count(r.history("r1"), events.TypeDeadlineBreached) == 1 })
	r.idle(8 * time.Second)
	// The warning, handled late, armed the breach; each is recorded once.
	if h := r.history("r1"); count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineWarning) != 1 || count(h, events.TypeDeadlineEscalated) != 1 {
		t.Fatalf("after restart: %v", types(h))
	}
}

// Stop the embedded NATS server itself after scheduling and restart it on
// the same data directory: the server still holds the timers and fires them.
func TestNATSServerRestartBeforeTheFire(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := newRig(t, dir)
	stop := r.runner()
	r.receive("r1", time.Now())
	r.waitFor("the warning's timer", 5*time.Second, func() bool { return r.pending() == 1 })
	stop()
	r.node.Stop()

	// The restarted server still holds the timer: it fires it (at its time,
	// or at once if that passed while the server was down), with no saga
	// running yet.
	r2 := newRig(t, dir)
	r2.waitFor("the warning fired by the restarted server", 8*time.Second, func() bool {
		fired, err := r2.node.Store.ConsumerPending(context.Background(), eventstore.TimersStream, sagarun.DeadlineTimersConsumer)
		return err == nil && fired == 1 && r2.pending() == 0
	})
	r2.runner()
	r2.waitFor("the breach", 8*time.Second, func() bool { return count(r2.history("r1"), events.TypeDeadlineBreached) == 1 })
	r2.idle(8 * time.Second)
	if h := r2.history("r1"); count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineWarning) != 1 {
		t.Fatalf("after server restart: %v", types(h))
	}
}

// Two engine instances on one server share the work: each breach once.
func TestTwoInstancesRecordEachBreachOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	r.runner()
	const n = 30
	now := time.Now()
	for i := range n {
		r.receive(fmt.Sprint("r", i), now)
	}
	r.waitFor("every breach", 10*time.Second, func() bool {
		for i := range n {
			if count(r.history(fmt.Sprint("r", i)), events.TypeDeadlineBreached) == 0 {
				return false
			}
		}
		return true
	})
	r.idle(10 * time.Second)
	for i := range n {
		h := r.history(fmt.Sprint("r", i))
		if count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineWarning) != 1 || count(h, events.TypeDeadlineSet) != 1 || count(h, events.TypeDeadlineEscalated) != 1 {
			t.Fatalf("r%d: %v", i, types(h))
		}
	}
}

// Withdraw referrals at the very moment their breach timers fire: no
// breach is ever recorded after a withdrawal.
func TestWithdrawnWhileTheTimerFires(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	const n = 30
	received := time.Now()
	for i := range n {
		r.receive(fmt.Sprint("r", i), received)
	}
	ref, _, _ := r.eng.Load(context.Background(), "r0")
	// Withdraw in the second the breach timers fire (their warnings, armed
	// first, have fired and armed them by then, or are firing late).
	untilPast(ref.DueAt.Truncate(time.Second).Add(time.Second))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.do(fmt.Sprint("r", i), aggregates.Withdraw{Reason: "missing"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r.idle(10 * time.Second)
	breached := 0
	for i := range n {
		h := r.history(fmt.Sprint("r", i))
		withdrawnAt := -1
		for j, e := range h {
			switch e.Type {
			case events.TypeReferralWithdrawn:
				withdrawnAt = j
			case events.TypeDeadlineBreached, events.TypeDeadlineWarning, events.TypeDeadlineEscalated:
				if withdrawnAt >= 0 {
					t.Fatalf("r%d: %s after the withdrawal: %v", i, e.Type, types(h))
				}
				if e.Type == events.TypeDeadlineBreached {
					breached++
				}
			}
		}
	}
	t.Logf("%d of %d breaches landed before the withdrawal, the rest were refused", breached, n)
}

// A referral recorded after its deadline has passed is breached at once;
// one recorded inside the warning window is warned at once.
func TestBackdatedIntake(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	start := time.Now()
	r.receive("late", start.Add(-10*time.Second))
	r.receive("warn", start.Add(-2500*time.Millisecond))
	r.waitFor("the breach of the late one", 3*time.Second, func() bool { return count(r.history("late"), events.TypeDeadlineBreached) == 1 })
	if h := r.history("late"); count(h, events.TypeDeadlineWarning) != 0 || find(h, events.TypeDeadlineBreached).Data.(events.DeadlineBreached).EscalatedTo != "director" {
		t.Fatalf("late: %v", types(h))
	}
	// The two referrals are handled independently: the late one's breach
	// says nothing about whether the other's warning has landed yet.
	r.waitFor("the warning of the one inside the window", 3*time.Second, func() bool { return count(r.history("warn"), events.TypeDeadlineWarning) == 1 })
	w := r.history("warn")
	if count(w, events.TypeDeadlineWarning) != 1 || count(w, events.TypeDeadlineBreached) != 0 {
		t.Fatalf("inside the warning window, at once: %v", types(w))
	}
	if took := find(w, events.TypeDeadlineWarning).RecordedAt.Sub(start); took > 2*time.Second {
		t.Fatalf("the warning took %v", took)
	}
	r.waitFor("its breach, on time", 3*time.Second, func() bool { return count(r.history("warn"), events.TypeDeadlineBreached) == 1 })
}

func types(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// Saga instances stopped and started at random points while forty
// deadlines, spread over a few seconds, fall due: no deadline lost, no
// warning or breach recorded twice.
func TestSagaRestartsAtRandomPoints(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	const n = 40
	start := time.Now()
	stop := r.runner()
	for i := range n {
		// Received over the last 2s: deadlines fall from 1s to 3s from now.
		r.receive(fmt.Sprint("x", i), start.Add(-time.Duration(i)*50*time.Millisecond))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	// The pauses are the chaos schedule (when to stop a runner), not waits
	// for anything.
	for time.Since(start) < 7*time.Second {
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond) // when to stop a runner: the chaos schedule
		stop()
		if rng.IntN(2) == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // sometimes none runs for a while
		}
		stop = r.runner()
	}
	r.waitFor("every breach", 10*time.Second, func() bool {
		for i := range n {
			if count(r.history(fmt.Sprint("x", i)), events.TypeDeadlineBreached) == 0 {
				return false
			}
		}
		return true
	})
	r.idle(10 * time.Second)
	for i := range n {
		h := r.history(fmt.Sprint("x", i))
		if count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineSet) != 1 || count(h, events.TypeDeadlineWarning) > 1 || count(h, events.TypeDeadlineEscalated) > 1 {
			t.Fatalf("x%d: %v", i, types(h))
		}
	}
}

// A receipt recorded without its deadline (by an engine given no deadline
// rule, or before receipts carried one) gets it from the saga, in a
// commit of its own, and its timers as any other.
func TestReceiptWithoutADeadlineGetsOneFromTheSaga(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.eng = buildEngine(t, wiring.Config{Store: r.node.Store, Referrals: &aggregates.Referrals})
	r.runner()
	r.receive("old", time.Now())
	r.waitFor("the deadline set by the saga", 5*time.Second, func() bool { return count(r.history("old"), events.TypeDeadlineSet) == 1 })
	_, stored, err := r.eng.Load(context.Background(), "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) < 2 || len(stored[0].Commit.Events) != 1 || stored[1].Commit.Events[0].Type != events.TypeDeadlineSet || stored[1].Commit.Events[0].Actor != "deadline-saga" {
		t.Fatalf("commits: %+v", stored)
	}
	r.waitFor("the breach", 8*time.Second, func() bool { return count(r.history("old"), events.TypeDeadlineBreached) == 1 })
}

// With the deadline in the receipt, the saga writes nothing for a
// referral placed in time: no commit of its own and one timer, cancelled.
func TestDeadlineTravelsInTheReceipt(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.runner()
	r.receive("r1", time.Now())
	r.waitFor("the warning's timer", 5*time.Second, func() bool { return r.pending() == 1 })
	_, stored, err := r.eng.Load(context.Background(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || len(stored[0].Commit.Events) != 2 || stored[0].Commit.Events[1].Type != events.TypeDeadlineSet {
		t.Fatalf("want one commit, received and deadline set: %+v", stored)
	}
}

// Thirty referrals received at the same moment share their instants: one
// sentinel is armed for all their warnings, in one write.
func TestReferralsDueAtTheSameInstantShareOneSentinel(t *testing.T) {
	t.Parallel()
	// Warnings 10s after receipt: far enough ahead that the saga trusts
	// its memory of what it armed rather than publishing again.
	p, err := deadline.ParsePolicy([]byte(`{"version":"test-shared","routes":{"hotel":{"duration":"12s"},"entry-authority":{"duration":"12s"}},"warnBefore":{"duration":"2s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, "", p)
	r.runner()
	const n = 30
	now := time.Now()
	for i := range n {
		r.receive(fmt.Sprint("s", i), now)
	}
	ctx := context.Background()
	r.waitFor("every receipt handled by the saga", 5*time.Second, func() bool {
		e, err := r.node.Store.ConsumerPending(ctx, eventstore.EventsStream, sagarun.DeadlineEventsConsumer)
		return err == nil && e == 0
	})
	if got := r.pending(); got != 1 {
		t.Fatalf("%d sentinels pending, want 1", got)
	}
	if w := r.timerWrites(); w != 1 {
		t.Fatalf("%d schedules written for %d referrals, want 1", w, n)
	}
	r.waitFor("every warning", 15*time.Second, func() bool {
		for i := range n {
			if count(r.history(fmt.Sprint("s", i)), events.TypeDeadlineWarning) == 0 {
				return false
			}
		}
		return true
	})
	r.waitFor("the breach's sentinel, one for all", 5*time.Second, func() bool { return r.pending() == 1 })
}

// timerWrites counts the messages ever stored on the timers stream: before
// anything has fired, the schedules written (a replaced one included).
func (r *rig) timerWrites() uint64 {
	r.t.Helper()
	js, err := jetstream.New(r.node.Conn)
	if err != nil {
		r.t.Fatal(err)
	}
	str, err := js.Stream(context.Background(), eventstore.TimersStream)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := str.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.LastSeq
}

// A sentinel lost (here purged) while a saga runs: the deadline it stood
// for is recorded by the sweep the next sentinel starts. One lost while no
// saga ran: the sweep every saga makes when it starts records it.
func TestALostSentinelIsCaughtByTheNextSweep(t *testing.T) {
	t.Parallel()
	// Warning 2s after receipt, deadline at 6s, escalation 5s after: room
	// for a second referral's warning between the first's warning and its
	// deadline, and for the breaches to land before the escalations.
	p, err := deadline.ParsePolicy([]byte(`{"version":"test-lost","routes":{"hotel":{"duration":"6s"},"entry-authority":{"duration":"6s"}},"warnBefore":{"duration":"4s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"},{"after":{"duration":"5s"},"to":"director"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, "", p)
	stop := r.runner()
	ctx := context.Background()
	t0 := time.Now()
	r.receive("a", t0)
	r.waitFor("a's warning sentinel", 1*time.Second, func() bool { return r.pending() == 1 })
	if err := r.node.Store.CancelAll(ctx, "deadline.at"); err != nil {
		t.Fatal(err)
	}
	untilPast(t0.Add(1500 * time.Millisecond))
	r.receive("b", time.Now())
	refA, _, _ := r.eng.Load(ctx, "a")
	refB, _, _ := r.eng.Load(ctx, "b")
	untilPast(refA.WarningAt.Add(500 * time.Millisecond))
	if h := r.history("a"); count(h, events.TypeDeadlineWarning) != 0 {
		t.Fatalf("warned with its sentinel lost and no other fired: %v", types(h))
	}
	r.waitFor("a's warning, by the sweep b's sentinel starts", 3*time.Second, func() bool { return count(r.history("a"), events.TypeDeadlineWarning) == 1 })
	r.waitFor("b's warning", 3*time.Second, func() bool { return count(r.history("b"), events.TypeDeadlineWarning) == 1 })

	// Now with no saga running: every sentinel is lost (the breaches'),
	// and their times pass.
	stop()
	if err := r.node.Store.CancelAll(ctx, "deadline.at"); err != nil {
		t.Fatal(err)
	}
	untilPast(refB.DueAt.Add(500 * time.Millisecond))
	if h := r.history("a"); count(h, events.TypeDeadlineBreached) != 0 {
		t.Fatalf("breached with no saga: %v", types(h))
	}
	r.runner()
	r.waitFor("both breaches, by the sweep at start", 3*time.Second, func() bool {
		return count(r.history("a"), events.TypeDeadlineBreached) == 1 && count(r.history("b"), events.TypeDeadlineBreached) == 1
	})
	r.waitFor("both escalations, by the sentinels that sweep armed", 8*time.Second, func() bool {
		return count(r.history("a"), events.TypeDeadlineEscalated) == 1 && count(r.history("b"), events.TypeDeadlineEscalated) == 1
	})
	r.idle(10 * time.Second)
	for _, id := range []string{"a", "b"} {
		if h := r.history(id); count(h, events.TypeDeadlineWarning) != 1 || count(h, events.TypeDeadlineBreached) != 1 || count(h, events.TypeDeadlineEscalated) != 1 {
			t.Fatalf("%s: %v", id, types(h))
		}
	}
}
