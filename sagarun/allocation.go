package sagarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	done := make(chan struct{}, 2)
	go func() {
		keepRunning(ctx, a.log(), "allocation saga events", func(ctx context.Context) error {
			return a.Store.ConsumeEvents(ctx, AllocationEventsConsumer, events.ReferralSubject("*"), false, func(st eventstore.Stored) error { return a.HandleCommit(ctx, st) })
		})
		done <- struct{}{}
	}()
	go func() {
		keepRunning(ctx, a.log(), "allocation saga timers", func(ctx context.Context) error {
			return a.Store.ConsumeTimers(ctx, AllocationTimersConsumer, allocationTimerPrefix+".>", func(f eventstore.Fired) error { return a.HandleFired(ctx, f) })
		})
		done <- struct{}{}
	}()
	<-done
	<-done
	return ctx.Err()
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
	ref, stored, err := engine.Load(ctx, a.Store, aggregates.Referrals, id)
	if err != nil {
		return err
	}
	if eventstore.LastSequenceOf(stored) < st.Sequence {
		return fmt.Errorf("referral %s loaded without its commit at sequence %d", id, st.Sequence)
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
	parts := strings.Split(f.Key, ".")
	if len(parts) != 3 || parts[0] != allocationTimerPrefix {
		return fmt.Errorf("%w: timer key %q", eventstore.ErrPermanent, f.Key)
	}
	id, kind := parts[1], parts[2]
	ref, _, err := engine.Load(ctx, a.Store, aggregates.Referrals, id)
	if err != nil {
		return err
	}
	return a.do(ctx, ref, a.Saga.OnFire(ref, kind, a.now()), fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence), id)
}

func (a *Allocation) do(ctx context.Context, ref aggregates.Referral, re deadline.Reaction, causeID, id string) error {
	if re.Cancel {
		if err := a.Store.Cancel(ctx, allocationTimerPrefix+"."+id); err != nil {
			return err
		}
	}
	for _, c := range re.Commands {
		// One message id per allocation and kind: a fire handled twice, by
		// two instances or after a restart, is recorded once.
		msgID := fmt.Sprintf("allocation:%s:%s:%d", id, c.CommandName(), ref.RespondBy.UnixMilli())
		out, err := a.Engine.Handle(ctx, id, c, engine.Meta{Actor: "allocation-saga", CausationID: causeID, CorrelationID: id, MsgID: msgID})
		var refusal *aggregates.Refusal
		switch {
		case errors.As(err, &refusal):
			a.log().Debug("allocation saga: command refused", "referral", id, "command", c.CommandName(), "reason", refusal.Error())
		case err != nil:
			return err
		case !out.Replayed:
			for _, e := range out.Events {
				a.log().Info(strings.TrimPrefix(e.Type, "referral."), "referral", id, "authority", ref.AllocatedTo, "event", e.ID)
				if a.OnRecorded != nil {
					a.OnRecorded(e.Type, ref.Region)
				}
			}
		}
	}
	for _, t := range re.Timers {
		if err := a.Store.Schedule(ctx, allocationTimerPrefix+"."+id+"."+t.Kind, t.At, nil); err != nil {
			return err
		}
	}
	return nil
}

func (a *Allocation) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Allocation) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
