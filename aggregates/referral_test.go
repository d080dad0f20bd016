package aggregates

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Given events, when a command, then events or a refusal: no I/O at all.

var (
	now      = time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC)
	received = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	placedAt = time.Date(2025, 6, 4, 9, 0, 0, 0, time.UTC)
)

func ev(typ string, at time.Time, data any) events.Event {
	return events.Event{Type: typ, OccurredAt: at, Data: data}
}

var (
	gReceived  = ev(events.TypeReferralReceived, received, events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1"})
	gNotified  = ev(events.TypeProfessionalsNotified, now, events.ProfessionalsNotified{Professions: []string{"health"}, NotifiedBy: "tl"})
	gAgeAsked  = ev(events.TypeAgeAssessmentRequested, now, events.AgeAssessmentRequested{Method: "merton-compliant"})
	gPlaced    = ev(events.TypeReferralPlaced, placedAt, events.ReferralPlaced{PlacementType: "U1", Provider: "p", PlacedAt: placedAt})
	gWithdrawn = ev(events.TypeReferralWithdrawn, now, events.ReferralWithdrawn{Reason: "missing"})
	gLeft      = ev(events.TypeChildLeftCare, now, events.ChildLeftCare{LeftAt: now, Reason: "moved"})
	gWarned    = ev(events.TypeDeadlineWarning, now, events.DeadlineWarning{})
	gBreached  = ev(events.TypeDeadlineBreached, now, events.DeadlineBreached{EscalatedTo: "team-leader"})
	gDeadline  = ev(events.TypeDeadlineSet, received, events.DeadlineSet{Route: "hotel", Policy: "p1", WorkingDays: 5, DueAt: received.Add(7 * 24 * time.Hour), WarningAt: received.Add(6 * 24 * time.Hour)})
	gUnknown   = ev("referral.teleported", now, events.Unknown{Raw: []byte(`{}`)})
	// A referral into the scheme, allocated to Stockport.
	respondBy        = received.Add(24 * time.Hour)
	gReferred        = ev(events.TypeReferralReferred, received, events.ReferralReferred{ReferralID: "r1", Region: "north-west", Route: events.RouteHotel, ReferringParty: events.ReferringPartyHomeOffice, Hotel: "Hotel A", ChildReference: "HO-1"})
	gAllocated       = ev(events.TypeReferralAllocated, received, events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 1, RespondBy: respondBy})
	gException       = ev(events.TypeAllocationException, received, events.AllocationException{Authority: "E08000007", Reason: "no placement"})
	gReminded        = ev(events.TypeAllocationReminded, received, events.AllocationReminded{Authority: "E08000007", RespondBy: respondBy})
	gAccepted        = ev(events.TypeAllocationAccepted, now, events.AllocationAccepted{Authority: "E08000007"})
	gAcceptedReceipt = ev(events.TypeReferralReceived, received, events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1"})
	gEscalatedA      = ev(events.TypeAllocationEscalated, received, events.AllocationEscalated{Authority: "E08000007", RespondBy: respondBy, EscalatedTo: "rsmp-lead"})
)

func receiveCmd() ReceiveReferral {
	age := 15
	return ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1", ClaimedAge: &age, ReceivedAt: received}
}

func intp(i int) *int { return &i }

type thenRefused struct {
	kind  Kind
	code  Code
	field string
}

type decideCase struct {
	name  string
	given []events.Event
	when  Command
	then  []string // event types; nil with refused set
	ref   *thenRefused
}

func mod(f func(*ReceiveReferral)) ReceiveReferral { c := receiveCmd(); f(&c); return c }

var cases = []decideCase{
	// receive
	{name: "receive a hotel referral", when: receiveCmd(), then: []string{events.TypeReferralReceived}},
	{name: "receive from an entry authority", when: mod(func(c *ReceiveReferral) {
		c.Route, c.Hotel, c.TransferringAuthority = events.RouteEntryAuthority, "", "E10000016"
	}), then: []string{events.TypeReferralReceived}},
	{name: "receive twice", given: []events.Event{gReceived}, when: receiveCmd(), ref: &thenRefused{Illegal, "already_received", ""}},
	{name: "receive, bad authority code", when: mod(func(c *ReceiveReferral) { c.ReceivingAuthority = "E07000001" }), ref: &thenRefused{Invalid, "invalid_value", "receivingAuthority"}},
	{name: "receive, unknown route", when: mod(func(c *ReceiveReferral) { c.Route = "boat" }), ref: &thenRefused{Invalid, "invalid_value", "route"}},
	{name: "receive, hotel route without hotel", when: mod(func(c *ReceiveReferral) { c.Hotel = "" }), ref: &thenRefused{Invalid, "invalid_value", "hotel"}},
	{name: "receive, entry route without authority", when: mod(func(c *ReceiveReferral) { c.Route, c.Hotel = events.RouteEntryAuthority, "" }), ref: &thenRefused{Invalid, "invalid_value", "transferringAuthority"}},
	{name: "receive, transfer to itself", when: mod(func(c *ReceiveReferral) {
		c.Route, c.Hotel, c.TransferringAuthority = events.RouteEntryAuthority, "", c.ReceivingAuthority
	}), ref: &thenRefused{Invalid, "invalid_value", "transferringAuthority"}},
	{name: "receive, no child reference", when: mod(func(c *ReceiveReferral) { c.ChildReference = " " }), ref: &thenRefused{Invalid, "invalid_value", "childReference"}},
	{name: "receive, no time", when: mod(func(c *ReceiveReferral) { c.ReceivedAt = time.Time{} }), ref: &thenRefused{Invalid, "invalid_value", "receivedAt"}},
	{name: "receive, in the future", when: mod(func(c *ReceiveReferral) { c.ReceivedAt = now.Add(time.Hour) }), ref: &thenRefused{Invalid, "invalid_value", "receivedAt"}},
	{name: "receive, before the scheme", when: mod(func(c *ReceiveReferral) { c.ReceivedAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }), ref: &thenRefused{Invalid, "invalid_value", "receivedAt"}},
	{name: "receive, claimed age 18", when: mod(func(c *ReceiveReferral) { c.ClaimedAge = intp(18) }), ref: &thenRefused{Invalid, "invalid_value", "claimedAge"}},
	{name: "receive, adult date of birth", when: mod(func(c *ReceiveReferral) { c.DateOfBirth = "2005-01-01" }), ref: &thenRefused{Invalid, "invalid_value", "dateOfBirth"}},
	{name: "receive, date of birth not a date", when: mod(func(c *ReceiveReferral) { c.DateOfBirth = "01/02/2010" }), ref: &thenRefused{Invalid, "invalid_value", "dateOfBirth"}},
	{name: "receive, unknown sex", when: mod(func(c *ReceiveReferral) { c.Sex = "x" }), ref: &thenRefused{Invalid, "invalid_value", "sex"}},
	{name: "receive, id with a dot", when: mod(func(c *ReceiveReferral) { c.ReferralID = "a.b" }), ref: &thenRefused{Invalid, "invalid_value", "referralId"}},
	// referred into the scheme, for a region to allocate
	{name: "refer into the scheme", when: mod(func(c *ReceiveReferral) { c.ReceivingAuthority, c.Region = "", "north-west" }), then: []string{events.TypeReferralReferred}},
	{name: "refer from an entry authority", when: mod(func(c *ReceiveReferral) {
		c.ReceivingAuthority, c.Region, c.Route, c.Hotel, c.TransferringAuthority = "", "south-east", events.RouteEntryAuthority, "", "E10000016"
	}), then: []string{events.TypeReferralReferred}},
	{name: "refer to an unknown region", when: mod(func(c *ReceiveReferral) { c.ReceivingAuthority, c.Region = "", "atlantis" }), ref: &thenRefused{Invalid, "invalid_value", "region"}},
	{name: "refer by region name, not slug", when: mod(func(c *ReceiveReferral) { c.ReceivingAuthority, c.Region = "", "North West" }), ref: &thenRefused{Invalid, "invalid_value", "region"}},
	{name: "refer and receive at once", when: mod(func(c *ReceiveReferral) { c.Region = "north-west" }), ref: &thenRefused{Invalid, "invalid_value", "region"}},
	{name: "notify before acceptance", given: []events.Event{gReferred, gAllocated}, when: NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "tl"}, ref: &thenRefused{Illegal, "not_received", ""}},
	{name: "withdraw while awaiting allocation", given: []events.Event{gReferred}, when: Withdraw{Reason: "family-reunion"}, then: []string{events.TypeReferralWithdrawn}},
	{name: "accept", given: []events.Event{gReferred, gAllocated}, when: AcceptAllocation{Authority: "E08000007"}, then: []string{events.TypeAllocationAccepted, events.TypeReferralReceived}},
	{name: "accept, where no roles are in force", given: []events.Event{gReferred, gAllocated}, when: AcceptAllocation{}, then: []string{events.TypeAllocationAccepted, events.TypeReferralReceived}},
	{name: "accept another authority's allocation", given: []events.Event{gReferred, gAllocated}, when: AcceptAllocation{Authority: "E08000001"}, ref: &thenRefused{Illegal, "not_allocated_to_you", ""}},
	{name: "accept before allocation", given: []events.Event{gReferred}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	// Issue 21: a second acceptance recorded a receipt with no referral id,
	// authority, route or child reference, and the authority lost its child.
	{name: "accept twice", given: []events.Event{gReferred, gAllocated, gAccepted, gAcceptedReceipt}, when: AcceptAllocation{Authority: "E08000007"}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "accept twice, where no roles are in force", given: []events.Event{gReferred, gAllocated, gAccepted, gAcceptedReceipt}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "accept a referral received directly", given: []events.Event{gReceived}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "raise an exception once accepted", given: []events.Event{gReferred, gAllocated, gAccepted, gAcceptedReceipt}, when: RaiseAllocationException{Authority: "E08000007", Reason: "changed our mind"}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "raise an exception to a referral received directly", given: []events.Event{gReceived}, when: RaiseAllocationException{Reason: "no placement"}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "accept once placed", given: []events.Event{gReceived, gPlaced}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "already_placed", ""}},
	{name: "accept once withdrawn", given: []events.Event{gReferred, gWithdrawn}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "withdrawn", ""}},
	{name: "accept after an exception", given: []events.Event{gReferred, gAllocated, gException}, when: AcceptAllocation{}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "raise an exception", given: []events.Event{gReferred, gAllocated}, when: RaiseAllocationException{Authority: "E08000007", Reason: "no placement for these needs"}, then: []string{events.TypeAllocationException}},
	{name: "raise an exception without a reason", given: []events.Event{gReferred, gAllocated}, when: RaiseAllocationException{Reason: "\u200b "}, ref: &thenRefused{Invalid, "invalid_value", "reason"}},
	{name: "remind", given: []events.Event{gReferred, gAllocated}, when: RecordAllocationReminder{RespondBy: respondBy}, then: []string{events.TypeAllocationReminded}},
	{name: "remind twice", given: []events.Event{gReferred, gAllocated, gReminded}, when: RecordAllocationReminder{RespondBy: respondBy}, ref: &thenRefused{Illegal, "already_reminded", ""}},
	{name: "remind for an earlier allocation", given: []events.Event{gReferred, gAllocated}, when: RecordAllocationReminder{RespondBy: respondBy.Add(-time.Hour)}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "escalate a missed response", given: []events.Event{gReferred, gAllocated, gReminded}, when: RecordAllocationEscalation{RespondBy: respondBy, EscalatedTo: "rsmp-lead"}, then: []string{events.TypeAllocationEscalated}},
	{name: "escalate twice", given: []events.Event{gReferred, gAllocated, gEscalatedA}, when: RecordAllocationEscalation{RespondBy: respondBy, EscalatedTo: "rsmp-lead"}, ref: &thenRefused{Illegal, "already_escalated", ""}},
	{name: "escalate after acceptance", given: []events.Event{gReferred, gAllocated, ev(events.TypeAllocationAccepted, now, events.AllocationAccepted{Authority: "E08000007"})}, when: RecordAllocationEscalation{RespondBy: respondBy, EscalatedTo: "rsmp-lead"}, ref: &thenRefused{Illegal, "not_awaiting_acceptance", ""}},
	{name: "warn while awaiting allocation: the clock runs", given: []events.Event{gReferred}, when: RecordDeadlineWarning{}, then: []string{events.TypeDeadlineWarning}},
	// any command before receipt
	{name: "notify an unknown referral", when: NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "tl"}, ref: &thenRefused{Illegal, "not_found", ""}},
	{name: "a history this build cannot read", given: []events.Event{gReceived, gUnknown}, when: Withdraw{Reason: "error"}, ref: &thenRefused{Illegal, "unreadable_history", ""}},
	// notify
	{name: "notify", given: []events.Event{gReceived}, when: NotifyProfessionals{Professions: []string{"health", "education", "mash"}, NotifiedBy: "tl"}, then: []string{events.TypeProfessionalsNotified}},
	{name: "notify no one", given: []events.Event{gReceived}, when: NotifyProfessionals{NotifiedBy: "tl"}, ref: &thenRefused{Invalid, "invalid_value", "professions"}},
	{name: "notify an unknown profession", given: []events.Event{gReceived}, when: NotifyProfessionals{Professions: []string{"astrologer"}, NotifiedBy: "tl"}, ref: &thenRefused{Invalid, "invalid_value", "professions"}},
	{name: "notify the same again", given: []events.Event{gReceived, gNotified}, when: NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "tl"}, ref: &thenRefused{Illegal, "already_notified", ""}},
	{name: "notify without saying who", given: []events.Event{gReceived}, when: NotifyProfessionals{Professions: []string{"health"}}, ref: &thenRefused{Invalid, "invalid_value", "notifiedBy"}},
	{name: "notify after withdrawal", given: []events.Event{gReceived, gWithdrawn}, when: NotifyProfessionals{Professions: []string{"police"}, NotifiedBy: "tl"}, ref: &thenRefused{Illegal, "withdrawn", ""}},
	// search
	{name: "search", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "commissioned", OffersFound: intp(2), PlacementTypes: []string{"U4", "K2"}}, then: []string{events.TypePlacementSearched}},
	{name: "search finding nothing", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "in-house", OffersFound: intp(0)}, then: []string{events.TypePlacementSearched}},
	{name: "search, unknown track", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "x", OffersFound: intp(0)}, ref: &thenRefused{Invalid, "invalid_value", "track"}},
	{name: "search, no count", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "in-house"}, ref: &thenRefused{Invalid, "invalid_value", "offersFound"}},
	{name: "search, types without offers", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "in-house", OffersFound: intp(0), PlacementTypes: []string{"U1"}}, ref: &thenRefused{Invalid, "invalid_value", "placementTypes"}},
	{name: "search, bad type", given: []events.Event{gReceived}, when: RecordPlacementSearch{Track: "in-house", OffersFound: intp(1), PlacementTypes: []string{"ZZ"}}, ref: &thenRefused{Invalid, "invalid_value", "placementTypes"}},
	{name: "search after placement", given: []events.Event{gReceived, gPlaced}, when: RecordPlacementSearch{Track: "in-house", OffersFound: intp(0)}, ref: &thenRefused{Illegal, "already_placed", ""}},
	// age
	{name: "request age assessment", given: []events.Event{gReceived}, when: RequestAgeAssessment{Method: "naab"}, then: []string{events.TypeAgeAssessmentRequested}},
	{name: "request age assessment twice", given: []events.Event{gReceived, gAgeAsked}, when: RequestAgeAssessment{Method: "naab"}, ref: &thenRefused{Illegal, "age_assessment_pending", ""}},
	{name: "request age assessment, bad method", given: []events.Event{gReceived}, when: RequestAgeAssessment{Method: "dental"}, ref: &thenRefused{Invalid, "invalid_value", "method"}},
	{name: "assessed a child", given: []events.Event{gReceived, gAgeAsked}, when: RecordAgeAssessment{Method: "merton-compliant", Outcome: "child", AssessedDateOfBirth: "2009-03-01"}, then: []string{events.TypeAgeAssessed}},
	{name: "assessed an adult closes the referral", given: []events.Event{gReceived, gAgeAsked}, when: RecordAgeAssessment{Method: "merton-compliant", Outcome: "adult"}, then: []string{events.TypeAgeAssessed, events.TypeReferralWithdrawn}},
	{name: "assessed without a request", given: []events.Event{gReceived}, when: RecordAgeAssessment{Method: "naab", Outcome: "child"}, ref: &thenRefused{Illegal, "no_age_assessment_requested", ""}},
	{name: "assessed, bad outcome", given: []events.Event{gReceived, gAgeAsked}, when: RecordAgeAssessment{Method: "naab", Outcome: "teen"}, ref: &thenRefused{Invalid, "invalid_value", "outcome"}},
	{name: "assessed, future birth date", given: []events.Event{gReceived, gAgeAsked}, when: RecordAgeAssessment{Method: "naab", Outcome: "child", AssessedDateOfBirth: "2030-01-01"}, ref: &thenRefused{Invalid, "invalid_value", "assessedDateOfBirth"}},
	// place
	{name: "place", given: []events.Event{gReceived, gNotified}, when: Place{PlacementType: "U1", Provider: "In-house carer", PlacedAt: placedAt}, then: []string{events.TypeReferralPlaced}},
	{name: "place after a breach keeps going", given: []events.Event{gReceived, gWarned, gBreached}, when: Place{PlacementType: "K2", Provider: "Home", PlacedAt: placedAt}, then: []string{events.TypeReferralPlaced}},
	{name: "place twice", given: []events.Event{gReceived, gPlaced}, when: Place{PlacementType: "U1", Provider: "p", PlacedAt: placedAt}, ref: &thenRefused{Illegal, "already_placed", ""}},
	{name: "place a withdrawn referral", given: []events.Event{gReceived, gWithdrawn}, when: Place{PlacementType: "U1", Provider: "p", PlacedAt: placedAt}, ref: &thenRefused{Illegal, "withdrawn", ""}},
	{name: "place, bad type", given: []events.Event{gReceived}, when: Place{PlacementType: "XX", Provider: "p", PlacedAt: placedAt}, ref: &thenRefused{Invalid, "invalid_value", "placementType"}},
	{name: "place, no provider", given: []events.Event{gReceived}, when: Place{PlacementType: "U1", PlacedAt: placedAt}, ref: &thenRefused{Invalid, "invalid_value", "provider"}},
	{name: "place before receipt", given: []events.Event{gReceived}, when: Place{PlacementType: "U1", Provider: "p", PlacedAt: received.Add(-time.Hour)}, ref: &thenRefused{Invalid, "invalid_value", "placedAt"}},
	{name: "place in the future", given: []events.Event{gReceived}, when: Place{PlacementType: "U1", Provider: "p", PlacedAt: now.Add(24 * time.Hour)}, ref: &thenRefused{Invalid, "invalid_value", "placedAt"}},
	// withdraw
	{name: "withdraw", given: []events.Event{gReceived}, when: Withdraw{Reason: "family-reunion"}, then: []string{events.TypeReferralWithdrawn}},
	{name: "withdraw, bad reason", given: []events.Event{gReceived}, when: Withdraw{Reason: "bored"}, ref: &thenRefused{Invalid, "invalid_value", "reason"}},
	{name: "withdraw twice", given: []events.Event{gReceived, gWithdrawn}, when: Withdraw{Reason: "error"}, ref: &thenRefused{Illegal, "withdrawn", ""}},
	{name: "withdraw a placed child", given: []events.Event{gReceived, gPlaced}, when: Withdraw{Reason: "error"}, ref: &thenRefused{Illegal, "already_placed", ""}},
	// leave care
	{name: "leave care", given: []events.Event{gReceived, gPlaced}, when: RecordLeftCare{LeftAt: now, Reason: "turned-18"}, then: []string{events.TypeChildLeftCare}},
	{name: "leave care unplaced", given: []events.Event{gReceived}, when: RecordLeftCare{LeftAt: now, Reason: "moved"}, ref: &thenRefused{Illegal, "not_placed", ""}},
	{name: "leave care before placement", given: []events.Event{gReceived, gPlaced}, when: RecordLeftCare{LeftAt: placedAt.Add(-time.Minute), Reason: "moved"}, ref: &thenRefused{Invalid, "invalid_value", "leftAt"}},
	{name: "leave care twice", given: []events.Event{gReceived, gPlaced, gLeft}, when: RecordLeftCare{LeftAt: now, Reason: "moved"}, ref: &thenRefused{Illegal, "not_placed", ""}},
	{name: "leave care, bad reason", given: []events.Event{gReceived, gPlaced}, when: RecordLeftCare{LeftAt: now, Reason: "x"}, ref: &thenRefused{Invalid, "invalid_value", "reason"}},
	// deadline (issued by the saga)
	{name: "warn", given: []events.Event{gReceived}, when: RecordDeadlineWarning{}, then: []string{events.TypeDeadlineWarning}},
	{name: "warn twice", given: []events.Event{gReceived, gWarned}, when: RecordDeadlineWarning{}, ref: &thenRefused{Illegal, "already_warned", ""}},
	{name: "warn a placed referral", given: []events.Event{gReceived, gPlaced}, when: RecordDeadlineWarning{}, ref: &thenRefused{Illegal, "closed", ""}},
	{name: "breach", given: []events.Event{gReceived, gWarned}, when: RecordDeadlineBreach{EscalatedTo: "team-leader"}, then: []string{events.TypeDeadlineBreached}},
	{name: "breach twice", given: []events.Event{gReceived, gBreached}, when: RecordDeadlineBreach{EscalatedTo: "director"}, ref: &thenRefused{Illegal, "already_breached", ""}},
	{name: "breach a withdrawn referral", given: []events.Event{gReceived, gWithdrawn}, when: RecordDeadlineBreach{EscalatedTo: "team-leader"}, ref: &thenRefused{Illegal, "closed", ""}},
	{name: "set the deadline", given: []events.Event{gReceived}, when: SetDeadline{Deadline: gDeadline.Data.(events.DeadlineSet)}, then: []string{events.TypeDeadlineSet}},
	{name: "set the deadline on a placed referral (saga behind)", given: []events.Event{gReceived, gPlaced}, when: SetDeadline{Deadline: gDeadline.Data.(events.DeadlineSet)}, then: []string{events.TypeDeadlineSet}},
	{name: "set the deadline twice", given: []events.Event{gReceived, gDeadline}, when: SetDeadline{Deadline: gDeadline.Data.(events.DeadlineSet)}, ref: &thenRefused{Illegal, "deadline_already_set", ""}},
	{name: "set an empty deadline", given: []events.Event{gReceived}, when: SetDeadline{}, ref: &thenRefused{Invalid, "invalid_value", "deadline"}},
	{name: "escalate a breach", given: []events.Event{gReceived, gBreached}, when: RecordDeadlineEscalation{EscalatedTo: "director"}, then: []string{events.TypeDeadlineEscalated}},
	{name: "escalate twice to the same", given: []events.Event{gReceived, gBreached}, when: RecordDeadlineEscalation{EscalatedTo: "team-leader"}, ref: &thenRefused{Illegal, "already_escalated", ""}},
	{name: "escalate without a breach", given: []events.Event{gReceived}, when: RecordDeadlineEscalation{EscalatedTo: "director"}, ref: &thenRefused{Illegal, "not_breached", ""}},
	{name: "breach naming no one", given: []events.Event{gReceived}, when: RecordDeadlineBreach{}, ref: &thenRefused{Invalid, "invalid_value", "escalatedTo"}},
}

