package sagarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas"
)

// Deps are what a runner needs besides the saga: the engine its commands
// go through, the store it reads and sets timers in, a clock, a log, and
// an optional hook for each event recorded (with the saga's Label of the
// aggregate: an authority, a region), which the metrics count.
type Deps struct {
	Engine     *engine.Engine
	Store      Store
	Now        func() time.Time
	Log        *slog.Logger
	OnRecorded func(eventType, label string)
	// Effects carry out a reaction's named effects for an aggregate id
	// (sagas.Reaction.Effects).
	Effects map[string]func(ctx context.Context, id string) error
	// Due lists the aggregates a sweeping saga (sagas.Saga.Sweep) should
	// look at now, as of everything on the stream when asked: a view's
	// candidates, each decided again on its own state.
	Due func(ctx context.Context, now time.Time) ([]string, error)
}

// Runner is the one runner of a saga value (sagas.Saga): a durable
// consumer per trigger and one of its fired timers; each reaction carried
// out as cancelled timers, commands through the engine (once each, by the
// saga's message ids) and timers set as server-side schedules. The
// deadline saga has its own extension of this (Deadline): its timers are
// shared sentinels and its fired ones start a sweep.
type Runner[S, T any, C aggregates.Command] struct {
	Saga sagas.Saga[S, T, C]
	Deps
	// Elsewhere are consumers of the saga's triggers that a Joined
	// consumer runs for it: Run leaves them out, and hands their commits
	// to Trigger's handler instead.
	Elsewhere []string
	// sweeping: one sweep at a time on this instance. A long sweep
	// outlives its fired timer's acknowledgement wait, and the timer
	// delivered again would otherwise start a second sweep over the same
	// records beside it.
	sweeping sync.Mutex
}

// New is a runner of saga.
func New[S, T any, C aggregates.Command](saga sagas.Saga[S, T, C], deps Deps) *Runner[S, T, C] {
	return &Runner[S, T, C]{Saga: saga, Deps: deps}
}

// Run runs the saga's consumers until ctx ends.
func (r *Runner[S, T, C]) Run(ctx context.Context) error {
	var cs []consumer
	for i, t := range r.Saga.Triggers {
		if slices.Contains(r.Elsewhere, t.Consumer) {
			continue
		}
		subject := r.Saga.Reads[t.Source].Subject("*")
		cs = append(cs, consumer{t.Consumer, func(ctx context.Context) error {
			return r.Store.ConsumeEvents(ctx, t.Consumer, subject, false, func(st eventstore.Stored) error { return r.HandleCommit(ctx, i, st) })
		}})
	}
	if r.Saga.Sweep != nil {
		cs = append(cs, consumer{r.Saga.Name + " start", r.start})
	}
	if r.Saga.OnFire != nil {
		cs = append(cs, consumer{r.Saga.TimersConsumer, func(ctx context.Context) error {
			return r.Store.ConsumeTimers(ctx, r.Saga.TimersConsumer, r.Saga.TimerPrefix+".>", func(f eventstore.Fired) error { return r.HandleFired(ctx, f) })
		}})
	}
	return runConsumers(ctx, r.log(), cs...)
}

// Trigger is the handler of the trigger whose consumer is named, for a
// Joined consumer to run; nil if the saga has no such trigger.
func (r *Runner[S, T, C]) Trigger(consumer string) func(context.Context, eventstore.Stored) error {
	for i, t := range r.Saga.Triggers {
		if t.Consumer == consumer {
			return func(ctx context.Context, st eventstore.Stored) error { return r.HandleCommit(ctx, i, st) }
		}
	}
	return nil
}

// HandleCommit reacts to one commit delivered to the saga's trigger: the
// events it picks, answered with the state read as of that commit or
// later.
func (r *Runner[S, T, C]) HandleCommit(ctx context.Context, trigger int, st eventstore.Stored) error {
	t := r.Saga.Triggers[trigger]
	picked := sagas.Pick(st.Commit.Events, t.On)
	if len(picked) == 0 {
		return nil
	}
	id := picked[0].AggregateID
	s, err := r.load(ctx, id, t.Source, st.Sequence)
	if err != nil {
		return err
	}
	if t.ReactCommit != nil {
		return r.do(ctx, id, s, t.ReactCommit(s, picked, r.now()), fmt.Sprintf("%s:%d", r.Saga.Reads[t.Source].Kind, st.Sequence))
	}
	for _, e := range picked {
		if err := r.do(ctx, id, s, t.React(s, e, r.now()), e.ID); err != nil {
			return err
		}
	}
	return nil
}

