package aggregates

import (
	"testing"
	"time"
)

// Given a referral's deadline instants, when it waits at each step, then
// the ladder says which step falls due next and when.
func TestDeadlineLadder(t *testing.T) {
	warn := time.Date(2025, 6, 6, 22, 59, 59, 999e6, time.UTC)
	due := time.Date(2025, 6, 9, 22, 59, 59, 999e6, time.UTC)
	esc := time.Date(2025, 6, 16, 22, 59, 59, 999e6, time.UTC)
	full := DeadlineLadder{Warning: warn, Due: due, Escalation: esc}
	short := DeadlineLadder{Warning: warn, Due: due}
	for _, c := range []struct {
		name   string
		ladder DeadlineLadder
		at     DeadlineStep
		want   DeadlineStep
		when   time.Time
	}{
		{"warning first", full, StepWarning, StepWarning, warn},
		{"breach the moment after the deadline", full, StepBreach, StepBreach, due.Add(time.Millisecond)},
		{"escalation at its time", full, StepEscalation, StepEscalation, esc},
		{"no escalation in a one-step ladder", short, StepEscalation, StepNone, time.Time{}},
		{"nothing after the last step", full, StepNone, StepNone, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			step, when := c.ladder.Next(c.at)
			if step != c.want || !when.Equal(c.when) {
				t.Fatalf("Next(%d) = %d at %v, want %d at %v", c.at, step, when, c.want, c.when)
			}
		})
	}
}
