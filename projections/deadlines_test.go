package projections

import (
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

func dlEvent(id string, occurred time.Time, d events.Payload) events.Event {
	return events.Event{AggregateID: id, Type: d.EventType(), OccurredAt: occurred, Data: d}
}

// The deadlines view, given a referral's history, names the instant of
// its next deadline event, and DueBy lists it once that instant has come.
func TestDeadlinesNextInstant(t *testing.T) {
	t0 := at("2025-06-02T10:00:00Z")
	warnAt, dueAt, escAt := t0.Add(6*24*time.Hour), t0.Add(7*24*time.Hour), t0.Add(9*24*time.Hour)
	set := events.DeadlineSet{Route: "hotel", Policy: "p", WorkingDays: 5, DueAt: dueAt, WarningAt: warnAt, EscalateAt: escAt}
	noEsc := set
	noEsc.EscalateAt = time.Time{}
	rcv := received("r", "E08000007", "2025-06-02T10:00:00Z")
	referred := dlEvent("r", t0, events.ReferralReferred{ReferralID: "r", Region: "North West", Route: "hotel"})
	none := time.Time{}
	for _, c := range []struct {
		name  string
		given []events.Event
		next  time.Time // zero: no entry due ever
	}{
		{"received, no deadline yet", []events.Event{rcv}, none},
		{"deadline set: the warning", []events.Event{rcv, dlEvent("r", t0, set)}, warnAt},
		{"referred into the scheme: the clock runs before acceptance", []events.Event{referred, dlEvent("r", t0, set)}, warnAt},
		{"warned: the breach, the moment after the deadline", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", warnAt, events.DeadlineWarning{})}, dueAt.Add(time.Millisecond)},
		{"breached: the escalation", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", warnAt, events.DeadlineWarning{}), dlEvent("r", dueAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "team-leader"})}, escAt},
		{"breached with no warning (recorded late): the escalation", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", dueAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "team-leader"})}, escAt},
		{"breached after the last step: nothing", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", escAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "director"})}, none},
		{"breached, no ladder: nothing", []events.Event{rcv, dlEvent("r", t0, noEsc), dlEvent("r", dueAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "team-leader"})}, none},
		{"escalated: nothing", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", dueAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "team-leader"}), dlEvent("r", escAt, events.DeadlineEscalated{EscalatedTo: "director"})}, none},
		{"placed before the warning: nothing", []events.Event{rcv, dlEvent("r", t0, set), placed("r", "2025-06-03T10:00:00Z")}, none},
		{"placed after the breach: nothing", []events.Event{rcv, dlEvent("r", t0, set), dlEvent("r", dueAt.Add(time.Second), events.DeadlineBreached{EscalatedTo: "team-leader"}), placed("r", "2025-06-10T10:00:00Z")}, none},
		{"withdrawn: nothing", []events.Event{rcv, dlEvent("r", t0, set), withdrawn("r")}, none},
		{"left care: nothing", []events.Event{rcv, dlEvent("r", t0, set), placed("r", "2025-06-03T10:00:00Z"), leftCare("r")}, none},
		{"a deadline event on a closed referral changes nothing", []events.Event{rcv, withdrawn("r"), dlEvent("r", t0, set)}, none},
		{"another aggregate's events change nothing", []events.Event{rcv, dlEvent("r", t0, set), pledge("E08000007", 3), leftCare("x")}, warnAt},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := NewDeadlines()
			ref := aggregates.Referral{}
			for _, e := range c.given {
				v = ApplyDeadlines(v, e)
				if e.AggregateID == "r" {
					ref = aggregates.Evolve(ref, e)
				}
			}
			var next time.Time
			if d := v.Refs["r"]; d != nil && d.Next() != 0 {
				next = time.UnixMilli(d.Next())
			}
			if !next.Equal(c.next) {
				t.Fatalf("next %v, want %v", next, c.next)
			}
			// The view agrees with the referral as the saga loads it.
			if got, want := v.Refs["r"] != nil, ref.Open(); got != want {
				t.Fatalf("entry kept %v, referral open %v", got, want)
			}
			if d := v.Refs["r"]; d != nil && d.Due != 0 {
				if !time.UnixMilli(d.Due).Equal(ref.DueAt) || !time.UnixMilli(d.Warn).Equal(ref.WarningAt) {
					t.Fatalf("entry %+v, referral due %v warning %v", d, ref.DueAt, ref.WarningAt)
				}
				if (d.Step > StepWarning) != (ref.Warned || ref.Breached) || (d.Step > StepBreach) != ref.Breached {
					t.Fatalf("step %d, referral warned %v breached %v", d.Step, ref.Warned, ref.Breached)
				}
			}
			if c.next.IsZero() {
				if due := DueBy(v, escAt.Add(365*24*time.Hour)); len(due) != 0 {
					t.Fatalf("due: %v", due)
				}
				return
			}
			if due := DueBy(v, c.next.Add(-time.Millisecond)); len(due) != 0 {
				t.Fatalf("due a millisecond early: %v", due)
			}
			if due := DueBy(v, c.next); !slices.Equal(due, []string{"r"}) {
				t.Fatalf("due at the instant: %v", due)
			}
		})
	}
}

// Every referral received on the same day shares its instants: the saga's
// sentinels are one per instant, not one per referral.
func TestDeadlinesShareInstants(t *testing.T) {
	t0 := at("2025-06-02T10:00:00Z")
	warnAt, dueAt := t0.Add(6*24*time.Hour), t0.Add(7*24*time.Hour)
	v := NewDeadlines()
	for _, id := range []string{"c", "a", "b"} {
		v = ApplyDeadlines(v, received(id, "E08000007", "2025-06-02T10:00:00Z"))
		v = ApplyDeadlines(v, dlEvent(id, t0, events.DeadlineSet{DueAt: dueAt, WarningAt: warnAt}))
	}
	v = ApplyDeadlines(v, dlEvent("b", warnAt, events.DeadlineWarning{}))
	if up := Upcoming(v, t0); len(up) != 2 || !up[0].Equal(warnAt) || !up[1].Equal(dueAt.Add(time.Millisecond)) {
		t.Fatalf("upcoming %v", up)
	}
	if due := DueBy(v, warnAt); !slices.Equal(due, []string{"a", "c"}) {
		t.Fatalf("due at the warning, in id order: %v", due)
	}
	if due := DueBy(v, dueAt.Add(time.Millisecond)); !slices.Equal(due, []string{"a", "b", "c"}) {
		t.Fatalf("due at the breach: %v", due)
	}
	if up := Upcoming(v, dueAt.Add(time.Millisecond)); len(up) != 0 {
		t.Fatalf("upcoming after everything: %v", up)
	}
}
