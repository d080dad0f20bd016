package leavingcare

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

func TestShippedPolicy(t *testing.T) {
	if p := DefaultPolicy(); time.Duration(p.PathwayPlanWithin) != 90*24*time.Hour {
		t.Fatalf("shipped: %+v", p)
	}
	for _, bad := range []string{`{"version":"v"}`, `{"pathwayPlanWithin":"1h"}`, `{"version":"v","pathwayPlanWithin":"1h","x":1}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDateOfBirthFromTheReferral(t *testing.T) {
	received := events.Event{Data: events.ReferralReceived{DateOfBirth: "2009-04-17"}}
	assessed := events.Event{Data: events.AgeAssessed{Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2008-11-02"}}
	adult := events.Event{Data: events.AgeAssessed{Outcome: events.AgeOutcomeAdult, AssessedDateOfBirth: "2001-01-01"}}
	for _, c := range []struct {
		evs        []events.Event
		dob, basis string
	}{
		{[]events.Event{received}, "2009-04-17", events.DOBRecorded},
		{[]events.Event{received, assessed}, "2008-11-02", events.DOBAssessed},
		{[]events.Event{received, adult}, "2009-04-17", events.DOBRecorded},
		{[]events.Event{{Data: events.ReferralReceived{ClaimedAge: 16}}}, "", ""},
	} {
		if dob, basis := DateOfBirth(c.evs); dob != c.dob || basis != c.basis {
			t.Errorf("%v: %s %s, want %s %s", c.evs, dob, basis, c.dob, c.basis)
		}
	}
}

func TestMilestoneTimers(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	now := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	child := aggregates.ChildInCare{Status: aggregates.StatusPlaced, Authority: "E08000007", PlacedAt: now.Add(-time.Hour)}
	received := []events.Event{{Data: events.ReferralReceived{DateOfBirth: "2009-04-17"}}}
	c := aggregates.Cares.Start("r1")
	cmds := s.OnReferral(c, child, received)
	if len(cmds) != 1 {
		t.Fatalf("on placement: %v", cmds)
	}
	if got := s.OnReferral(c, aggregates.ChildInCare{Status: aggregates.StatusOpen}, received); got != nil {
		t.Fatalf("not placed: %v", got)
	}
	evs, err := aggregates.DecideCare(c, cmds[0], now)
	if err != nil {
		t.Fatal(err)
	}
	c = aggregates.Cares.Apply(c, evs)
	if got := s.OnReferral(c, child, received); got != nil {
		t.Fatalf("already set: %v", got)
	}
	timers := s.Timers(c)
	if len(timers) != 3 || timers[0].Kind != KindSixteen || !timers[0].At.Equal(c.SixteenAt) {
		t.Fatalf("timers: %+v", timers)
	}
	// 16 has passed (17 April 2025): the command; 17 and a half has not:
	// the timer again.
	if cmds, again := s.OnFire(c, child, KindSixteen, now); len(cmds) != 1 || again != nil {
		t.Fatalf("at 16: %v %v", cmds, again)
	}
	if cmds, again := s.OnFire(c, child, KindTriple, now); cmds != nil || len(again) != 1 {
		t.Fatalf("before 17.5: %v %v", cmds, again)
	}
	if cmds, _ := s.OnFire(c, aggregates.ChildInCare{Status: aggregates.StatusLeftCare}, KindSixteen, now); cmds != nil {
		t.Fatalf("left care: %v", cmds)
	}
	evs, _ = aggregates.DecideCare(c, aggregates.InvolveLeavingCare{Child: child, PathwayPlanWithin: time.Hour}, now)
	c = aggregates.Cares.Apply(c, evs)
	if cmds, again := s.OnFire(c, child, KindSixteen, now); cmds != nil || again != nil {
		t.Fatalf("16 recorded: %v %v", cmds, again)
	}
	if len(s.Timers(c)) != 2 {
		t.Fatalf("timers after 16: %+v", s.Timers(c))
	}
}
