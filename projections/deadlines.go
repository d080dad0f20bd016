package projections

import (
	"slices"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// Deadlines is the deadline saga's index: for every referral whose clock
// runs, when its next deadline event (warning, breach, escalation) falls
// due. The log already holds every deadline (deadline.set), so the saga
// needs no timer per referral: a few server-side sentinels wake it, and it
// asks this view who is due.
//
// An entry is kept only while the referral's clock runs: placement,
// withdrawal and leaving care end the clock for good, so the entry goes.
type Deadlines struct {
	Refs map[string]*DeadlineEntry `json:"refs"`
}

// DeadlineEntry is one running referral, small: the status for the clock
// and the three instants as unix milliseconds.
type DeadlineEntry struct {
	Status   aggregates.Status `json:"s"`
	Due      int64             `json:"d,omitempty"`
	Warn     int64             `json:"w,omitempty"`
	Escalate int64             `json:"e,omitempty"`
	// Step is how far the ladder has got: the next event to record.
	Step DeadlineStep `json:"n,omitempty"`
}

// DeadlineStep is the next deadline event a referral waits for.
type DeadlineStep = aggregates.DeadlineStep

const (
	StepWarning    = aggregates.StepWarning
	StepBreach     = aggregates.StepBreach
	StepEscalation = aggregates.StepEscalation
	StepNone       = aggregates.StepNone
)

// Next is the instant (unix ms) of the referral's next deadline event, or 0
// when none remains. The step is this view's; its instant is the ladder's
// (aggregates.DeadlineLadder), the one the saga climbs.
func (d *DeadlineEntry) Next() int64 {
	if !d.Status.Running() || d.Due == 0 {
		return 0
	}
	_, at := aggregates.DeadlineLadder{Warning: fromMS(d.Warn), Due: fromMS(d.Due), Escalation: fromMS(d.Escalate)}.Next(d.Step)
	return ms(at)
}

// NewDeadlines is the empty view.
func NewDeadlines() *Deadlines { return &Deadlines{Refs: map[string]*DeadlineEntry{}} }

// ApplyDeadlines folds one event into the view.
func ApplyDeadlines(v *Deadlines, e events.Event) *Deadlines {
	d := v.Refs[e.AggregateID]
	if d == nil {
		switch e.Data.(type) {
		case events.ReferralReceived, events.ReferralReferred:
		default:
			// Not a referral's start, and not a running referral's event:
			// another aggregate, or a referral whose clock has stopped.
			return v
		}
		d = &DeadlineEntry{}
	}
	d.Status = aggregates.NextStatus(d.Status, e)
	if !d.Status.Running() {
		delete(v.Refs, e.AggregateID)
		return v
	}
	v.Refs[e.AggregateID] = d
	switch p := e.Data.(type) {
	case events.DeadlineSet:
		d.Due, d.Warn, d.Escalate = ms(p.DueAt), ms(p.WarningAt), ms(p.EscalateAt)
	case events.DeadlineWarning:
		d.Step = max(d.Step, StepBreach)
	case events.DeadlineBreached:
		d.Step = max(d.Step, StepEscalation)
		// A breach recorded once the last step of the ladder was reached
		// already names who it escalates to (a referral recorded late):
		// nothing remains. A breach decided a moment before that step and
		// written just after it is escalated by the saga, which decides
		// again after each write, not on this view's word.
		if d.Escalate == 0 || ms(e.OccurredAt) >= d.Escalate {
			d.Step = StepNone
		}
	case events.DeadlineEscalated:
		d.Step = StepNone
	}
	return v
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS undoes ms: 0 is no instant.
func fromMS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// DueBy lists the referrals whose next deadline event is due at now, in id
// order so that a sweep is the same whoever runs it.
func DueBy(v *Deadlines, now time.Time) []string {
	cut := now.UnixMilli()
	var out []string
	for id, d := range v.Refs {
		if n := d.Next(); n != 0 && n <= cut {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Upcoming lists the distinct instants after now at which some referral's
// next deadline event falls due, earliest first: what the saga's
// sentinels must cover.
func Upcoming(v *Deadlines, now time.Time) []time.Time {
	cut := now.UnixMilli()
	seen := map[int64]bool{}
	var out []int64
	for _, d := range v.Refs {
		if n := d.Next(); n > cut && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	slices.Sort(out)
	ts := make([]time.Time, len(out))
	for i, n := range out {
		ts[i] = time.UnixMilli(n).UTC()
	}
	return ts
}

// DeadlinesReport is the deadlines view as the CLI and auditors read it.
type DeadlinesReport struct {
	Running  int         `json:"running"`
	Due      []string    `json:"due"`
	Upcoming []time.Time `json:"upcoming"`
}

// ReportDeadlines: how many referrals' clocks run, which are due at now,
// and the instants still to come.
func ReportDeadlines(v *Deadlines, now time.Time) DeadlinesReport {
	return DeadlinesReport{Running: len(v.Refs), Due: DueBy(v, now), Upcoming: Upcoming(v, now)}
}
