// Package sagarun runs the sagas against the log. A saga is a pure value
// (sagas.Saga: its policy, reactions, timers and names); the one runner
// here (Runner, run.go) feeds any of them from durable consumers of events
// and of fired timers, and carries out their answers: commands through
// the engine, timers as JetStream message schedules. The deadline saga's
// sentinels and sweep are its own extension (Deadline, this file).
//
//ntsflow:shell
package sagarun

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/sagas"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/views"
)

// Durable consumer names, shared by every engine instance so that each
// event and each fired timer is handled by one of them.
const (
	DeadlineEventsConsumer = deadline.EventsConsumer
	DeadlineTimersConsumer = deadline.TimersConsumer
)

const timerPrefix = deadline.TimerPrefix

// sentinelPrefix keys the deadline saga's timers: "deadline.at.<unix ms>",
// one per instant, whoever is due then.
const sentinelPrefix = timerPrefix + ".at."

// Tunables of the sweep.
const (
	// rearmWithin: a sentinel this close, or past, is published again
	// whatever this instance remembers: it may have fired already, and a
	// sweep that ran just before a referral's deadline was recorded would
	// not have seen it.
	rearmWithin = 2 * time.Second
	// sweepWorkers bound the referrals a sweep works on at once: enough to
	// keep both cores and the disk busy in a burst, few enough not to
	// crowd out commands.
	sweepWorkers = 16
	// catchUpWithin bounds a sweep's wait for the deadlines view to reach
	// the stream's end; longer, and the fired sentinel is retried.
	catchUpWithin = 30 * time.Second
	// settleRounds bounds how often one referral is decided again within a
	// sweep when a write leaves the next step already due.
	settleRounds = 3
	// batchFinishWithin bounds a batch's write once begun, when the saga
	// is stopping.
	batchFinishWithin = 10 * time.Second
	// A sweep of at least bulkFrom referrals reads their commits from the
	// stream's last bulkWindow messages per referral, in one ordered pass,
	// instead of loading each (readDue).
	bulkFrom   = 64
	bulkWindow = 4
)

// Deadline drives the deadline saga. The log is the index: every
// referral's deadline is on record (deadline.set), and a view of the log
// (projections.Deadlines) says who is due when. The server keeps only
// sentinels, one JetStream message schedule per instant at which someone
// is due ("deadline.at.<unix ms>"), not one per referral: every referral
// received on a day shares its working-day deadline, so thousands share a
// sentinel, armed once and never cancelled. A fired sentinel starts a
// sweep: every referral the view says is due is loaded and given what is
// due (warning, breach or escalation), and its next instant armed.
//
// A durable consumer of referral events arms the first instant (and sets
// the deadline for a receipt recorded without one); a durable consumer of
// fired timers sweeps.
type Deadline struct {
	Saga   deadline.Saga
	Engine *engine.Engine
	Store  DeadlineStore
	Now    func() time.Time
	Log    *slog.Logger
	// Due lists the referrals whose next deadline event is due at now, as
	// of everything on the stream when asked (views.DeadlinesDue). Nil: Run
	// keeps a deadlines view of its own.
	Due func(ctx context.Context, now time.Time) ([]string, error)
	// Upcoming, if set, lists the instants after now at which someone will
	// be due (views.DeadlinesUpcoming): Run arms a sentinel for each when it
	// starts, so a sentinel lost while no saga ran costs nothing.
	Upcoming func(ctx context.Context, now time.Time) ([]time.Time, error)
	// OnFired, if set, hears of each referral a sweep found due: when its
	// event was due, when the server fired the sentinel that woke the
	// sweep, and when the sweep took the referral up.
	OnFired func(kind string, due, fired, handled time.Time)
	// OnRecorded, if set, hears of each warning, breach or escalation the
	// saga recorded (not of repeats), with the referral it concerns: one
	// awaiting allocation has a region but no receiving authority yet.
	OnRecorded func(eventType string, ref aggregates.Referral)

	// EventsElsewhere: a Joined consumer hands the saga its referral
	// commits (HandleCommit), and Run does not consume them itself.
	EventsElsewhere bool

	due      func(ctx context.Context, now time.Time) ([]string, error)
	upcoming func(ctx context.Context, now time.Time) ([]time.Time, error)
	sweeping sync.Mutex // one sweep at a time on this instance
	armedMu  sync.Mutex
	armed    map[int64]bool // sentinels this instance published, by fire time (unix ms)
}

