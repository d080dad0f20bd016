package allocation

import (
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
)

// Timer kinds. A referral has at most one pending timer of each kind, for
// its current allocation.
const (
	KindReminder   = "reminder"
	KindEscalation = "escalation"
)

// Its durable consumers, shared by every engine instance, and its timers'
// keys ("allocation.<referral>.<kind>").
const (
	EventsConsumer = "allocation-saga"
	TimersConsumer = "allocation-timers"
	TimerPrefix    = "allocation"
)

// Reaction is what the saga wants done for a referral.
type Reaction = sagas.Reaction[aggregates.Command]

// Saga holds what the reactions need besides the event.
type Saga struct {
	Policy   Policy
	Calendar *calendar.Calendar
}

// New is the allocation response saga as a value, for sagarun's runner:
// allocations arm a reminder and an escalation; answers and withdrawals
// cancel them; fired timers record the reminder or the escalation, once.
func New(p Policy, cal *calendar.Calendar) sagas.Saga[aggregates.Referral, aggregates.Referral, aggregates.Command] {
	s := Saga{Policy: p, Calendar: cal}
	return sagas.Saga[aggregates.Referral, aggregates.Referral, aggregates.Command]{
		Name: "allocation saga", Actor: "allocation-saga",
		Target: aggregates.Referrals,
		Reads:  []sagas.Source{sagas.Of(aggregates.Referrals)},
		State:  sagas.Fold(aggregates.Referrals),
		Triggers: []sagas.Trigger[aggregates.Referral, aggregates.Command]{{
			Consumer: EventsConsumer, On: reactsTo, React: s.React,
		}},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		OnFire: s.OnFire,
		// One message id per allocation and kind: a fire handled twice, by
		// two instances or after a restart, is recorded once.
		MsgID: func(id string, r aggregates.Referral, c aggregates.Command) string {
			return fmt.Sprintf("allocation:%s:%s:%d", id, c.CommandName(), r.RespondBy.UnixMilli())
		},
		// The metrics count reminders and escalations by region.
		Label: func(r aggregates.Referral) string { return r.Region },
	}
}

func reactsTo(e events.Event) bool {
	switch e.Data.(type) {
	case events.ReferralAllocated, events.AllocationAccepted, events.AllocationException, events.ReferralWithdrawn:
		return true
	}
	return false
}

// React answers an event of a referral whose state, as loaded now, is r.
// It is pure, so a redelivered event gets the same answer, and the decider
// refuses what is already on record.
func (s Saga) React(r aggregates.Referral, e events.Event, now time.Time) Reaction {
	switch e.Data.(type) {
	case events.ReferralAllocated:
		return s.arm(r, now)
	case events.AllocationAccepted, events.AllocationException, events.ReferralWithdrawn:
		return Reaction{CancelAll: true}
	}
	return Reaction{}
}

// arm records at once what is already due and sets timers for the rest.
func (s Saga) arm(r aggregates.Referral, now time.Time) Reaction {
	if r.Status != aggregates.StatusAwaitingAcceptance {
		return Reaction{}
	}
	remind := s.Policy.RemindTime(r.AllocatedAt, r.RespondBy)
	var re Reaction
	switch {
	case now.After(r.RespondBy):
		re.Commands = s.escalate(r)
	case !now.Before(remind):
		re.Commands = s.remind(r)
		re.Timers = []sagas.Timer{{Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}
	default:
		re.Timers = []sagas.Timer{{Kind: KindReminder, At: remind}, {Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}
	}
	return re
}

// OnFire answers a fired timer of a referral whose state is now r. A timer
// for an allocation already answered does nothing; one that fired early is
// set again.
func (s Saga) OnFire(r aggregates.Referral, kind string, now time.Time) Reaction {
	if r.Status != aggregates.StatusAwaitingAcceptance {
		return Reaction{}
	}
	switch kind {
	case KindReminder:
		at := s.Policy.RemindTime(r.AllocatedAt, r.RespondBy)
		if now.Before(at.Truncate(time.Second)) {
			return Reaction{Timers: []sagas.Timer{{Kind: KindReminder, At: at}}}
		}
		return Reaction{Commands: s.remind(r)}
	case KindEscalation:
		if !now.After(r.RespondBy.Truncate(time.Second)) {
			return Reaction{Timers: []sagas.Timer{{Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}}
		}
		return Reaction{Commands: s.escalate(r)}
	}
	return Reaction{}
}

func (s Saga) remind(r aggregates.Referral) []aggregates.Command {
	if r.Reminded || r.AllocationEscalated {
		return nil
	}
	return []aggregates.Command{aggregates.RecordAllocationReminder{RespondBy: r.RespondBy}}
}

func (s Saga) escalate(r aggregates.Referral) []aggregates.Command {
	if r.AllocationEscalated {
		return nil
	}
	return []aggregates.Command{aggregates.RecordAllocationEscalation{RespondBy: r.RespondBy, EscalatedTo: s.Policy.EscalateTo}}
}