// start removes the saga's retired consumers, sets its sweep's repeating
// timer (every instance does; the server keeps one) and sweeps once, for
// what fell due while no saga ran, then waits for the end: a consumer
// that has done its work. A sweep that failed for good is logged and left
// to the timer, whose consumer parks it where an operator sees it, rather
// than tried again every second.
func (r *Runner[S, T, C]) start(ctx context.Context) error {
	for _, name := range r.Saga.Retired {
		if err := r.Store.RemoveConsumer(ctx, eventstore.EventsStream, name); err != nil {
			return err
		}
	}
	sw := r.Saga.Sweep
	if err := r.Store.ScheduleRepeating(ctx, sw.Key, sw.Cron, sw.Zone, nil); err != nil {
		return err
	}
	if err := r.sweep(ctx, r.Saga.Actor+":start"); err != nil {
		if !errors.Is(err, eventstore.ErrPermanent) {
			return err
		}
		r.log().Error(r.Saga.Name+": the sweep at the start failed; the next one will try again", "err", err)
	}
	<-ctx.Done()
	return ctx.Err()
}

// sweep gives every aggregate Due lists what OnFire says, on its state as
// it is now. One aggregate's failure does not stop the others'; the
// sweep's error joins them all, so the timer is delivered again (what was
// done is not done twice: the saga's message ids and the target's
// refusals see to it) and, if one can never be done, parked.
func (r *Runner[S, T, C]) sweep(ctx context.Context, causeID string) error {
	if r.Due == nil {
		return fmt.Errorf("%w: %s sweeps, and its runner was given nothing to ask who is due", eventstore.ErrPermanent, r.Saga.Name)
	}
	r.sweeping.Lock()
	defer r.sweeping.Unlock()
	now := r.now()
	ids, err := r.Due(ctx, now)
	if err != nil {
		return err
	}
	var retry, never []error
	for _, id := range ids {
		s, err := r.load(ctx, id, -1, 0)
		if err == nil {
			err = r.do(ctx, id, s, r.Saga.OnFire(s, r.Saga.Sweep.Kind, now), causeID)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, eventstore.ErrPermanent):
			never = append(never, fmt.Errorf("%s: %w", id, err))
		case err != nil:
			retry = append(retry, fmt.Errorf("%s: %w", id, err))
		}
	}
	r.log().Info(r.Saga.Name+": swept", "due", len(ids), "failed", len(retry)+len(never), "cause", causeID)
	// What may yet succeed is tried again first; the sweep is parked for
	// what never will only once nothing else is left.
	if len(retry) > 0 {
		return errors.Join(retry...)
	}
	return errors.Join(never...)
}

// HandleFired acts on one fired timer, "<prefix>.<id>.<kind>", with the
// state as it is now, or, the saga's sweep, on every aggregate then due.
func (r *Runner[S, T, C]) HandleFired(ctx context.Context, f eventstore.Fired) error {
	if sw := r.Saga.Sweep; sw != nil && f.Key == sw.Key {
		return r.sweep(ctx, fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence))
	}
	id, kind, err := timerKey(f.Key, r.Saga.TimerPrefix)
	if err != nil {
		return err
	}
	if r.Saga.CheckKind != nil {
		if err := r.Saga.CheckKind(kind); err != nil {
			return fmt.Errorf("%w: %v", eventstore.ErrPermanent, err)
		}
	}
	s, err := r.load(ctx, id, -1, 0)
	if err != nil {
		return err
	}
	return r.do(ctx, id, s, r.Saga.OnFire(s, kind, r.now()), fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence))
}

// load folds the saga's state for aggregate id. The source at index
// holding is read as of its commit at seq or later, through the engine's
// cache (a reaction to a commit this instance just wrote reads nothing);
// the others, and all of them for a fired timer (holding -1), are read
// from the store as they are now.
func (r *Runner[S, T, C]) load(ctx context.Context, id string, holding int, seq uint64) (S, error) {
	histories := make([][]events.Event, len(r.Saga.Reads))
	for i, src := range r.Saga.Reads {
		var stored []eventstore.Stored
		var err error
		if i == holding {
			_, stored, err = engine.LoadHolding(ctx, r.Engine, history(src), id, seq)
		} else if stored, err = r.Store.Load(ctx, src.Subject(id)); err != nil {
			err = fmt.Errorf("load %s %s: %w", src.Kind, id, err)
		}
		if err != nil {
			var zero S
			return zero, err
		}
		for _, st := range stored {
			histories[i] = append(histories[i], st.Commit.Events...)
		}
	}
	return r.Saga.State(id, histories), nil
}

// history reads a source's commits through the engine without folding
// them: the saga's State folds what it reads.
func history(src sagas.Source) aggregates.Decider[struct{}, aggregates.Command] {
	return aggregates.Decider[struct{}, aggregates.Command]{Kind: src.Kind, Subject: src.Subject,
		Evolve: func(s struct{}, _ events.Event) struct{} { return s }}
}

