package aggregates

import "time"

// DeadlineStep is the next deadline event a referral waits for. The
// deadline saga and the deadlines view (projections.Deadlines) each work
// out how far a referral has climbed, from what each holds; which instant
// that step falls due at is the ladder's, kept here once so the two
// cannot drift apart. The values are stored in the view's snapshots, so
// their order is fixed.
type DeadlineStep uint8

const (
	StepWarning DeadlineStep = iota
	StepBreach
	StepEscalation
	StepNone
)

// DeadlineLadder is a referral's deadline instants, as its deadline.set
// recorded them: the warning, the deadline, and the escalation (zero when
// the policy's ladder has no step after the breach).
type DeadlineLadder struct {
	Warning, Due, Escalation time.Time
}

// LadderOf is a referral's ladder.
func LadderOf(r Referral) DeadlineLadder {
	return DeadlineLadder{Warning: r.WarningAt, Due: r.DueAt, Escalation: r.EscalateAt}
}

// Next is the step a referral at step waits for and when it falls due:
// StepNone when no step remains (past the last, or an escalation the
// policy does not have).
func (l DeadlineLadder) Next(step DeadlineStep) (DeadlineStep, time.Time) {
	switch step {
	case StepWarning:
		return StepWarning, l.Warning
	case StepBreach:
		return StepBreach, BreachTime(l.Due)
	case StepEscalation:
		if !l.Escalation.IsZero() {
			return StepEscalation, l.Escalation
		}
	}
	return StepNone, time.Time{}
}

// BreachTime: a deadline is the last millisecond of its day, so the
// breach is the moment after it.
func BreachTime(due time.Time) time.Time { return due.Add(time.Millisecond) }
