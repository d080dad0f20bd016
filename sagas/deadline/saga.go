package deadline

import (
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

// Timer kinds. Each referral has at most one pending timer: the next of
// these to fall due.
const (
	KindWarning    = "warning"
	KindBreach     = "breach"
	KindEscalation = "escalation"
)

// Reaction is what the saga wants done: commands on the referral, timers to
// set, or the referral's timers cancelled. The runner does it.
type Reaction struct {
	Commands []aggregates.Command
	Timers   []Timer
	Cancel   bool
}

// Timer asks for a reminder of a kind at a time.
type Timer struct {
	Kind string
	At   time.Time
}

// Saga holds what the reaction rules need besides the event: the policy,
// the calendar and the time now.
type Saga struct {
	Policy   Policy
	Calendar *calendar.Calendar
}

// Rule is the policy as the referral decider takes it, so that a
// referral's receipt records its deadline in the same commit
// (aggregates.ReferralsSettingDeadlines).
func (s Saga) Rule() aggregates.DeadlineRule {
	return func(route string, receivedAt time.Time) (events.DeadlineSet, error) {
		return s.Policy.Compute(s.Calendar, route, receivedAt)
	}
}

// React is the saga's answer to an event of a referral whose state, as
// loaded now (not as it was when the event was written), is r. It is pure:
// the same inputs give the same reaction, so redelivery is harmless.
func (s Saga) React(r aggregates.Referral, e events.Event, now time.Time) Reaction {
	route := ""
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		route = d.Route
	case events.ReferralReferred:
		route = d.Route
	}
	switch e.Data.(type) {
	case events.ReferralReceived, events.ReferralReferred:
		// The transfer clock starts at the referral into the scheme, or at
		// receipt for a referral received directly; a received that follows
		// an accepted allocation finds the deadline already set.
		if !r.DueAt.IsZero() {
			return Reaction{} // already set: a redelivery
		}
		dl, err := s.Policy.Compute(s.Calendar, route, e.OccurredAt)
		if err != nil {
			return Reaction{}
		}
		return Reaction{Commands: []aggregates.Command{aggregates.SetDeadline{Deadline: dl}}}
	case events.DeadlineSet:
		return s.arm(r, now)
	}
	if Ends(e) {
		return Reaction{Cancel: true}
	}
	return Reaction{}
}

// Ends says whether an event ends the referral's clock, so that its timer
// is cancelled whatever state the referral is in: the runner needs no load
// of the referral to react to it.
func Ends(e events.Event) bool {
	switch e.Data.(type) {
	case events.ReferralPlaced, events.ReferralWithdrawn, events.ChildLeftCare:
		return true
	}
	return false
}

// arm records at once what is already due (a backdated referral) and sets
// the next timer. One timer is pending at a time (warning, then breach,
// then escalation), each armed when the one before fires: a referral placed
// in time, as most are, costs one schedule and its cancellation rather
// than three.
func (s Saga) arm(r aggregates.Referral, now time.Time) Reaction {
	if !r.Open() || r.DueAt.IsZero() {
		return Reaction{}
	}
	switch {
	case now.After(r.DueAt):
		return Reaction{Commands: s.breach(r, now), Timers: s.escalationTimer(r, now)}
	case !now.Before(r.WarningAt):
		return Reaction{Commands: s.warning(r, now), Timers: []Timer{{KindBreach, breachTime(r.DueAt)}}}
	default:
		return Reaction{Timers: []Timer{{KindWarning, r.WarningAt}}}
	}
}

// escalationTimer is the escalation's timer, if the ladder has a step still
// to come.
func (s Saga) escalationTimer(r aggregates.Referral, now time.Time) []Timer {
	if r.EscalateAt.IsZero() || !now.Before(r.EscalateAt) {
		return nil
	}
	return []Timer{{KindEscalation, r.EscalateAt}}
}

// breachTime: the deadline is the last millisecond of a day; the breach is
// the moment after it.
func breachTime(due time.Time) time.Time { return due.Add(time.Millisecond) }

// OnFire is the saga's answer to a fired timer of a referral whose state is
// now r: the event it stands for, and the next timer. A timer that no
// longer applies (the child was placed, the referral withdrawn) does
// nothing; one whose event is already recorded (a redelivery) only arms
// the next timer again, in case the first handling stopped before it; one
// that fired early is set again.
func (s Saga) OnFire(r aggregates.Referral, kind string, now time.Time) Reaction {
	if !r.Open() || r.DueAt.IsZero() {
		return Reaction{}
	}
	switch kind {
	case KindWarning:
		if now.Before(r.WarningAt.Truncate(time.Second)) {
			return Reaction{Timers: []Timer{{KindWarning, r.WarningAt}}}
		}
		return Reaction{Commands: s.warning(r, now), Timers: []Timer{{KindBreach, breachTime(r.DueAt)}}}
	case KindBreach:
		if !now.After(r.DueAt.Truncate(time.Second)) {
			return Reaction{Timers: []Timer{{KindBreach, breachTime(r.DueAt)}}}
		}
		return Reaction{Commands: s.breach(r, now), Timers: s.escalationTimer(r, now)}
	case KindEscalation:
		if !r.Breached {
			return Reaction{}
		}
		to := s.Policy.EscalateTo(s.Calendar, r.DueAt, now)
		if to == r.EscalatedTo {
			return Reaction{}
		}
		return Reaction{Commands: []aggregates.Command{aggregates.RecordDeadlineEscalation{Deadline: r.DueAt, WorkingDaysElapsed: WorkingDaysElapsed(s.Calendar, r, now), EscalatedTo: to}}}
	}
	return Reaction{}
}

func (s Saga) warning(r aggregates.Referral, now time.Time) []aggregates.Command {
	if r.Warned || r.Breached {
		return nil
	}
	return []aggregates.Command{aggregates.RecordDeadlineWarning{Deadline: r.DueAt, WorkingDaysElapsed: WorkingDaysElapsed(s.Calendar, r, now), EscalatedTo: s.Policy.WarnTo}}
}

func (s Saga) breach(r aggregates.Referral, now time.Time) []aggregates.Command {
	if r.Breached {
		return nil
	}
	return []aggregates.Command{aggregates.RecordDeadlineBreach{Deadline: r.DueAt, WorkingDaysElapsed: WorkingDaysElapsed(s.Calendar, r, now), EscalatedTo: s.Policy.EscalateTo(s.Calendar, r.DueAt, now)}}
}