func TestDecide(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decide(Fold(c.given), c.when, now)
			if c.ref != nil {
				var r *Refusal
				if !errors.As(err, &r) {
					t.Fatalf("want refusal %+v, got events %v err %v", *c.ref, types(got), err)
				}
				if r.Kind != c.ref.kind || r.Code != c.ref.code || r.Field != c.ref.field {
					t.Fatalf("refused with %s/%s/%s (%s), want %+v", r.Kind, r.Code, r.Field, r.Message, *c.ref)
				}
				if r.Message == "" {
					t.Fatal("a refusal must say why")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !reflect.DeepEqual(types(got), c.then) {
				t.Fatalf("got %v, want %v", types(got), c.then)
			}
		})
	}
}

// Every command has at least one accepted and one refused case above.
func TestEveryCommandCovered(t *testing.T) {
	ok, no := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		if c.ref == nil {
			ok[c.when.CommandName()] = true
		} else {
			no[c.when.CommandName()] = true
		}
	}
	for _, cmd := range []Command{ReceiveReferral{}, NotifyProfessionals{}, RecordPlacementSearch{}, RequestAgeAssessment{}, RecordAgeAssessment{}, Place{}, Withdraw{}, RecordLeftCare{}, RecordDeadlineWarning{}, RecordDeadlineBreach{}, SetDeadline{}, RecordDeadlineEscalation{},
		AcceptAllocation{}, RaiseAllocationException{}, RecordAllocationReminder{}, RecordAllocationEscalation{}} {
		if !ok[cmd.CommandName()] || !no[cmd.CommandName()] {
			t.Errorf("%s: accepted case %v, refused case %v", cmd.CommandName(), ok[cmd.CommandName()], no[cmd.CommandName()])
		}
	}
}

