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
	return runConsumers(ctx, s.log(),
		consumer{"safeguarding saga events", func(ctx context.Context) error {
			return s.Store.ConsumeEvents(ctx, SafeguardingEventsConsumer, events.CareSubject("*"), false, func(st eventstore.Stored) error { return s.HandleCommit(ctx, st) })
		}},
		consumer{"safeguarding saga timers", func(ctx context.Context) error {
			return s.Store.ConsumeTimers(ctx, SafeguardingTimersConsumer, safeguardingTimerPrefix+".>", func(f eventstore.Fired) error { return s.HandleFired(ctx, f) })
		}})
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
	c, _, err := engine.LoadHolding(ctx, s.Engine, aggregates.Cares, id, st.Sequence)
	if err != nil {
		return err
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
	id, kind, err := timerKey(f.Key, safeguardingTimerPrefix)
	if err != nil {
		return err
	}
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
	err := issue(s.log(), "safeguarding saga", id, re.Commands, func(cmd aggregates.CareCommand) (engine.Outcome, error) {
		// One message id per episode and step: a fire handled twice, by two
		// instances or after a restart, is recorded once (and the decider
		// refuses what is on record).
		msgID := fmt.Sprintf("safeguarding:%s:%s:%d", id, cmd.CommandName(), episodeOf(cmd))
		return engine.Handle(ctx, s.Engine, aggregates.Cares, id, cmd, engine.Meta{Actor: "safeguarding-saga", CausationID: causeID, CorrelationID: id, MsgID: msgID})
	}, func(e events.Event) {
		if s.OnRecorded != nil {
			s.OnRecorded(e.Type, c.Authority)
		}
	})
	if err != nil {
		return err
	}
	return schedule(ctx, s.Store, safeguardingTimerPrefix+"."+id, re.Timers)
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

func (s *Safeguarding) now() time.Time { return nowOr(s.Now) }

func (s *Safeguarding) log() *slog.Logger { return orDefault(s.Log) }