// Run runs both consumers until ctx ends, restarting them after errors
// (the store unreachable, say) with a pause. It sweeps once at the start:
// what fell due while no saga ran is recorded even if its sentinel was
// lost.
func (r *Deadline) Run(ctx context.Context) error {
	r.due, r.upcoming = r.Due, r.Upcoming
	if r.due == nil {
		v := views.NewRunner(projections.DeadlinesSpec(), r.Store, r.log())
		v.SnapshotEvery = -1
		go v.Run(ctx)
		r.due, r.upcoming = views.DeadlinesDue(v), views.DeadlinesUpcoming(v)
	}
	cs := []consumer{{"deadline saga start", r.start}, {"deadline saga timers", r.consumeTimers}}
	if !r.EventsElsewhere {
		cs = append(cs, consumer{"deadline saga events", r.consumeEvents})
	}
	return runConsumers(ctx, r.log(), cs...)
}

// start sweeps and arms a sentinel for every instant to come, then waits
// for the end: a consumer that has done its work.
func (r *Deadline) start(ctx context.Context) error {
	// No sentinel woke this sweep: its "fired" time is now.
	if err := r.sweep(ctx, time.Time{}, r.now(), events.Event{ID: "deadline-saga:start"}); err != nil {
		return err
	}
	if r.upcoming != nil {
		up, err := r.upcoming(ctx, r.now())
		if err != nil {
			return err
		}
		timers := make([]deadline.Timer, len(up))
		for i, at := range up {
			timers[i] = deadline.Timer{At: at}
		}
		if err := r.arm(ctx, timers); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (r *Deadline) consumeEvents(ctx context.Context) error {
	return r.Store.ConsumeEvents(ctx, DeadlineEventsConsumer, events.ReferralSubject("*"), false, func(st eventstore.Stored) error {
		return r.HandleCommit(ctx, st)
	})
}

func (r *Deadline) consumeTimers(ctx context.Context) error {
	return r.Store.ConsumeTimers(ctx, DeadlineTimersConsumer, timerPrefix+".>", func(f eventstore.Fired) error {
		return r.HandleFired(ctx, f)
	})
}

// HandleCommit reacts to one commit of a referral: a receipt (or its
// deadline) arms the referral's first instant, and records at once what a
// late receipt is already owed. It is idempotent: a redelivered commit
// finds the work done and arms an instant already armed. Placement,
// withdrawal and leaving care need nothing: the sweep skips them.
func (r *Deadline) HandleCommit(ctx context.Context, st eventstore.Stored) error {
	relevant := sagas.Pick(st.Commit.Events, deadline.ReactsTo)
	if len(relevant) == 0 {
		return nil
	}
	id := relevant[0].AggregateID
	ref, _, err := engine.LoadHolding(ctx, r.Engine, aggregates.Referrals, id, st.Sequence)
	if err != nil {
		return err
	}
	for _, e := range relevant {
		if err := r.act(ctx, id, ref, r.Saga.React(ref, e, r.now()), e); err != nil {
			return err
		}
	}
	return nil
}

// HandleFired acts on one fired timer: a sentinel, or a per-referral timer
// armed by a build before sentinels. Either says some deadline is due, and
// the sweep finds which.
func (r *Deadline) HandleFired(ctx context.Context, f eventstore.Fired) error {
	if !strings.HasPrefix(f.Key, timerPrefix+".") {
		return fmt.Errorf("%w: timer key %q", eventstore.ErrPermanent, f.Key)
	}
	return r.sweep(ctx, f.At, f.FiredAt, events.Event{ID: fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence)})
}

// sweep gives every referral due by now what is due. at is the fired
// sentinel's instant: the server says it has come, so the sweep takes it
// as now should this clock be a little behind. A sentinel firing while a
// sweep runs waits for it and sweeps again: the view then holds the first
// sweep's writes, so only what fell due since is loaded.
func (r *Deadline) sweep(ctx context.Context, at, firedAt time.Time, cause events.Event) error {
	r.sweeping.Lock()
	defer r.sweeping.Unlock()
	now := r.now()
	if now.Before(at) {
		now = at
	}
	due := r.due
	if due == nil {
		due = r.Due
	}
	if due == nil {
		return fmt.Errorf("deadline saga: no deadlines view to sweep (Run sets one up)")
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpWithin)
	ids, err := due(wctx, now)
	cancel()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	held := r.readDue(ctx, ids)
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// Workers load and decide; a single write each goes to the batcher,
	// which writes them together (engine.HandleBatch): in a burst the
	// disk's rate of single synced writes, not the work, was the limit.
	work := make(chan string)
	batch := make(chan prepared)
	batched := make(chan struct{})
	go func() { r.batchWrites(ctx, batch, fail); close(batched) }()
	var wg sync.WaitGroup
	for range min(sweepWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := r.sweepOne(ctx, id, held[id], now, firedAt, cause, batch); err != nil {
					fail(fmt.Errorf("referral %s: %w", id, err))
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(batch)
	<-batched
	select {
	case err := <-errs:
		// The fired sentinel is retried: the referrals done are found done.
		return err
	default:
		return nil
	}
}

// prepared is a referral's reaction of one command, waiting to be
// written with others, and the commits it was decided on.
type prepared struct {
	id     string
	ref    aggregates.Referral
	stored []eventstore.Stored
	re     deadline.Reaction
	cause  events.Event
}

// Batches of the sweep's writes. A synced atomic batch costs about the same
// whether it holds a hundred commits or a thousand (the server's limit),
// so a burst goes in the largest; batchWait is how long a batch waits for
// more before it is written, and while batchesAtOnce are being written the
// next fills, so the disk's wait and the workers' loads overlap.
const (
	batchMax      = 1000
	batchWait     = 2 * time.Millisecond
	batchesAtOnce = 2
)

// batchWrites writes the sweep's single commands in batches until in is
// closed, then what is left, and returns when every batch is written.
func (r *Deadline) batchWrites(ctx context.Context, in <-chan prepared, fail func(error)) {
	var pending []prepared
	var writing sync.WaitGroup
	slots := make(chan struct{}, batchesAtOnce)
	flush := func() {
		if len(pending) == 0 {
			return
		}
		b := pending
		pending = nil
		slots <- struct{}{}
		writing.Add(1)
		go func() {
			defer writing.Done()
			defer func() { <-slots }()
			r.writeBatch(ctx, b, fail)
		}()
	}
	defer writing.Wait()
	timer := time.NewTimer(batchWait)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-in:
			if !ok {
				flush()
				return
			}
			pending = append(pending, p)
			if len(pending) >= batchMax {
				flush()
			}
			timer.Reset(batchWait)
		case <-timer.C:
			flush()
		}
	}
}

// writeBatch writes one batch (engine.HandleBatch) and arms what each
// written reaction arms next.
func (r *Deadline) writeBatch(ctx context.Context, pending []prepared, fail func(error)) {
	items := make([]engine.BatchItem[aggregates.Command], len(pending))
	for i, p := range pending {
		items[i] = engine.BatchItem[aggregates.Command]{ID: p.id, Cmd: p.re.Commands[0], Stored: p.stored,
			Meta: engine.Meta{Actor: deadline.Actor, CausationID: p.cause.ID, CorrelationID: p.cause.CorrelationID, MsgID: deadline.MsgID(p.id, p.re.Commands[0])}}
	}
	// A batch begun is finished even if the saga is stopping: cut off, its
	// write could land with no one told, and the next instance, finding it
	// on record, would not report it either (OnRecorded, the breaches
	// counted). Bounded, so a store that does not answer does not hold up
	// the shutdown for long.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchFinishWithin)
	results := engine.HandleBatch(wctx, r.Engine, aggregates.Referrals, items)
	cancel()
	for i, p := range pending {
		out, err := results[i].Outcome, results[i].Err
		if err = issue(r.log(), "deadline saga", p.id, p.re.Commands, func(aggregates.Command) (engine.Outcome, error) { return out, err }, func(e events.Event) {
			if r.OnRecorded != nil {
				r.OnRecorded(e.Type, p.ref)
			}
		}); err != nil {
			fail(fmt.Errorf("referral %s: %w", p.id, err))
			continue
		}
		if err := r.settle(ctx, p, len(out.Events) > 0); err != nil {
			fail(fmt.Errorf("referral %s: %w", p.id, err))
		}
	}
}

// settle arms a written reaction's next timer; if that is already due (a
// breach written after the escalation's time), the referral is decided
// again at once, as act does.
func (r *Deadline) settle(ctx context.Context, p prepared, wrote bool) error {
	now := r.now()
	if !wrote || !slices.ContainsFunc(p.re.Timers, func(t deadline.Timer) bool { return !now.Before(t.At) }) {
		return r.arm(ctx, p.re.Timers)
	}
	ref, _, err := engine.LoadThrough(ctx, r.Engine, aggregates.Referrals, p.id)
	if err != nil {
		return err
	}
	return r.act(ctx, p.id, ref, r.Saga.Due(ref, now), p.cause)
}

func (r *Deadline) sweepOne(ctx context.Context, id string, raw []eventstore.RawCommit, now, firedAt time.Time, cause events.Event, batch chan<- prepared) error {
	// The referral's commits as the sweep read them, or the engine's, read
	// only when it holds none: what is written on them is checked by the
	// server (a referral that moved is decided again on a fresh load,
	// engine.HandleBatch), so only an answer of "nothing due" from them
	// needs the fresh load below.
	stored, ok := wholeReferral(raw)
	var ref aggregates.Referral
	if ok {
		ref = engine.Fold(aggregates.Referrals, id, stored)
	} else {
		var err error
		if ref, stored, err = engine.LoadHolding(ctx, r.Engine, aggregates.Referrals, id, 0); err != nil {
			return err
		}
	}
	// Decided at the time it is taken up, not when the sweep began: in a
	// long sweep of warnings the breach's time may come, and a referral
	// taken up after it gets its breach at once, as one recorded late does,
	// not a warning now and its breach in the next sweep.
	if c := r.now(); c.After(now) {
		now = c
	}
	if len(r.Saga.Due(ref, now).Commands) == 0 {
		var err error
		if ref, stored, err = engine.LoadThrough(ctx, r.Engine, aggregates.Referrals, id); err != nil {
			return err
		}
	}
	if r.OnFired != nil {
		if kind, due := r.Saga.Next(ref); kind != "" && !now.Before(due) {
			r.OnFired(kind, due, firedAt, r.now())
		}
	}
	cause.CorrelationID = id
	re := r.Saga.Due(ref, now)
	if len(re.Commands) == 1 {
		batch <- prepared{id: id, ref: ref, stored: stored, re: re, cause: cause}
		return nil
	}
	return r.act(ctx, id, ref, re, cause)
}

// readDue reads the commits of a sweep's many referrals in one ordered
// pass over the stream's last messages (bulkWindow per referral), rather
// than a load each: in a burst of thousands the loads, one round trip and
// a walk through the store each, were most of the sweep. What it returns
// is raw, decoded by the workers; a referral whose commits do not all lie
// in the window (its first is not where its chain starts) is loaded as
// before, and one that moves after the read is refused by the server and
// decided again. Nil when the sweep is small or the read fails: the
// referrals are then loaded one by one.
func (r *Deadline) readDue(ctx context.Context, ids []string) map[string][]eventstore.RawCommit {
	if len(ids) < bulkFrom {
		return nil
	}
	last, err := r.Store.LastSequence(ctx)
	if err != nil {
		return nil
	}
	from := uint64(1)
	if w := uint64(bulkWindow * len(ids)); last > w {
		from = last - w + 1
	}
	want := make(map[string]string, len(ids)) // subject -> referral
	for _, id := range ids {
		want[aggregates.Referrals.Subject(id)] = id
	}
	out := make(map[string][]eventstore.RawCommit, len(ids))
	err = r.Store.ReadRaw(ctx, from, last, func(c eventstore.RawCommit) error {
		if id, ok := want[c.Subject]; ok {
			out[id] = append(out[id], c)
		}
		return nil
	})
	if err != nil {
		r.log().Debug("deadline saga: bulk read failed; loading one by one", "referrals", len(ids), "err", err)
		return nil
	}
	return out
}

// wholeReferral decodes a referral's commits read in bulk, if they are
// all of them: every one decodes, and the first is where the referral's
// hash chain starts (nothing of it lies before the window read).
func wholeReferral(raw []eventstore.RawCommit) ([]eventstore.Stored, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	stored := make([]eventstore.Stored, len(raw))
	for i, c := range raw {
		if stored[i] = c.Decode(); stored[i].Err != nil {
			return nil, false
		}
	}
	first := stored[0].Commit.Events
	if len(first) == 0 || first[0].PrevHash != "" {
		return nil, false
	}
	return stored, true
}

// act carries out a reaction for referral id, whose state was ref: its
// commands once (the message id is derived from the referral and the
// command), then its timers as sentinels. A timer already due after the
// writes (a breach decided a moment before the escalation's time and
// written after it, say) is not left to a sentinel: the referral is
// loaded and decided again, a few times at most.
func (r *Deadline) act(ctx context.Context, id string, ref aggregates.Referral, re deadline.Reaction, cause events.Event) error {
	for round := 0; ; round++ {
		err := issue(r.log(), "deadline saga", id, re.Commands, func(c aggregates.Command) (engine.Outcome, error) {
			return r.Engine.Handle(ctx, id, c, engine.Meta{Actor: deadline.Actor, CausationID: cause.ID, CorrelationID: cause.CorrelationID, MsgID: deadline.MsgID(id, c)})
		}, func(e events.Event) {
			if r.OnRecorded != nil {
				r.OnRecorded(e.Type, ref)
			}
		})
		if err != nil {
			return err
		}
		now := r.now()
		if len(re.Commands) == 0 || round+1 >= settleRounds || !slices.ContainsFunc(re.Timers, func(t deadline.Timer) bool { return !now.Before(t.At) }) {
			return r.arm(ctx, re.Timers)
		}
		if ref, _, err = engine.LoadThrough(ctx, r.Engine, aggregates.Referrals, id); err != nil {
			return err
		}
		re = r.Saga.Due(ref, now)
	}
}

// arm makes sure a sentinel fires at each timer's time. Schedules fire on
// whole seconds, so every referral due within a second shares one. A
// sentinel this instance published for a time still ahead is not
// published again: that is what makes a day's thousands of referrals
// cost one write. One near or past is published again (it replaces any
// pending one of its key), in case it has fired already.
func (r *Deadline) arm(ctx context.Context, timers []deadline.Timer) error {
	for _, t := range timers {
		fire := t.At.UTC().Truncate(time.Second)
		if fire.Before(t.At) {
			fire = fire.Add(time.Second)
		}
		key := fire.UnixMilli()
		far := fire.After(r.now().Add(rearmWithin))
		r.armedMu.Lock()
		if far && r.armed[key] {
			r.armedMu.Unlock()
			continue
		}
		if far {
			// Claimed before the write, so that the referrals arming it at
			// the same moment do not all write it; given up if it fails,
			// and the failed handler's retry writes it.
			if r.armed == nil {
				r.armed = map[int64]bool{}
			}
			r.armed[key] = true
		}
		r.forgetPast()
		r.armedMu.Unlock()
		if err := r.Store.Schedule(ctx, sentinelPrefix+strconv.FormatInt(key, 10), fire, nil); err != nil {
			if far {
				r.armedMu.Lock()
				delete(r.armed, key)
				r.armedMu.Unlock()
			}
			return err
		}
	}
	return nil
}

// forgetPast drops sentinels that are near or past from the memory of
// those armed: they are published again anyway. Called with armedMu held.
func (r *Deadline) forgetPast() {
	near := r.now().Add(rearmWithin).UnixMilli()
	for k := range r.armed {
		if k <= near {
			delete(r.armed, k)
		}
	}
}

func (r *Deadline) now() time.Time { return nowOr(r.Now) }

func (r *Deadline) log() *slog.Logger { return orDefault(r.Log) }