func TestEvolveFollowsTheLifecycle(t *testing.T) {
	r := Fold([]events.Event{gReceived, gNotified, gAgeAsked, gPlaced})
	if r.Status != StatusPlaced || r.Version != 4 || r.ID != "r1" || !r.PlacedAt.Equal(placedAt) || r.AgeAssessment != AgeRequested || len(r.Professions) != 1 {
		t.Fatalf("unexpected state %+v", r)
	}
	adult, _ := Decide(Fold([]events.Event{gReceived, gAgeAsked}), RecordAgeAssessment{Method: "naab", Outcome: "adult"}, now)
	r = Fold(append([]events.Event{gReceived, gAgeAsked}, adult...))
	if r.Status != StatusWithdrawn || r.WithdrawnReason != "assessed-adult" || r.AgeAssessment != AgeAdult {
		t.Fatalf("assessed adult: %+v", r)
	}
}

func types(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestDecideAuthority(t *testing.T) {
	four, five, neg := 4, 5, -1
	set := ev(events.TypeAuthorityPledgeSet, now, events.AuthorityPledgeSet{Authority: "E08000007", Pledge: 4})
	a := EvolveAuthority(Authority{}, set)
	if evs, err := DecideAuthority(Authority{}, SetPledge{Authority: "E08000007", Pledge: &four}, now); err != nil || len(evs) != 1 {
		t.Fatalf("first pledge: %v %v", evs, err)
	}
	if evs, err := DecideAuthority(a, SetPledge{Authority: "E08000007", Pledge: &five}, now); err != nil || len(evs) != 1 {
		t.Fatalf("changed pledge: %v %v", evs, err)
	}
	for name, c := range map[string]struct {
		a    Authority
		cmd  SetPledge
		code Code
	}{
		"unchanged": {a, SetPledge{Authority: "E08000007", Pledge: &four}, "pledge_unchanged"},
		"negative":  {Authority{}, SetPledge{Authority: "E08000007", Pledge: &neg}, "invalid_value"},
		"missing":   {Authority{}, SetPledge{Authority: "E08000007"}, "invalid_value"},
		"bad code":  {Authority{}, SetPledge{Authority: "Kent", Pledge: &four}, "invalid_value"},
	} {
		var r *Refusal
		if _, err := DecideAuthority(c.a, c.cmd, now); !errors.As(err, &r) || r.Code != c.code {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Given the reference data, when a referral names authorities, then an
// unknown code is refused and an earlier code becomes the current one.
func TestResolveAuthorities(t *testing.T) {
	reg := refdata.Default()
	c := ReceiveReferral{ReceivingAuthority: "E08000007", Route: "entry-authority", TransferringAuthority: "E08000016"}
	got, err := c.Resolve(reg)
	if err != nil || got.ReceivingAuthority != "E08000007" || got.TransferringAuthority != "E08000038" {
		t.Fatalf("resolved %+v, err %v", got, err)
	}
	c.ReceivingAuthority = "E08000999"
	var r *Refusal
	if _, err := c.Resolve(reg); !errors.As(err, &r) || r.Code != CodeUnknownAuthority || r.Field != "receivingAuthority" || r.Kind != Invalid {
		t.Fatalf("an unknown authority: %v", err)
	}
	c.ReceivingAuthority = "Stockport"
	if _, err := c.Resolve(reg); err != nil {
		t.Fatalf("a code of the wrong shape is Decide's to refuse, not Resolve's: %v", err)
	}
}

// Accepting an allocation makes the referral received by the allocated
// authority, as of the referral into the scheme, with the child's data.
func TestAcceptedReferralIsReceived(t *testing.T) {
	evs, err := Decide(Fold([]events.Event{gReferred, gAllocated}), AcceptAllocation{}, now)
	if err != nil {
		t.Fatal(err)
	}
	r := Fold(append([]events.Event{gReferred, gAllocated}, evs...))
	got := evs[1].Data.(events.ReferralReceived)
	if r.Status != StatusOpen || r.ReceivingAuthority != "E08000007" || !r.ReceivedAt.Equal(received) || !evs[1].OccurredAt.Equal(received) ||
		got.ChildReference != "HO-1" || got.Hotel != "Hotel A" || got.Route != events.RouteHotel {
		t.Fatalf("state %+v, received %+v", r, got)
	}
	after := Fold([]events.Event{gReferred, gAllocated, gException})
	if after.Status != StatusAwaitingAllocation || len(after.Declined) != 1 || after.Declined[0] != "E08000007" || after.AllocatedTo != "" {
		t.Fatalf("after an exception: %+v", after)
	}
}

// Given a deadline rule, the commit that starts the clock carries the
// deadline; every other command decides as without one.
func TestReferralsSettingDeadlines(t *testing.T) {
	var asked []string
	rule := func(route string, at time.Time) (events.DeadlineSet, error) {
		asked = append(asked, route+" "+at.Format(time.RFC3339))
		if route == events.RouteEntryAuthority {
			return events.DeadlineSet{}, errors.New("no rule for this route")
		}
		return events.DeadlineSet{Route: route, Policy: "p1", DueAt: at.Add(time.Hour), WarningAt: at.Add(time.Minute)}, nil
	}
	d := ReferralsSettingDeadlines(rule)
	types := func(evs []events.Event) (ts []string) {
		for _, e := range evs {
			ts = append(ts, e.Type)
		}
		return ts
	}

	// when received -> received, then the deadline from the receipt's time
	evs, err := d.Decide(Referral{}, receiveCmd(), now)
	if err != nil || !reflect.DeepEqual(types(evs), []string{events.TypeReferralReceived, events.TypeDeadlineSet}) {
		t.Fatalf("receipt: %v %v", types(evs), err)
	}
	if dl := evs[1].Data.(events.DeadlineSet); !dl.DueAt.Equal(received.Add(time.Hour)) || asked[0] != "hotel "+received.Format(time.RFC3339) {
		t.Fatalf("deadline %+v from %v; want it computed from the time of receipt", dl, asked)
	}
	if r := d.Fold(evs); !r.DueAt.Equal(received.Add(time.Hour)) || r.Status != StatusOpen {
		t.Fatalf("folded: %+v", r)
	}
	// when referred into the scheme -> referred, then the deadline
	referred := mod(func(c *ReceiveReferral) { c.ReceivingAuthority, c.Region = "", "north-west" })
	if evs, err := d.Decide(Referral{}, referred, now); err != nil || !reflect.DeepEqual(types(evs), []string{events.TypeReferralReferred, events.TypeDeadlineSet}) {
		t.Fatalf("referral into the scheme: %v %v", types(evs), err)
	}
	// a refused receipt asks no deadline
	n := len(asked)
	if _, err := d.Decide(Referral{}, mod(func(c *ReceiveReferral) { c.Hotel = "" }), now); !errors.As(err, new(*Refusal)) || len(asked) != n {
		t.Fatalf("refused receipt: %v, rule asked %d times", err, len(asked)-n)
	}
	// other commands are decided as by Referrals
	given := Fold([]events.Event{gReceived, gDeadline})
	if evs, err := d.Decide(given, Place{PlacementType: "U1", Provider: "p", PlacedAt: placedAt}, now); err != nil || !reflect.DeepEqual(types(evs), []string{events.TypeReferralPlaced}) {
		t.Fatalf("place: %v %v", types(evs), err)
	}
	// a policy without a rule for a valid route is the engine's fault, not
	// a refusal of the caller's command
	entry := mod(func(c *ReceiveReferral) {
		c.Route, c.Hotel, c.TransferringAuthority = events.RouteEntryAuthority, "", "E10000016"
	})
	if _, err := d.Decide(Referral{}, entry, now); err == nil || errors.As(err, new(*Refusal)) {
		t.Fatalf("rule failure: %v; want an error that is not a refusal", err)
	}
}

// Histories recorded before issue 21's fix may hold a second acceptance
// with no authority and a second, empty receipt: the fold keeps the
// identity the first receipt established, so the authority sees its child.
func TestAFoldKeepsTheFirstReceipt(t *testing.T) {
	damaged := []events.Event{gReferred, gAllocated, gAccepted, gAcceptedReceipt,
		ev(events.TypeAllocationAccepted, now.Add(time.Hour), events.AllocationAccepted{}),
		ev(events.TypeReferralReceived, received, events.ReferralReceived{})}
	want := Fold(damaged[:4])
	got := Fold(damaged)
	if got.ID != "r1" || got.ReceivingAuthority != "E08000007" || got.Route != events.RouteHotel || got.ChildReference != "HO-1" ||
		got.Status != StatusOpen || !got.AcceptedAt.Equal(want.AcceptedAt) || got.Version != 6 {
		t.Fatalf("damaged history folds to %+v", got)
	}
}
