package deadline

import (
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
)

// Timer kinds: the deadline events a referral waits for, in turn.
const (
	KindWarning    = "warning"
	KindBreach     = "breach"
	KindEscalation = "escalation"
)

// Reaction is what the saga wants done for a referral: commands, and the
// next moment it wants to be woken for it. It never cancels: its timers
// are shared sentinels (see sagarun.Deadline), and a referral whose clock
// stopped is simply never due.
type Reaction = sagas.Reaction[aggregates.Command]

// Timer asks to be woken at a time for a kind of deadline event.
type Timer = sagas.Timer

// Saga holds what the reaction rules need besides the event: the policy,
// the calendar and the time now.
type Saga struct {
	Policy   Policy
	Calendar *calendar.Calendar
}

// Its durable consumers, shared by every engine instance, the key prefix
// of its timers, and the actor on what it records.
const (
	EventsConsumer = "deadline-saga"
	TimersConsumer = "deadline-timers"
	TimerPrefix    = "deadline"
	Actor          = "deadline-saga"
)

// New is the deadline saga's reaction to a referral's events as a value:
// a receipt sets the deadline, and a deadline set is given what is
// already due and its next timer. It has no OnFire: its timers are not
// one per referral but shared sentinels, one per instant, and a fired one
// starts a sweep over the deadlines view; and what it records may make
// the next step due at once, so it is decided again after its writes.
// sagarun.Deadline carries it out, not the one runner; it takes its
// consumers, timer prefix, trigger (ReactsTo, React), actor and message
// ids (MsgID) from here.
func New(p Policy, cal *calendar.Calendar) sagas.Saga[aggregates.Referral, aggregates.Referral, aggregates.Command] {
	s := Saga{Policy: p, Calendar: cal}
	return sagas.Saga[aggregates.Referral, aggregates.Referral, aggregates.Command]{
		Name: "deadline saga", Actor: Actor,
		Target: aggregates.Referrals,
		Reads:  []sagas.Source{sagas.Of(aggregates.Referrals)},
		State:  sagas.Fold(aggregates.Referrals),
		Triggers: []sagas.Trigger[aggregates.Referral, aggregates.Command]{{
			Consumer: EventsConsumer, On: ReactsTo, React: s.React,
		}},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		MsgID: func(id string, _ aggregates.Referral, c aggregates.Command) string { return MsgID(id, c) },
		// No Label: sagarun.Deadline labels its counters itself, for the
		// sweep's batched writes as for these.
	}
}

// ReactsTo picks the events the saga reacts to: a receipt (or a referral
// into the scheme) and its deadline. Placement, withdrawal and leaving
// care need nothing: a referral whose clock stopped is never due.
func ReactsTo(e events.Event) bool {
	switch e.Data.(type) {
	case events.ReferralReceived, events.ReferralReferred, events.DeadlineSet:
		return true
	}
	return false
}

// MsgID is one message id per referral and deadline event (and, for an
// escalation, per whom it names): a step decided twice, by two instances,
// a redelivery or a sweep retried, is recorded once.
func MsgID(id string, c aggregates.Command) string {
	msgID := "deadline:" + id + ":" + c.CommandName()
	if esc, ok := c.(aggregates.RecordDeadlineEscalation); ok {
		msgID += ":" + esc.EscalatedTo
	}
	return msgID
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
// Placement, withdrawal and leaving care need no answer: a referral whose
// clock has stopped is simply never due again.
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
		return s.Due(r, now)
	}
	return Reaction{}
}

// Next is the referral's next deadline event still to record and when it
// falls due, or "" when none remains (the clock stopped, or the ladder's
// last step is on record). The warning is skipped once the breach is on
// record. How far the referral has climbed is read here from its state;
// when that step falls due is the ladder's (aggregates.DeadlineLadder),
// which projections.Deadlines reads too.
func (s Saga) Next(r aggregates.Referral) (kind string, at time.Time) {
	if !r.Open() || r.DueAt.IsZero() {
		return "", time.Time{}
	}
	step, at := aggregates.LadderOf(r).Next(s.step(r))
	return stepKinds[step], at
}

// step is how far a referral has climbed: an escalation is owed while the
// one on record is not whom the policy names by the escalation's time.
func (s Saga) step(r aggregates.Referral) aggregates.DeadlineStep {
	switch {
	case !r.Warned && !r.Breached:
		return aggregates.StepWarning
	case !r.Breached:
		return aggregates.StepBreach
	case !r.EscalateAt.IsZero() && r.EscalatedTo != s.Policy.EscalateTo(s.Calendar, r.DueAt, r.EscalateAt):
		return aggregates.StepEscalation
	}
	return aggregates.StepNone
}

// stepKinds names the ladder's steps as the saga's timers and metrics do.
var stepKinds = [...]string{aggregates.StepWarning: KindWarning, aggregates.StepBreach: KindBreach, aggregates.StepEscalation: KindEscalation, aggregates.StepNone: ""}

// Due is what is due for the referral at now: the deadline event whose
// time has come, if it is not on record yet, and the timer for the next.
// A referral recorded late gets at once what it is owed (a breach, with no
// warning before it, naming whoever the ladder has reached); one woken
// early gets its timer again. The runner calls it again after writing, so
// a step that fell due meanwhile is not left waiting for a timer.
func (s Saga) Due(r aggregates.Referral, now time.Time) Reaction {
	kind, at := s.Next(r)
	switch {
	case kind == "":
		return Reaction{}
	case now.After(r.DueAt) && !r.Breached:
		return Reaction{Commands: s.breach(r, now), Timers: s.escalationTimer(r, now)}
	case now.Before(at):
		return Reaction{Timers: []Timer{{Kind: kind, At: at}}}
	case kind == KindWarning:
		return Reaction{Commands: s.warning(r, now), Timers: []Timer{{Kind: KindBreach, At: aggregates.BreachTime(r.DueAt)}}}
	case kind == KindEscalation:
		to := s.Policy.EscalateTo(s.Calendar, r.DueAt, now)
		if to == r.EscalatedTo {
			return Reaction{}
		}
		return Reaction{Commands: []aggregates.Command{aggregates.RecordDeadlineEscalation{Deadline: r.DueAt, WorkingDaysElapsed: WorkingDaysElapsed(s.Calendar, r, now), EscalatedTo: to}}}
	}
	return Reaction{}
}

// escalationTimer is the escalation's timer, if the ladder has a step still
// to come.
func (s Saga) escalationTimer(r aggregates.Referral, now time.Time) []Timer {
	if r.EscalateAt.IsZero() || !now.Before(r.EscalateAt) {
		return nil
	}
	return []Timer{{Kind: KindEscalation, At: r.EscalateAt}}
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
