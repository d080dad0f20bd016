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
	corrected := events.Event{Data: events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-06-30"}}
	nationality := events.Event{Data: events.ChildDetailCorrected{Field: aggregates.FieldNationality, NewValue: "Eritrean"}}
	for _, c := range []struct {
		evs        []events.Event
		dob, basis string
	}{
		{[]events.Event{received}, "2009-04-17", events.DOBRecorded},
		{[]events.Event{received, assessed}, "2008-11-02", events.DOBAssessed},
		{[]events.Event{received, adult}, "2009-04-17", events.DOBRecorded},
		{[]events.Event{{Data: events.ReferralReceived{ClaimedAge: 16}}}, "", ""},
		// The latest finding stands: a correction over the record and an
		// earlier assessment, an assessment over an earlier correction.
		{[]events.Event{received, corrected}, "2009-06-30", events.DOBCorrected},
		{[]events.Event{received, assessed, corrected}, "2009-06-30", events.DOBCorrected},
		{[]events.Event{received, corrected, assessed}, "2008-11-02", events.DOBAssessed},
		{[]events.Event{received, nationality}, "2009-04-17", events.DOBRecorded},
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

// Given a child in care whose milestones run from the recorded date of
// birth, when it is corrected, then the care's birthdays move: a
// milestone the new date has already passed is armed at its (past) time,
// which the runner fires at once, and recorded once; one already recorded
// under the old date is armed no more and, if its timer comes anyway,
// recorded no second time.
func TestACorrectedDateOfBirthMovesTheMilestones(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	now := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	child := aggregates.ChildInCare{Status: aggregates.StatusPlaced, Authority: "E08000007", PlacedAt: now.AddDate(0, -1, 0)}
	decide := func(c aggregates.Care, cmd aggregates.CareCommand) aggregates.Care {
		t.Helper()
		evs, err := aggregates.DecideCare(c, cmd, now)
		if err != nil {
			t.Fatalf("%s: %v", cmd.CommandName(), err)
		}
		return aggregates.Cares.Apply(c, evs)
	}
	// Recorded: 15, turning 16 on 20 May 2026.
	received := events.Event{Data: events.ReferralReceived{DateOfBirth: "2010-05-20"}}
	c := decide(aggregates.Cares.Start("r1"), s.OnReferral(aggregates.Cares.Start("r1"), child, []events.Event{received})[0])
	if ts := s.Timers(c); len(ts) != 3 || !ts[0].At.After(now) {
		t.Fatalf("before the correction: %+v", ts)
	}
	// Corrected: born a year earlier, so 16 since 20 May 2025.
	history := []events.Event{received, {Data: events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-05-20"}}}
	cmds := s.OnReferral(c, child, history)
	if len(cmds) != 1 {
		t.Fatalf("on the correction: %v", cmds)
	}
	c = decide(c, cmds[0])
	sixteen, triple, eighteen := aggregates.Milestones(time.Date(2009, 5, 20, 0, 0, 0, 0, time.UTC))
	ts := s.Timers(c)
	if len(ts) != 3 || !ts[0].At.Equal(sixteen) || !ts[1].At.Equal(triple) || !ts[2].At.Equal(eighteen) {
		t.Fatalf("after the correction: %+v, want %s %s %s", ts, sixteen, triple, eighteen)
	}
	if !ts[0].At.Before(now) {
		t.Fatalf("16 is not passed under the corrected date: %s", ts[0].At)
	}
	// The 16th, passed, is recorded when its timer fires (at once).
	fired, again := s.OnFire(c, child, KindSixteen, now)
	if len(fired) != 1 || again != nil {
		t.Fatalf("16 under the corrected date: %v %v", fired, again)
	}
	c = decide(c, fired[0])
	// Corrected back to the recorded date: 16 is a year off again, but
	// the leaving-care team is involved already; it is neither armed nor
	// recorded again, and the later two move back.
	history = append(history, events.Event{Data: events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2010-05-20"}})
	c = decide(c, s.OnReferral(c, child, history)[0])
	ts = s.Timers(c)
	if len(ts) != 2 || ts[0].Kind != KindTriple || ts[1].Kind != KindEighteen || !ts[0].At.After(now) {
		t.Fatalf("corrected back: %+v", ts)
	}
	if cmds, again := s.OnFire(c, child, KindSixteen, now.AddDate(2, 0, 0)); cmds != nil || again != nil {
		t.Fatalf("16 again: %v %v", cmds, again)
	}
	// A fired 17 and a half from the old arming, early by the date now
	// on record, is armed again at the new time, not recorded.
	if cmds, again := s.OnFire(c, child, KindTriple, now); cmds != nil || len(again) != 1 || !again[0].At.Equal(c.TriplePlanningAt) {
		t.Fatalf("17 and a half early: %v %v", cmds, again)
	}
}
