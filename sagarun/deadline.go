// Package sagarun runs the sagas against the log. A saga's rules are pure
// (package sagas/deadline: the policy and its reactions); a runner here
// feeds them from durable consumers of events and of fired timers, and
// carries out their answers: commands through the engine, timers as
// JetStream message schedules.
package sagarun

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// Durable consumer names, shared by every engine instance so that each
// event and each fired timer is handled by one of them.
const (
	DeadlineEventsConsumer = "deadline-saga"
	DeadlineTimersConsumer = "deadline-timers"
)

const timerPrefix = "deadline"

// Deadline drives the deadline saga: a durable consumer of referral events (to set
// deadlines and arm or cancel timers) and a durable consumer of fired
// timers (to record warnings, breaches and escalations). Timers are
// JetStream message schedules: the server keeps them.
type Deadline struct {
	Saga   deadline.Saga
	Engine *engine.Engine
	Store  *eventstore.Store
	Now    func() time.Time
	Log    *slog.Logger
	// OnFired, if set, hears of each fired timer: when it was due, when the
	// server fired it, and when the saga took it up.
	OnFired func(kind string, due, fired, handled time.Time)
	// OnRecorded, if set, hears of each warning, breach or escalation the
	// saga recorded (not of repeats).
	OnRecorded func(eventType string, authority string)
}

// Run runs both consumers until ctx ends, restarting them after errors
// (the store unreachable, say) with a pause.
func (r *Deadline) Run(ctx context.Context) error {
	return runConsumers(ctx, r.log(), consumer{"deadline saga events", r.consumeEvents}, consumer{"deadline saga timers", r.consumeTimers})
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

// HandleCommit reacts to one commit of a referral. It is idempotent: a
// redelivered commit finds the work done and does nothing new.
func (r *Deadline) HandleCommit(ctx context.Context, st eventstore.Stored) error {
	var relevant []events.Event
	for _, e := range st.Commit.Events {
		switch e.Data.(type) {
		case events.ReferralReceived, events.ReferralReferred, events.DeadlineSet, events.ReferralPlaced, events.ReferralWithdrawn, events.ChildLeftCare:
			relevant = append(relevant, e)
		}
	}
	if len(relevant) == 0 {
		return nil
	}
	id := relevant[0].AggregateID
	if !slices.ContainsFunc(relevant, func(e events.Event) bool { return !deadline.Ends(e) }) {
		// A placement, withdrawal or leaving care: cancel, no load needed.
		return r.Store.CancelAll(ctx, timerPrefix+"."+id)
	}
	ref, _, err := engine.LoadHolding(ctx, r.Engine, aggregates.Referrals, id, st.Sequence)
	if err != nil {
		return err
	}
	for _, e := range relevant {
		if err := r.do(ctx, id, ref.ReceivingAuthority, r.Saga.React(ref, e, r.now()), e); err != nil {
			return err
		}
	}
	return nil
}

// HandleFired acts on one fired timer.
func (r *Deadline) HandleFired(ctx context.Context, f eventstore.Fired) error {
	id, kind, err := timerKey(f.Key, timerPrefix)
	if err != nil {
		return err
	}
	now := r.now()
	if r.OnFired != nil {
		r.OnFired(kind, f.At, f.FiredAt, now)
	}
	ref, _, err := engine.Load(ctx, r.Store, aggregates.Referrals, id)
	if err != nil {
		return err
	}
	cause := events.Event{ID: fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence), CorrelationID: id}
	return r.do(ctx, id, ref.ReceivingAuthority, r.Saga.OnFire(ref, kind, now), cause)
}

func (r *Deadline) do(ctx context.Context, id, authority string, re deadline.Reaction, cause events.Event) error {
	if re.Cancel {
		if err := r.Store.CancelAll(ctx, timerPrefix+"."+id); err != nil {
			return err
		}
	}
	err := issue(r.log(), "deadline saga", id, re.Commands, func(c aggregates.Command) (engine.Outcome, error) {
		msgID := "deadline:" + id + ":" + c.CommandName()
		if esc, ok := c.(aggregates.RecordDeadlineEscalation); ok {
			msgID += ":" + esc.EscalatedTo
		}
		return r.Engine.Handle(ctx, id, c, engine.Meta{Actor: "deadline-saga", CausationID: cause.ID, CorrelationID: cause.CorrelationID, MsgID: msgID})
	}, func(e events.Event) {
		if r.OnRecorded != nil {
			r.OnRecorded(e.Type, authority)
		}
	})
	if err != nil {
		return err
	}
	return schedule(ctx, r.Store, timerPrefix+"."+id, re.Timers)
}

func (r *Deadline) now() time.Time { return nowOr(r.Now) }

func (r *Deadline) log() *slog.Logger { return orDefault(r.Log) }
