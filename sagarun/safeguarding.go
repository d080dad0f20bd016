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
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// Durable consumers of the safeguarding saga, shared by every engine
// instance.
const (
	SafeguardingEventsConsumer = "safeguarding-saga"
	SafeguardingTimersConsumer = "safeguarding-timers"
)

const safeguardingTimerPrefix = "safeguarding"

// Safeguarding drives the safeguarding saga on the children's care
// events: a missing child's police and safeguarding hub are notified at
// once; the strategy discussion and the return interview get server-side
// timers, and a fired one records the overdue discussion, or the
// interview's warning and breach, through the engine, once.
type Safeguarding struct {
	Saga   safeguarding.Saga
	Engine *engine.Engine
	Store  *eventstore.Store
	Now    func() time.Time
	Log    *slog.Logger
	// OnRecorded, if set, hears of each event the saga recorded (not of
	// repeats), with the authority.
	OnRecorded func(eventType, authority string)
}

// Run runs both consumers until ctx ends.
func (s *Safeguarding) Run(ctx context.Context) error {
	done := make(chan struct{}, 2)
	go func() {
		keepRunning(ctx, s.log(), "safeguarding saga events", func(ctx context.Context) error {
			return s.Store.ConsumeEvents(ctx, SafeguardingEventsConsumer, events.CareSubject("*"), false, func(st eventstore.Stored) error { return s.HandleCommit(ctx, st) })
		})
		done <- struct{}{}
	}()
	go func() {
		keepRunning(ctx, s.log(), "safeguarding saga timers", func(ctx context.Context) error {
			return s.Store.ConsumeTimers(ctx, SafeguardingTimersConsumer, safeguardingTimerPrefix+".>", func(f eventstore.Fired) error { return s.HandleFired(ctx, f) })
		})
		done <- struct{}{}
	}()
	<-done
	<-done
	return ctx.Err()
}

// HandleCommit reacts to one commit of a child's care.
func (s *Safeguarding) HandleCommit(ctx context.Context, st eventstore.Stored) error {
	var relevant []events.Event
	for _, e := range st.Commit.Events {
		switch e.Data.(type) {
		case events.MissingReported, events.MissingReturned, events.StrategyDiscussionHeld, events.ReturnInterviewOffered:
			relevant = append(relevant, e)
		}
	}
	if len(relevant) == 0 {
		return nil
	}
	id := relevant[0].AggregateID
	c, stored, err := engine.Load(ctx, s.Store, aggregates.Cares, id)
	if err != nil {
		return err
	}
	if eventstore.LastSequenceOf(stored) < st.Sequence {
		return fmt.Errorf("care %s loaded without its commit at sequence %d", id, st.Sequence)
	}
	for _, e := range relevant {
		if err := s.do(ctx, id, c, s.Saga.React(c, e), e.ID); err != nil {
			return err
		}
	}
	return nil
}

// HandleFired acts on one fired timer: safeguarding.<referral>.<episode>.<kind>.
func (s *Safeguarding) HandleFired(ctx context.Context, f eventstore.Fired) error {
	parts := strings.SplitN(f.Key, ".", 3)
	if len(parts) != 3 || parts[0] != safeguardingTimerPrefix {
		return fmt.Errorf("%w: timer key %q", eventstore.ErrPermanent, f.Key)
	}
	id, kind := parts[1], parts[2]
	if _, _, err := safeguarding.ParseKind(kind); err != nil {
		return fmt.Errorf("%w: %v", eventstore.ErrPermanent, err)
	}
	c, _, err := engine.Load(ctx, s.Store, aggregates.Cares, id)
	if err != nil {
		return err
	}
	return s.do(ctx, id, c, s.Saga.OnFire(c, kind, s.now()), fmt.Sprintf("timer:%s:%d", f.Key, f.Sequence))
}

func (s *Safeguarding) do(ctx context.Context, id string, c aggregates.Care, re safeguarding.Reaction, causeID string) error {
	for _, k := range re.Cancel {
		if err := s.Store.Cancel(ctx, safeguardingTimerPrefix+"."+id+"."+k); err != nil {
			return err
		}
	}
	for _, cmd := range re.Commands {
		// One message id per episode and step: a fire handled twice, by two
		// instances or after a restart, is recorded once (and the decider
		// refuses what is on record).
		msgID := fmt.Sprintf("safeguarding:%s:%s:%d", id, cmd.CommandName(), episodeOf(cmd))
		out, err := engine.Handle(ctx, s.Engine, aggregates.Cares, id, cmd, engine.Meta{Actor: "safeguarding-saga", CausationID: causeID, CorrelationID: id, MsgID: msgID})
		var refusal *aggregates.Refusal
		switch {
		case errors.As(err, &refusal):
			s.log().Debug("safeguarding saga: command refused", "referral", id, "command", cmd.CommandName(), "reason", refusal.Error())
		case err != nil:
			return err
		case !out.Replayed:
			for _, e := range out.Events {
				s.log().Info(e.Type, "referral", id, "event", e.ID)
				if s.OnRecorded != nil {
					s.OnRecorded(e.Type, c.Authority)
				}
			}
		}
	}
	return schedule(ctx, s.Store, safeguardingTimerPrefix+"."+id, re.Timers)
}

func schedule(ctx context.Context, store *eventstore.Store, prefix string, timers []deadline.Timer) error {
	for _, t := range timers {
		if err := store.Schedule(ctx, prefix+"."+t.Kind, t.At, nil); err != nil {
			return err
		}
	}
	return nil
}

func episodeOf(cmd aggregates.CareCommand) int {
	switch c := cmd.(type) {
	case aggregates.NotifySafeguarding:
		return c.Episode
	case aggregates.RecordStrategyOverdue:
		return c.Episode
	case aggregates.RecordInterviewWarning:
		return c.Episode
	case aggregates.RecordInterviewBreach:
		return c.Episode
	}
	return 0
}

func (s *Safeguarding) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Safeguarding) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