// do carries out a reaction for aggregate id, whose state was s.
func (r *Runner[S, T, C]) do(ctx context.Context, id string, s S, re sagas.Reaction[C], causeID string) error {
	prefix := r.Saga.TimerPrefix + "." + id
	if re.CancelAll {
		if err := r.Store.CancelAll(ctx, prefix); err != nil {
			return err
		}
	}
	for _, k := range re.Cancel {
		if err := r.Store.Cancel(ctx, prefix+"."+k); err != nil {
			return err
		}
	}
	err := issue(r.log(), r.Saga.Name, id, re.Commands, func(c C) (engine.Outcome, error) {
		meta := engine.Meta{Actor: r.Saga.Actor, CausationID: causeID, CorrelationID: id, MsgID: r.Saga.MsgID(id, s, c)}
		return engine.Handle(ctx, r.Engine, r.Saga.Target, id, c, meta)
	}, func(e events.Event) {
		if r.OnRecorded != nil && r.Saga.Label != nil {
			r.OnRecorded(e.Type, r.Saga.Label(s))
		}
	})
	if err != nil {
		return err
	}
	for _, name := range re.Effects {
		effect, ok := r.Effects[name]
		if !ok {
			return fmt.Errorf("%w: %s asks for %q, which this runner cannot do", eventstore.ErrPermanent, r.Saga.Name, name)
		}
		if err := effect(ctx, id); err != nil {
			return fmt.Errorf("%s: %s for %s: %w", r.Saga.Name, name, id, err)
		}
	}
	if re.Rearm {
		// Read again, not folded from the commands' outcome: what they
		// wrote may have been refused, or replaced by another instance.
		now, err := r.load(ctx, id, -1, 0)
		if err != nil {
			return err
		}
		if err := schedule(ctx, r.Store, prefix, r.Saga.Timers(now)); err != nil {
			return err
		}
	}
	return schedule(ctx, r.Store, prefix, re.Timers)
}

func (r *Runner[S, T, C]) now() time.Time { return nowOr(r.Now) }

func (r *Runner[S, T, C]) log() *slog.Logger { return orDefault(r.Log) }

// What every saga runner shares, this one and Deadline: its consumers
// kept running, its timer keys read, its commands issued once, its timers
// set.

// consumer is one of a saga's durable consumers.
type consumer struct {
	name string
	run  func(context.Context) error
}

// runConsumers runs each consumer, started again a second after it stops
// (the store unreachable, say), until ctx ends.
func runConsumers(ctx context.Context, log *slog.Logger, consumers ...consumer) error {
	done := make(chan struct{}, len(consumers))
	for _, c := range consumers {
		go func() { keepRunning(ctx, log, c.name, c.run); done <- struct{}{} }()
	}
	for range consumers {
		<-done
	}
	return ctx.Err()
}

// keepRunning runs a consumer until ctx ends, starting it again a second
// after it stops.
func keepRunning(ctx context.Context, log *slog.Logger, name string, run func(context.Context) error) {
	for ctx.Err() == nil {
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("saga consumer stopped; restarting", "consumer", name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// timerKey reads a fired timer's key, "<prefix>.<aggregate id>.<kind>"
// (the kind may hold dots). A key of another shape can never be handled,
// so it is a permanent failure: the consumer parks it.
func timerKey(key, prefix string) (id, kind string, err error) {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) != 3 || parts[0] != prefix || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("%w: timer key %q", eventstore.ErrPermanent, key)
	}
	return parts[1], parts[2], nil
}

// issue runs a saga's commands, each through handle. A refusal means the
// work is already on record or no longer applies (the decider says which),
// and is logged at debug; each event newly recorded is logged and given to
// recorded. Any other error stops, for the consumer to retry.
func issue[C aggregates.Command](log *slog.Logger, saga, id string, cmds []C, handle func(C) (engine.Outcome, error), recorded func(events.Event)) error {
	for _, c := range cmds {
		out, err := handle(c)
		var refusal *aggregates.Refusal
		switch {
		case errors.As(err, &refusal):
			log.Debug(saga+": command refused", "aggregate", id, "command", c.CommandName(), "reason", refusal.Error())
		case err != nil:
			return err
		case !out.Replayed:
			for _, e := range out.Events {
				log.Info(e.Type, "saga", saga, "aggregate", id, "event", e.ID)
				if recorded != nil {
					recorded(e)
				}
			}
		}
	}
	return nil
}

// schedule sets a saga's timers as server-side schedules under prefix.
func schedule(ctx context.Context, store Store, prefix string, timers []sagas.Timer) error {
	for _, t := range timers {
		if err := store.Schedule(ctx, prefix+"."+t.Kind, t.At, nil); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(log *slog.Logger) *slog.Logger {
	if log != nil {
		return log
	}
	return slog.Default()
}

func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}
