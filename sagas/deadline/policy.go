// Package deadline enforces the scheme's deadline: a referral must end in a
// placement within five working days (hotel route) or ten (from an entry
// authority). The rule is in this file, as data; the saga that applies it
// is in saga.go; package sagarun wires it to durable timers.
package deadline

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/policy"
)

//go:embed policy.json
var shippedPolicy []byte

// Policy is the deadline rule as data. Its version is recorded on every
// referral's deadline.set event, so a new protocol never rewrites the
// deadline of a referral received under the old one.
type Policy struct {
	Version    string          `json:"version"`
	Source     string          `json:"source"`
	Routes     map[string]Span `json:"routes"`
	WarnBefore Span            `json:"warnBefore"`
	WarnTo     string          `json:"warnTo"`
	// Escalation is the ladder of who must act on a breach: the last step
	// whose "after" has passed since the deadline.
	Escalation []Step `json:"escalation"`
}

// Span is a length of time, in working days (production) or as a plain
// duration (tests and demos measure deadlines in seconds).
type Span struct {
	WorkingDays int      `json:"workingDays,omitempty"`
	Duration    Duration `json:"duration,omitempty"`
}

// Step is one rung of the escalation ladder.
type Step struct {
	After Span   `json:"after"`
	To    string `json:"to"`
}

// Duration reads "90s" style durations from JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Policies reads this saga's policy: the one shipped, an operator's file
// (same shape as policy.json), or bytes.
var Policies = policy.Rule[Policy]{What: "deadline policy", Shipped: shippedPolicy, Check: Policy.check}

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy { return Policies.Default() }

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) { return Policies.Parse(b) }

func (p Policy) check() error {
	if p.Version == "" {
		return fmt.Errorf("the policy has no version")
	}
	for _, route := range []string{events.RouteHotel, events.RouteEntryAuthority} {
		s, ok := p.Routes[route]
		if !ok || (s.WorkingDays <= 0 && s.Duration <= 0) {
			return fmt.Errorf("route %q needs a positive deadline", route)
		}
	}
	if len(p.Escalation) == 0 || p.Escalation[0].To == "" {
		return fmt.Errorf("the escalation ladder needs at least one step naming who acts on a breach")
	}
	return nil
}

// Compute is the deadline of a referral received at receivedAt on route.
// Working days count from the first working day after the day of receipt
// (in London), and the deadline falls at the end of the last one
// (23:59:59.999 Europe/London); the warning falls at the end of the working
// day WarnBefore earlier.
func (p Policy) Compute(cal *calendar.Calendar, route string, receivedAt time.Time) (events.DeadlineSet, error) {
	span, ok := p.Routes[route]
	if !ok {
		return events.DeadlineSet{}, fmt.Errorf("deadline policy %s has no rule for route %q", p.Version, route)
	}
	d := events.DeadlineSet{Route: route, Policy: p.Version, WorkingDays: span.WorkingDays}
	if span.WorkingDays > 0 {
		dueDay := cal.AddWorkingDays(calendar.DateOf(receivedAt), span.WorkingDays)
		d.DueAt = dueDay.End()
		d.WarningAt = cal.AddWorkingDays(dueDay, -p.WarnBefore.WorkingDays).End()
		if p.WarnBefore.WorkingDays == 0 {
			d.WarningAt = d.DueAt.Add(-time.Duration(p.WarnBefore.Duration))
		}
	} else {
		d.DueAt = receivedAt.Add(time.Duration(span.Duration))
		d.WarningAt = d.DueAt.Add(-time.Duration(p.WarnBefore.Duration))
	}
	if d.WarningAt.Before(receivedAt) {
		d.WarningAt = receivedAt
	}
	if len(p.Escalation) > 1 {
		d.EscalateAt = p.after(cal, d.DueAt, p.Escalation[len(p.Escalation)-1].After)
	}
	d.DueAt, d.WarningAt = d.DueAt.UTC(), d.WarningAt.UTC()
	if !d.EscalateAt.IsZero() {
		d.EscalateAt = d.EscalateAt.UTC()
	}
	return d, nil
}

// after is the instant a span after a deadline.
func (p Policy) after(cal *calendar.Calendar, due time.Time, s Span) time.Time {
	if s.WorkingDays > 0 {
		return cal.AddWorkingDays(calendar.DateOf(due), s.WorkingDays).End()
	}
	return due.Add(time.Duration(s.Duration))
}

// EscalateTo names who must act on a breach at now: the last step of the
// ladder whose time has come.
func (p Policy) EscalateTo(cal *calendar.Calendar, due, now time.Time) string {
	to := p.Escalation[0].To
	for _, s := range p.Escalation[1:] {
		if !now.Before(p.after(cal, due, s.After)) {
			to = s.To
		}
	}
	return to
}

// WorkingDaysElapsed counts the working days since receipt, up to now or to
// the placement if there was one.
func WorkingDaysElapsed(cal *calendar.Calendar, r aggregates.Referral, now time.Time) int {
	end := now
	if !r.PlacedAt.IsZero() {
		end = r.PlacedAt
	}
	return cal.WorkingDaysBetween(calendar.DateOf(r.ReceivedAt), calendar.DateOf(end))
}
