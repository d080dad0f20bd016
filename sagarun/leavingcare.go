package sagarun

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
)

// Durable consumers of the leaving-care saga, shared by every engine
// instance.
const (
	LeavingCareReferralConsumer = "leaving-care-referrals"
	LeavingCareCareConsumer     = "leaving-care-saga"
	LeavingCareTimersConsumer   = "leaving-care-timers"
)

const leavingCareTimerPrefix = "leavingcare"

// LeavingCare drives the leaving-care saga: a referral placed (or its age
// assessed) sets the date of birth on the child's care; a date of birth
// set arms a server-side timer per milestone (16, 17 and a half, 18); a
// fired one records the milestone through the engine, once. A child who
// leaves care or whose referral is withdrawn has the timers cancelled.
type LeavingCare struct {
	Saga   leavingcare.Saga
	Engine *engine.Engine
	Store  *eventstore.Store
	Now    func() time.Time
	Log    *slog.Logger
	// OnRecorded, if set, hears of each milestone recorded (not of
	// repeats), with the authority.
	OnRecorded func(eventType, authority string)
}

// Run runs the three consumers until ctx ends.
func (l *LeavingCare) Run(ctx context.Context) error {
	return runConsumers(ctx, l.log(),
		consumer{"leaving-care referrals", func(ctx context.Context) error {
			return l.Store.ConsumeEvents(ctx, LeavingCareReferralConsumer, events.ReferralSubject("*"), false, func(st eventstore.Stored) error { return l.HandleReferralCommit(ctx, st) })
		}},
		consumer{"leaving-care events", func(ctx context.Context) error {
			return l.Store.ConsumeEvents(ctx, LeavingCareCareConsumer, events.CareSubject("*"), false, func(st eventstore.Stored) error { return l.HandleCareCommit(ctx, st) })
		}},
		consumer{"leaving-care timers", func(ctx context.Context) error {
			return l.Store.ConsumeTimers(ctx, LeavingCareTimersConsumer, leavingCareTimerPrefix+".>", func(f eventstore.Fired) error { return l.HandleFired(ctx, f) })
		}})
}

// HandleReferralCommit: a placement or an age assessment sets the date of
// birth; leaving care or a withdrawal cancels the milestones.
func (l *LeavingCare) HandleReferralCommit(ctx context.Context, st eventstore.Stored) error {
	set, cancel := false, false
	id := ""
	for _, e := range st.Commit.Events {
		switch e.Data.(type) {
		case events.ReferralPlaced, events.AgeAssessed:
			set, id = true, e.AggregateID
		case events.ChildLeftCare, events.ReferralWithdrawn:
			cancel, id = true, e.AggregateID
		}
	}
	if cancel {
		return l.Store.CancelAll(ctx, leavingCareTimerPrefix+"."+id)
	}
	if !set {
		return nil
	}
	ref, stored, err := engine.LoadHolding(ctx, l.Engine, aggregates.Referrals, id, st.Sequence)
	if err != nil {
		return err
	}
	var evs []events.Event
	for _, s := range stored {
		evs = append(evs, s.Commit.Events...)
	}
	c, _, err := engine.Load(ctx, l.Store, aggregates.Cares, id)
	if err != nil {
		return err
	}
	child := aggregates.ChildOf(ref, "")
	if err := l.run(ctx, id, c, l.Saga.OnReferral(c, child, evs), fmt.Sprintf("referral:%d", st.Sequence)); err != nil {
		return err
	}
	if child.Status != aggregates.StatusPlaced {
		return nil
	}
	// A date of birth set before the placement (the Home Office's record)
	// is armed now; one just set is armed again, which replaces the same
	// timers.
	if c, _, err = engine.Load(ctx, l.Store, aggregates.Cares, id); err != nil {
		return err
	}
	return schedule(ctx, l.Store, leavingCareTimerPrefix+"."+id, l.Saga.Timers(c))
}

// HandleCareCommit: a date of birth set arms the milestones.
func (l *LeavingCare) HandleCareCommit(ctx context.Context, st eventstore.Stored) error {
	id := ""
	for _, e := range st.Commit.Events {
		if _, ok := e.Data.(events.CareDateOfBirthSet); ok {
			id = e.AggregateID
		}
	}
	if id == "" {
		return nil
	}
	c, _, err := engine.LoadHolding(ctx, l.Engine, aggregates.Cares, id, st.Sequence)
	if err != nil {
		return err
	}
	return schedule(ctx, l.Store, leavingCareTimerPrefix+"."+id, l.Saga.Timers(c))
}

// HandleFired acts on one fired milestone: leavingcare.<referral>.<kind>.
func (l *LeavingCare) HandleFired(ctx context.Context, f eventstore.Fired) error {
	id, kind, err := timerKey(f.Key, leavingCareTimerPrefix)
	if err != nil {
		return err
	}
	ref, _, err := engine.Load(ctx, l.Store, aggregates.Referrals, id)
	if err != nil {
		return err
	}
	c, _, err := engine.Load(ctx, l.Store, aggregates.Cares, id)
	if err != nil {
		return err
	}
	cmds, timers := l.Saga.OnFire(c, aggregates.ChildOf(ref, ""), kind, l.now())
	if err := l.run(ctx, id, c, cmds, fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence)); err != nil {
		return err
	}
	return schedule(ctx, l.Store, leavingCareTimerPrefix+"."+id, timers)
}

func (l *LeavingCare) run(ctx context.Context, id string, c aggregates.Care, cmds []aggregates.CareCommand, causeID string) error {
	return issue(l.log(), "leaving-care saga", id, cmds, func(cmd aggregates.CareCommand) (engine.Outcome, error) {
		msgID := fmt.Sprintf("leaving-care:%s:%s", id, cmd.CommandName())
		if d, ok := cmd.(aggregates.SetDateOfBirth); ok {
			msgID += ":" + d.DateOfBirth + ":" + d.Basis
		}
		return engine.Handle(ctx, l.Engine, aggregates.Cares, id, cmd, engine.Meta{Actor: "leaving-care-saga", CausationID: causeID, CorrelationID: id, MsgID: msgID})
	}, func(e events.Event) {
		if l.OnRecorded != nil {
			l.OnRecorded(e.Type, c.Authority)
		}
	})
}

func (l *LeavingCare) now() time.Time { return nowOr(l.Now) }

func (l *LeavingCare) log() *slog.Logger { return orDefault(l.Log) }
