package projections

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// A child referred into the scheme, allocated, accepted and placed counts
// for the authority that accepted it, from the referral (the transfer
// clock's start), against the deadline the saga set while it awaited
// allocation; a breach recorded meanwhile counts too.
func TestAllocatedReferralInTheViews(t *testing.T) {
	e := func(typ, when string, data events.Payload) events.Event {
		return events.Event{AggregateID: "r1", Type: typ, OccurredAt: at(when), Data: data}
	}
	evs := []events.Event{
		e(events.TypeReferralReferred, "2025-06-02T10:00:00Z", events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: "hotel"}),
		e(events.TypeDeadlineSet, "2025-06-02T10:00:01Z", events.DeadlineSet{Route: "hotel", Policy: "p", DueAt: at("2025-06-09T22:59:59.999Z"), WarningAt: at("2025-06-06T22:59:59.999Z")}),
		e(events.TypeReferralAllocated, "2025-06-02T11:00:00Z", events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 1}),
		e(events.TypeAllocationAccepted, "2025-06-03T09:00:00Z", events.AllocationAccepted{Authority: "E08000007"}),
		e(events.TypeReferralReceived, "2025-06-02T10:00:00Z", events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "hotel"}),
		e(events.TypeReferralPlaced, "2025-06-05T10:00:00Z", events.ReferralPlaced{PlacementType: "U4", PlacedAt: at("2025-06-05T10:00:00Z")}),
	}
	reg := refdata.Default()
	tl := ReportTimeliness(fold(TimelinessSpec(calendar.Default()), evs...), reg, TimelinessFilter{}, at("2025-06-20T10:00:00Z"))
	if tl.Total.Received != 1 || tl.Total.Placed != 1 || tl.Total.PlacedWithin != 1 || len(tl.ByAuthorityMonth) != 1 || tl.ByAuthorityMonth[0].Authority != "E08000007" || tl.ByAuthorityMonth[0].Month != "2025-06" {
		t.Fatalf("timeliness: %+v", tl)
	}
	list := ListReferrals(fold(ReferralListSpec(), evs[:3]...), reg, ReferralFilter{Region: "North West", Limit: 10}, at("2025-06-02T12:00:00Z"))
	if list.Total != 1 || list.Referrals[0].Status != "awaiting-acceptance" || list.Referrals[0].AllocatedTo != "E08000007" || list.Referrals[0].DueAt.IsZero() {
		t.Fatalf("awaiting acceptance: %+v", list)
	}
	list = ListReferrals(fold(ReferralListSpec(), evs...), reg, ReferralFilter{Authority: "E08000007", Limit: 10}, at("2025-06-20T10:00:00Z"))
	if list.Total != 1 || list.Referrals[0].Status != "placed" || list.Referrals[0].DeadlineState != "met" {
		t.Fatalf("placed: %+v", list)
	}
	capRep := ReportCapacity(fold(CapacitySpec(), evs...), reg)
	for _, a := range capRep.Authorities {
		if a.Code == "E08000007" && a.LookedAfter != 1 {
			t.Fatalf("capacity: %+v", a)
		}
	}
	// Breached while awaiting allocation, then accepted: the breach is
	// Stockport's to report.
	breach := e(events.TypeDeadlineBreached, "2025-06-10T00:00:00Z", events.DeadlineBreached{EscalatedTo: "team-leader"})
	late := append(append([]events.Event{}, evs[:3]...), breach, evs[3], evs[4])
	tl = ReportTimeliness(fold(TimelinessSpec(calendar.Default()), late...), reg, TimelinessFilter{}, at("2025-06-20T10:00:00Z"))
	if tl.Total.Breaches != 1 || tl.Total.Received != 1 {
		t.Fatalf("breach before acceptance: %+v", tl.Total)
	}
}

// Before issue 21's fix a repeated acceptance recorded a second acceptance
// with no authority and a second, empty receipt. Such histories stay in
// the log; the views read them as the one receipt they were.
func TestASecondEmptyReceiptCountsNothing(t *testing.T) {
	e := func(typ, when string, data events.Payload) events.Event {
		return events.Event{AggregateID: "r1", Type: typ, OccurredAt: at(when), Data: data}
	}
	accepted := []events.Event{
		e(events.TypeReferralReferred, "2025-06-02T10:00:00Z", events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: "hotel"}),
		e(events.TypeReferralAllocated, "2025-06-02T11:00:00Z", events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 1}),
		e(events.TypeAllocationAccepted, "2025-06-03T09:00:00Z", events.AllocationAccepted{Authority: "E08000007"}),
		e(events.TypeReferralReceived, "2025-06-02T10:00:00Z", events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "hotel"}),
	}
	damaged := append(append([]events.Event{}, accepted...),
		e(events.TypeAllocationAccepted, "2025-06-03T09:05:00Z", events.AllocationAccepted{}),
		e(events.TypeReferralReceived, "2025-06-02T10:00:00Z", events.ReferralReceived{}))
	reg := refdata.Default()
	now := at("2025-06-04T10:00:00Z")
	want := ReportTimeliness(fold(TimelinessSpec(calendar.Default()), accepted...), reg, TimelinessFilter{}, now)
	got := ReportTimeliness(fold(TimelinessSpec(calendar.Default()), damaged...), reg, TimelinessFilter{}, now)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeliness: %+v, want %+v", got, want)
	}
	list := ListReferrals(fold(ReferralListSpec(), damaged...), reg, ReferralFilter{Authority: "E08000007", Limit: 10}, now)
	if list.Total != 1 || list.Referrals[0].Status != "open" {
		t.Fatalf("Stockport's list: %+v", list)
	}
	wantCap, gotCap := ReportCapacity(fold(CapacitySpec(), accepted...), reg), ReportCapacity(fold(CapacitySpec(), damaged...), reg)
	if !reflect.DeepEqual(gotCap, wantCap) {
		t.Fatalf("capacity: %+v, want %+v", row(gotCap, "E08000007"), row(wantCap, "E08000007"))
	}
}

