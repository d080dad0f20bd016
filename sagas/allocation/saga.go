package allocation

import (
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// Timer kinds. A referral has at most one pending timer of each kind, for
// its current allocation.
const (
	KindReminder   = "reminder"
	KindEscalation = "escalation"
)

// Saga holds what the reactions need besides the event.
type Saga struct {
	Policy   Policy
	Calendar *calendar.Calendar
}

// React answers an event of a referral whose state, as loaded now, is r.
// It is pure, so a redelivered event gets the same answer, and the decider
// refuses what is already on record.
func (s Saga) React(r aggregates.Referral, e events.Event, now time.Time) deadline.Reaction {
	switch e.Data.(type) {
	case events.ReferralAllocated:
		return s.arm(r, now)
	case events.AllocationAccepted, events.AllocationException, events.ReferralWithdrawn:
		return deadline.Reaction{Cancel: true}
	}
	return deadline.Reaction{}
}

// arm records at once what is already due and sets timers for the rest.
func (s Saga) arm(r aggregates.Referral, now time.Time) deadline.Reaction {
	if r.Status != aggregates.StatusAwaitingAcceptance {
		return deadline.Reaction{}
	}
	remind := s.Policy.RemindTime(r.AllocatedAt, r.RespondBy)
	var re deadline.Reaction
	switch {
	case now.After(r.RespondBy):
		re.Commands = s.escalate(r)
	case !now.Before(remind):
		re.Commands = s.remind(r)
		re.Timers = []deadline.Timer{{Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}
	default:
		re.Timers = []deadline.Timer{{Kind: KindReminder, At: remind}, {Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}
	}
	return re
}

// OnFire answers a fired timer of a referral whose state is now r. A timer
// for an allocation already answered does nothing; one that fired early is
// set again.
func (s Saga) OnFire(r aggregates.Referral, kind string, now time.Time) deadline.Reaction {
	if r.Status != aggregates.StatusAwaitingAcceptance {
		return deadline.Reaction{}
	}
	switch kind {
	case KindReminder:
		at := s.Policy.RemindTime(r.AllocatedAt, r.RespondBy)
		if now.Before(at.Truncate(time.Second)) {
			return deadline.Reaction{Timers: []deadline.Timer{{Kind: KindReminder, At: at}}}
		}
		return deadline.Reaction{Commands: s.remind(r)}
	case KindEscalation:
		if !now.After(r.RespondBy.Truncate(time.Second)) {
			return deadline.Reaction{Timers: []deadline.Timer{{Kind: KindEscalation, At: r.RespondBy.Add(time.Millisecond)}}}
		}
		return deadline.Reaction{Commands: s.escalate(r)}
	}
	return deadline.Reaction{}
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
