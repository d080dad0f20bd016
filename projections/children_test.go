package projections

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

func ev(id string, when time.Time, d events.Payload) events.Event {
	return events.Event{AggregateID: id, Type: d.EventType(), OccurredAt: when, Data: d}
}

func foldChildren(evs ...events.Event) *Children {
	v := NewChildren()
	for _, e := range evs {
		v = ApplyChildren(v, e)
	}
	return v
}

func onlyChild(t *testing.T, rep ChildrenReport, id string) ChildRow {
	t.Helper()
	for _, c := range rep.Children {
		if c.ReferralID == id {
			return c
		}
	}
	t.Fatalf("%s is not in the list: %+v", id, rep.Children)
	return ChildRow{}
}

// Given a child received and not yet placed, the list shows them awaiting
// placement with the placement deadline next, counted in working days.
func TestChildrenAwaitingPlacementShowsTheDeadline(t *testing.T) {
	recv := at("2025-06-02T10:00:00Z") // a Monday
	v := foldChildren(
		ev("a", recv, events.ReferralReceived{ReferralID: "a", ReceivingAuthority: "E08000007", Route: "hotel", ChildReference: "HO-7"}),
		ev("a", recv, deadlineSet("a", "2025-06-02T10:00:00Z").Data.(events.DeadlineSet)),
	)
	rep := ReportChildren(v, registry(t), cal, ChildrenFilter{}, at("2025-06-03T09:00:00Z"))
	c := onlyChild(t, rep, "a")
	if c.CareStatus != CareAwaitingPlacement || c.ChildReference != "HO-7" || c.Region != "North West" {
		t.Errorf("row: %+v", c)
	}
	if c.NextDue == nil || c.NextDue.What != DuePlacement || c.NextDue.WorkingDaysLeft != 4 || c.NextDue.Overdue {
		t.Errorf("next due: %+v", c.NextDue)
	}
	if rep.Unallocated != 1 {
		t.Errorf("without a social worker: %d", rep.Unallocated)
	}
}

// Given a child referred into the scheme and not yet accepted, no
// authority has received them: they are in no authority's list until the
// acceptance's receipt.
func TestChildrenReferredIntoTheSchemeAppearOnAcceptance(t *testing.T) {
	recv := at("2025-06-02T10:00:00Z")
	referred := ev("r", recv, events.ReferralReferred{ReferralID: "r", Region: "north-west", Route: "hotel", ChildReference: "HO-9"})
	v := foldChildren(referred)
	if n := ReportChildren(v, registry(t), cal, ChildrenFilter{}, recv).Total; n != 0 {
		t.Fatalf("a child nobody has received is listed (%d)", n)
	}
	v = ApplyChildren(v, ev("r", recv.Add(time.Hour), events.ReferralReceived{ReferralID: "r", ReceivingAuthority: "E08000007"}))
	c := onlyChild(t, ReportChildren(v, registry(t), cal, ChildrenFilter{Authority: "E08000007"}, recv), "r")
	if c.ChildReference != "HO-9" || c.Authority != "E08000007" {
		t.Errorf("after acceptance: %+v", c)
	}
}

