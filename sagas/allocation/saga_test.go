package allocation

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestShippedPolicy(t *testing.T) {
	p := DefaultPolicy()
	// Allocated on Friday 23 May 2025 at 15:00 (London): due by the end of
	// Tuesday 27 May, Monday 26 May being the spring bank holiday.
	got := p.RespondBy(calendar.Default(), at("2025-05-23T15:00:00+01:00"))
	if want := at("2025-05-27T23:59:59.999+01:00"); !got.Equal(want) {
		t.Fatalf("respond by %s, want %s", got, want)
	}
	for _, bad := range []string{`{"version":"v","respondWithin":{},"remindAt":0.5,"escalateTo":"x"}`, `{"version":"v","respondWithin":{"workingDays":1},"remindAt":1,"escalateTo":"x"}`, `{"version":"v","respondWithin":{"workingDays":1},"remindAt":0.5}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// Given an allocation, when events and timers come, then the saga's answer.
func TestReactions(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"version":"test","respondWithin":{"duration":"10s"},"remindAt":0.5,"escalateTo":"rsmp-lead"}`))
	if err != nil {
		t.Fatal(err)
	}
	s := Saga{Policy: p, Calendar: calendar.Default()}
	t0 := at("2025-06-02T10:00:00Z")
	allocated := events.Event{Type: events.TypeReferralAllocated, OccurredAt: t0, Data: events.ReferralAllocated{Region: "north-west", Authority: "E08000007", RespondBy: p.RespondBy(nil, t0)}}
	referred := events.Event{Type: events.TypeReferralReferred, OccurredAt: t0, Data: events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: "hotel"}}
	r := aggregates.Fold([]events.Event{referred, allocated})

	re := s.React(r, allocated, t0.Add(time.Second))
	if len(re.Commands) != 0 || len(re.Timers) != 2 || re.Timers[0].Kind != KindReminder || !re.Timers[0].At.Equal(t0.Add(5*time.Second)) || re.Timers[1].Kind != KindEscalation {
		t.Fatalf("on allocation: %+v", re)
	}
	// Taken up late: past the reminder, remind at once; past the deadline,
	// escalate at once.
	if re := s.React(r, allocated, t0.Add(6*time.Second)); len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-allocation-reminder" || len(re.Timers) != 1 {
		t.Fatalf("late: %+v", re)
	}
	if re := s.React(r, allocated, t0.Add(11*time.Second)); len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-allocation-escalation" {
		t.Fatalf("very late: %+v", re)
	}
	// Timers: early ones are set again; due ones record; answered ones do
	// nothing.
	if re := s.OnFire(r, KindEscalation, t0.Add(3*time.Second)); len(re.Commands) != 0 || len(re.Timers) != 1 {
		t.Fatalf("early fire: %+v", re)
	}
	if re := s.OnFire(r, KindEscalation, t0.Add(11*time.Second)); len(re.Commands) != 1 {
		t.Fatalf("due fire: %+v", re)
	}
	accepted := aggregates.Fold([]events.Event{referred, allocated, {Type: events.TypeAllocationAccepted, Data: events.AllocationAccepted{Authority: "E08000007"}}})
	if re := s.OnFire(accepted, KindEscalation, t0.Add(11*time.Second)); len(re.Commands)+len(re.Timers) != 0 {
		t.Fatalf("after acceptance: %+v", re)
	}
	for _, e := range []events.Event{{Data: events.AllocationAccepted{}}, {Data: events.AllocationException{}}, {Data: events.ReferralWithdrawn{}}} {
		if re := s.React(r, e, t0); !re.CancelAll {
			t.Errorf("%T does not cancel the timers", e.Data)
		}
	}
}
