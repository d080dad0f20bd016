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
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// Durable consumers of the allocation response saga, shared by every
// engine instance.
const (
	AllocationEventsConsumer = "allocation-saga"
	AllocationTimersConsumer = "allocation-timers"
)

const allocationTimerPrefix = "allocation"

// Allocation drives the allocation response saga: allocations arm a
// reminder and an escalation as JetStream message schedules; answers and
// withdrawals cancel them; fired timers record the reminder or the
// escalation through the engine, once (the decider refuses a second, and
// the message id is derived from the allocation).
type Allocation struct {
	Saga   allocation.Saga
	Engine *engine.Engine
	Store  *eventstore.Store
	Now    func() time.Time
	Log    *slog.Logger
	// OnRecorded, if set, hears of each reminder or escalation recorded,
	// with the referral's region slug.
	OnRecorded func(eventType, region string)
}

// Run runs both consumers until ctx ends.
func (a *Allocation) Run(ctx context.Context) error {
	return runConsumers(ctx, a.log(),
		consumer{"allocation saga events", func(ctx context.Context) error {
			return a.Store.ConsumeEvents(ctx, AllocationEventsConsumer, events.ReferralSubject("*"), false, func(st eventstore.Stored) error { return a.HandleCommit(ctx, st) })
		}},
		consumer{"allocation saga timers", func(ctx context.Context) error {
			return a.Store.ConsumeTimers(ctx, AllocationTimersConsumer, allocationTimerPrefix+".>", func(f eventstore.Fired) error { return a.HandleFired(ctx, f) })
		}})
}

// HandleCommit reacts to one commit of a referral.
func (a *Allocation) HandleCommit(ctx context.Context, st eventstore.Stored) error {
	var relevant []events.Event
	for _, e := range st.Commit.Events {
		switch e.Data.(type) {
		case events.ReferralAllocated, events.AllocationAccepted, events.AllocationException, events.ReferralWithdrawn:
			relevant = append(relevant, e)
		}
	}
	if len(relevant) == 0 {
		return nil
	}
	id := relevant[0].AggregateID
	ref, _, err := engine.LoadHolding(ctx, a.Engine, aggregates.Referrals, id, st.Sequence)
	if err != nil {
		return err
	}
	for _, e := range relevant {
		if err := a.do(ctx, ref, a.Saga.React(ref, e, a.now()), e.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// HandleFired acts on one fired timer.
func (a *Allocation) HandleFired(ctx context.Context, f eventstore.Fired) error {
	id, kind, err := timerKey(f.Key, allocationTimerPrefix)
	if err != nil {
		return err
	}
	ref, _, err := engine.Load(ctx, a.Store, aggregates.Referrals, id)
	if err != nil {
		return err
	}
	return a.do(ctx, ref, a.Saga.OnFire(ref, kind, a.now()), fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence), id)
}

func (a *Allocation) do(ctx context.Context, ref aggregates.Referral, re deadline.Reaction, causeID, id string) error {
	if re.Cancel {
		if err := a.Store.CancelAll(ctx, allocationTimerPrefix+"."+id); err != nil {
			return err
		}
	}
	err := issue(a.log(), "allocation saga", id, re.Commands, func(c aggregates.Command) (engine.Outcome, error) {
		// One message id per allocation and kind: a fire handled twice, by
		// two instances or after a restart, is recorded once.
		msgID := fmt.Sprintf("allocation:%s:%s:%d", id, c.CommandName(), ref.RespondBy.UnixMilli())
		return a.Engine.Handle(ctx, id, c, engine.Meta{Actor: "allocation-saga", CausationID: causeID, CorrelationID: id, MsgID: msgID})
	}, func(e events.Event) {
		if a.OnRecorded != nil {
			a.OnRecorded(e.Type, ref.Region)
		}
	})
	if err != nil {
		return err
	}
	return schedule(ctx, a.Store, allocationTimerPrefix+"."+id, re.Timers)
}

func (a *Allocation) now() time.Time { return nowOr(a.Now) }

func (a *Allocation) log() *slog.Logger { return orDefault(a.Log) }