// Given a referral into the scheme allocated to Stockport, when Stockport
// lists its referrals, then the one awaiting its answer is there; after an
// exception it is the partnership's again and leaves Stockport's list.
func TestAwaitingAnswerInTheAuthorityList(t *testing.T) {
	e := func(typ, when string, data events.Payload) events.Event {
		return events.Event{AggregateID: "r1", Type: typ, OccurredAt: at(when), Data: data}
	}
	evs := []events.Event{
		e(events.TypeReferralReferred, "2025-06-02T10:00:00Z", events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: "hotel"}),
		e(events.TypeReferralAllocated, "2025-06-02T11:00:00Z", events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 1}),
		e(events.TypeAllocationException, "2025-06-02T12:00:00Z", events.AllocationException{Authority: "E08000007", Reason: "no placement"}),
	}
	reg, now := refdata.Default(), at("2025-06-02T13:00:00Z")
	stockport := ReferralFilter{Authority: "E08000007", Limit: 10}
	if l := ListReferrals(fold(ReferralListSpec(), evs[:2]...), reg, stockport, now); l.Total != 1 || l.Referrals[0].AllocatedTo != "E08000007" {
		t.Fatalf("awaiting Stockport's answer, Stockport's list: %+v", l)
	}
	if l := ListReferrals(fold(ReferralListSpec(), evs[:2]...), reg, ReferralFilter{Authority: "E08000001", Limit: 10}, now); l.Total != 0 {
		t.Fatalf("Bolton's list shows Stockport's allocation: %+v", l)
	}
	if l := ListReferrals(fold(ReferralListSpec(), evs...), reg, stockport, now); l.Total != 0 {
		t.Fatalf("after Stockport's exception, Stockport's list: %+v", l)
	}
}

// Given Stockport pledged 2, when one child is allocated to it and awaits
// its answer, then the view holds a place for it and counts it towards the
// threshold; when it is accepted the place is taken, not held twice; when
// another is allocated and declined, or allocated and withdrawn, then its
// place is free again.
func TestAllocationsAwaitingAnswerHoldPledgePlaces(t *testing.T) {
	on := func(id, typ string, data events.Payload) events.Event {
		return events.Event{AggregateID: id, Type: typ, OccurredAt: at("2025-06-02T10:00:00Z"), Data: data}
	}
	alloc := events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 4}
	evs := []events.Event{
		on("E08000007", events.TypeAuthorityPledgeSet, events.AuthorityPledgeSet{Authority: "E08000007", Pledge: 2}),
		on("r1", events.TypeReferralReferred, events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: "hotel"}),
		on("r1", events.TypeReferralAllocated, alloc),
	}
	reg := refdata.Default()
	stockport := func(evs []events.Event) CapacityRow {
		for _, a := range ReportCapacity(fold(CapacitySpec(), evs...), reg).Authorities {
			if a.Code == "E08000007" {
				return a
			}
		}
		t.Fatal("no Stockport")
		return CapacityRow{}
	}
	check := func(what string, evs []events.Event, awaiting, inFlight, remaining, headroom int) {
		t.Helper()
		row := stockport(evs)
		if row.AwaitingAnswer != awaiting || row.InFlight != inFlight || *row.PledgeRemaining != remaining || *row.Headroom != headroom {
			t.Errorf("%s: awaiting %d in flight %d pledge remaining %d headroom %d; want %d %d %d %d", what, row.AwaitingAnswer, row.InFlight, *row.PledgeRemaining, *row.Headroom, awaiting, inFlight, remaining, headroom)
		}
		w := RotaCapacity(fold(CapacitySpec(), evs...), reg)["E08000007"]
		if w.PledgeRemaining() != remaining || w.AwaitingAnswer != awaiting || w.Accepted != inFlight {
			t.Errorf("%s: the rota weighs %+v, the view says %d remaining", what, w, remaining)
		}
	}
	// Stockport's threshold is 63.903: ceil 64.
	check("allocated", evs, 1, 0, 1, 63)
	accepted := append(append([]events.Event{}, evs...),
		on("r1", events.TypeAllocationAccepted, events.AllocationAccepted{Authority: "E08000007"}),
		on("r1", events.TypeReferralReceived, events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "hotel"}))
	check("accepted", accepted, 0, 1, 1, 63)
	declined := append(append([]events.Event{}, accepted...),
		on("r2", events.TypeReferralReferred, events.ReferralReferred{ReferralID: "r2", Region: "north-west", Route: "hotel"}),
		on("r2", events.TypeReferralAllocated, alloc))
	check("a second allocated", declined, 1, 1, 0, 62)
	declined = append(declined, on("r2", events.TypeAllocationException, events.AllocationException{Authority: "E08000007", Reason: "no placement"}))
	check("the second declined", declined, 0, 1, 1, 63)
	withdrawn := append(append([]events.Event{}, declined...),
		on("r2", events.TypeReferralAllocated, alloc), on("r2", events.TypeReferralWithdrawn, events.ReferralWithdrawn{Reason: "missing"}))
	check("allocated again, then withdrawn", withdrawn, 0, 1, 1, 63)
	// The snapshot keeps what is held.
	v := fold(CapacitySpec(), declined[:len(declined)-1]...)
	b, err := v.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := loadCapacity(jsontext.NewDecoder(bytes.NewReader(b)))
	if err != nil || back.Authorities["E08000007"].AwaitingAnswer != 1 {
		t.Fatalf("snapshot: %v %+v", err, back.Authorities["E08000007"])
	}
}
