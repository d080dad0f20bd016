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