// Given a placed child allocated to a social worker who then goes missing,
// the child is listed first, missing, with the strategy discussion next;
// after the return, the return interview is next; once offered, the
// leaving-care milestone at 16 is.
func TestChildrenMissingReturnedAndMilestones(t *testing.T) {
	recv := at("2025-06-02T10:00:00Z")
	missing := at("2025-06-10T20:00:00Z")
	v := foldChildren(
		ev("a", recv, events.ReferralReceived{ReferralID: "a", ReceivingAuthority: "E08000007", Route: "hotel", ChildReference: "HO-1"}),
		ev("b", recv.Add(time.Hour), events.ReferralReceived{ReferralID: "b", ReceivingAuthority: "E08000007", Route: "hotel", ChildReference: "HO-2"}),
		ev("E08000007", recv, events.WorkerJoined{Authority: "E08000007", StaffID: "sw1", Name: "Jo Smith", CaseloadCap: 10}),
		ev("E08000007", recv, events.WorkerAllocated{ReferralID: "a", StaffID: "sw1", Position: 1}),
		ev("a", recv.Add(24*time.Hour), events.ReferralPlaced{PlacementType: "U1", Provider: "p", PlacedAt: recv.Add(24 * time.Hour)}),
		ev("a", recv, events.CareDateOfBirthSet{Authority: "E08000007", DateOfBirth: "2010-03-01", SixteenAt: at("2026-03-01T00:00:00Z"), TriplePlanningAt: at("2027-09-01T00:00:00Z"), EighteenAt: at("2028-03-01T00:00:00Z")}),
		ev("a", missing, events.MissingReported{Episode: 1, Authority: "E08000007", Region: "North West", MissingAt: missing, LastSeen: "the bus station", PoliceReference: "GMP-77", StrategyDueAt: missing.Add(24 * time.Hour)}),
	)
	rep := ReportChildren(v, registry(t), cal, ChildrenFilter{}, missing.Add(2*time.Hour))
	if rep.Total != 2 || rep.Children[0].ReferralID != "a" || rep.MissingNow != 1 {
		t.Fatalf("the missing child is not first: %+v", rep)
	}
	a := rep.Children[0]
	if a.CareStatus != CareMissing || !a.MissingSince.Equal(missing) || a.SocialWorker != "Jo Smith" || a.NextDue.What != DueStrategy {
		t.Errorf("missing: %+v %+v", a, a.NextDue)
	}
	b, _ := json.Marshal(v)
	for _, secret := range []string{"bus station", "GMP-77"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the view holds %q", secret)
		}
	}

	back := missing.Add(30 * time.Hour)
	v = ApplyChildren(v, ev("a", back, events.StrategyDiscussionHeld{Episode: 1, HeldAt: missing.Add(5 * time.Hour)}))
	v = ApplyChildren(v, ev("a", back, events.MissingReturned{Episode: 1, ReturnedAt: back, WhereFound: "a friend's", InterviewDueAt: back.Add(72 * time.Hour)}))
	a = onlyChild(t, ReportChildren(v, registry(t), cal, ChildrenFilter{}, back.Add(100*time.Hour)), "a")
	if a.CareStatus != CareReturned || a.NextDue.What != DueInterview || !a.NextDue.Overdue || a.NextDue.WorkingDaysLeft > 0 {
		t.Errorf("returned, interview overdue: %+v %+v", a, a.NextDue)
	}

	v = ApplyChildren(v, ev("a", back, events.ReturnInterviewOffered{Episode: 1, OfferedAt: back.Add(time.Hour), InTime: true}))
	a = onlyChild(t, ReportChildren(v, registry(t), cal, ChildrenFilter{}, back.Add(2*time.Hour)), "a")
	if a.CareStatus != CarePlaced || a.NextDue.What != DueLeavingCare || !a.NextDue.At.Equal(at("2026-03-01T00:00:00Z")) {
		t.Errorf("back in placement: %+v %+v", a, a.NextDue)
	}
	v = ApplyChildren(v, ev("a", back, events.LeavingCareInvolved{}))
	v = ApplyChildren(v, ev("a", back, events.TriplePlanningRecorded{}))
	if a = onlyChild(t, ReportChildren(v, registry(t), cal, ChildrenFilter{}, back), "a"); a.NextDue.What != DueEighteen {
		t.Errorf("after triple planning: %+v", a.NextDue)
	}
	v = ApplyChildren(v, ev("a", back, events.CareLeaver{}))
	if a = onlyChild(t, ReportChildren(v, registry(t), cal, ChildrenFilter{}, back), "a"); a.CareStatus != CareLeaverStatus || a.NextDue != nil {
		t.Errorf("a care leaver: %+v", a)
	}
}

// Given children of two authorities, the filters keep one authority's, a
// region's, a care status and a reference's start, in any case.
func TestChildrenFilters(t *testing.T) {
	recv := at("2025-06-02T10:00:00Z")
	v := foldChildren(
		ev("a", recv, events.ReferralReceived{ReferralID: "a", ReceivingAuthority: "E08000007", ChildReference: "HO-100"}),
		ev("b", recv, events.ReferralReceived{ReferralID: "b", ReceivingAuthority: "E09000001", ChildReference: "HO-200"}),
		ev("c", recv, events.ReferralReceived{ReferralID: "c", ReceivingAuthority: "E08000003", ChildReference: "KT-300"}),
		ev("c", recv, events.ReferralWithdrawn{Reason: "assessed-adult"}),
	)
	reg := registry(t)
	for _, tc := range []struct {
		f    ChildrenFilter
		want int
	}{
		{ChildrenFilter{}, 3},
		{ChildrenFilter{Authority: "E08000007"}, 1},
		{ChildrenFilter{Region: "North West"}, 2},
		{ChildrenFilter{Child: "ho-"}, 2},
		{ChildrenFilter{Child: "  HO-2"}, 1},
		{ChildrenFilter{CareStatus: CareWithdrawn}, 1},
	} {
		if got := ReportChildren(v, reg, cal, tc.f, recv).Total; got != tc.want {
			t.Errorf("%+v: %d children, want %d", tc.f, got, tc.want)
		}
	}
}

// The view is its JSON: a snapshot read back folds on to the same list.
func TestChildrenSnapshotRoundTrip(t *testing.T) {
	recv := at("2025-06-02T10:00:00Z")
	v := foldChildren(
		ev("a", recv, events.ReferralReceived{ReferralID: "a", ReceivingAuthority: "E08000007", ChildReference: "HO-1"}),
		ev("E08000007", recv, events.WorkerJoined{StaffID: "sw1", Name: "Jo"}),
		ev("E08000007", recv, events.WorkerAllocated{ReferralID: "a", StaffID: "sw1"}),
	)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	w := NewChildren()
	if err := json.Unmarshal(b, w); err != nil {
		t.Fatal(err)
	}
	reg := registry(t)
	x, y := ReportChildren(v, reg, cal, ChildrenFilter{}, recv), ReportChildren(w, reg, cal, ChildrenFilter{}, recv)
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	if string(bx) != string(by) {
		t.Errorf("after a snapshot:\n%s\nwant\n%s", by, bx)
	}
}
