package leavingcare

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
)

// Given a received referral with a date of birth: when it is placed, the
// saga sets the date of birth on the child's care and arms the milestones
// on what that wrote; when it is withdrawn, or the child leaves care, it
// cancels every milestone and asks for nothing else.
func TestValueAnswersAReferralsCommit(t *testing.T) {
	v := New(DefaultPolicy())
	t0 := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	ev := func(d events.Payload) events.Event { e := events.New(t0, d); e.AggregateID = "r1"; return e }
	received := ev(events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, ChildReference: "HO-r1", DateOfBirth: "2009-04-17"})
	placed := ev(events.ReferralPlaced{PlacementType: "U1", Provider: "in-house", PlacedAt: t0.Add(time.Hour)})
	onReferral := v.Triggers[0]
	answer := func(history []events.Event, commit ...events.Event) sagas.Reaction[aggregates.CareCommand] {
		t.Helper()
		picked := sagas.Pick(commit, onReferral.On)
		if len(picked) != len(commit) {
			t.Fatalf("picked %d of %d events", len(picked), len(commit))
		}
		return onReferral.ReactCommit(v.State("r1", [][]events.Event{history, nil}), picked, t0)
	}

	re := answer([]events.Event{received, placed}, placed)
	if len(re.Commands) != 1 || re.CancelAll || !re.Rearm {
		t.Fatalf("placed: %+v", re)
	}
	if set, ok := re.Commands[0].(aggregates.SetDateOfBirth); !ok || set.DateOfBirth != "2009-04-17" || set.Basis != events.DOBRecorded {
		t.Fatalf("placed: %+v", re.Commands[0])
	}
	withdrawn := ev(events.ReferralWithdrawn{Reason: "duplicate"})
	if re := answer([]events.Event{received, withdrawn}, withdrawn); len(re.Commands)+len(re.Timers) != 0 || !re.CancelAll || re.Rearm {
		t.Fatalf("withdrawn: %+v", re)
	}
	left := ev(events.ChildLeftCare{LeftAt: t0.Add(48 * time.Hour), Reason: "moved"})
	if re := answer([]events.Event{received, placed, left}, left); len(re.Commands)+len(re.Timers) != 0 || !re.CancelAll {
		t.Fatalf("left care: %+v", re)
	}
}

// Given a placed child whose care runs from the recorded date of birth,
// when the authority corrects the date of birth, then the saga sets the
// corrected date on the care and arms the milestones again on what it
// wrote; a correction of another detail is not its business. Two
// corrections are two pieces of work even when the second returns to a
// date the first one left.
func TestValueMovesTheMilestonesOnACorrectedDateOfBirth(t *testing.T) {
	v := New(DefaultPolicy())
	t0 := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	ev := func(d events.Payload) events.Event { e := events.New(t0, d); e.AggregateID = "r1"; return e }
	received := ev(events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, ChildReference: "HO-r1", DateOfBirth: "2010-04-17"})
	placed := ev(events.ReferralPlaced{PlacementType: "U1", Provider: "in-house", PlacedAt: t0.Add(time.Hour)})
	care := []events.Event{ev(events.CareDateOfBirthSet{Authority: "E08000007", DateOfBirth: "2010-04-17", Basis: events.DOBRecorded})}
	onReferral := v.Triggers[0]
	nationality := ev(events.ChildDetailCorrected{Field: aggregates.FieldNationality, NewValue: "Eritrean", Reason: "documents", Corrector: aggregates.CorrectorDataProtection})
	if onReferral.On(nationality) {
		t.Fatal("a corrected nationality moves the milestones")
	}
	corrected := ev(events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-05-20", Reason: "passport", Corrector: aggregates.CorrectorAuthority})
	if !onReferral.On(corrected) {
		t.Fatal("the saga does not hear a corrected date of birth")
	}
	st := v.State("r1", [][]events.Event{{received, placed, corrected}, care})
	re := onReferral.ReactCommit(st, []events.Event{corrected}, t0)
	if len(re.Commands) != 1 || re.CancelAll || !re.Rearm {
		t.Fatalf("corrected: %+v", re)
	}
	set, ok := re.Commands[0].(aggregates.SetDateOfBirth)
	if !ok || set.DateOfBirth != "2009-05-20" || set.Basis != events.DOBCorrected {
		t.Fatalf("corrected: %+v", re.Commands[0])
	}
	back := ev(events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2010-01-02", Reason: "the first was a typing slip", Corrector: aggregates.CorrectorAuthority})
	again := ev(events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-05-20", Reason: "the passport after all", Corrector: aggregates.CorrectorAuthority})
	st2 := v.State("r1", [][]events.Event{{received, placed, corrected, back, again}, care})
	re2 := onReferral.ReactCommit(st2, []events.Event{again}, t0)
	if len(re2.Commands) != 1 {
		t.Fatalf("corrected back: %+v", re2)
	}
	if a, b := v.MsgID("r1", st, set), v.MsgID("r1", st2, re2.Commands[0]); a == b {
		t.Errorf("the third correction would be dropped as the first one again: both %s", a)
	}
	// An age assessment after the placement moves them the same way (it
	// did before corrections did), and stands over the corrections before
	// it.
	assessed := ev(events.AgeAssessed{Method: "merton-compliant", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2009-09-09"})
	re3 := onReferral.ReactCommit(v.State("r1", [][]events.Event{{received, placed, corrected, assessed}, care}), []events.Event{assessed}, t0)
	if len(re3.Commands) != 1 || !re3.Rearm {
		t.Fatalf("assessed after the placement: %+v", re3)
	}
	if set, ok := re3.Commands[0].(aggregates.SetDateOfBirth); !ok || set.DateOfBirth != "2009-09-09" || set.Basis != events.DOBAssessed {
		t.Fatalf("assessed after the placement: %+v", re3.Commands[0])
	}
}
