package events

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

func sample() []Event {
	env := func(typ string, data any) Event {
		return Event{ID: "e-" + typ, Type: typ, SchemaVersion: SchemaVersion(typ), AggregateID: "r1", OccurredAt: t0, RecordedAt: t0.Add(time.Hour), Actor: "tester", CorrelationID: "c1", CausationID: "k1", Data: data}
	}
	return []Event{
		env(TypeReferralReceived, ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1", ClaimedAge: 15, Languages: []string{"Pashto", "Dari"}}),
		env(TypeProfessionalsNotified, ProfessionalsNotified{Professions: []string{"health", "police"}, NotifiedBy: "team leader"}),
		env(TypePlacementSearched, PlacementSearched{Track: "in-house", OffersFound: 2, PlacementTypes: []string{"U1"}}),
		env(TypeAgeAssessmentRequested, AgeAssessmentRequested{Method: "merton-compliant"}),
		env(TypeAgeAssessed, AgeAssessed{Method: "merton-compliant", Outcome: AgeOutcomeChild}),
		env(TypeReferralPlaced, ReferralPlaced{PlacementType: "U1", Provider: "In-house", PlacedAt: t0.Add(48 * time.Hour)}),
		env(TypeReferralWithdrawn, ReferralWithdrawn{Reason: "missing"}),
		env(TypeChildLeftCare, ChildLeftCare{LeftAt: t0.Add(400 * 24 * time.Hour), Reason: "turned-18"}),
		env(TypeDeadlineWarning, DeadlineWarning{Deadline: t0.Add(7 * 24 * time.Hour), WorkingDaysElapsed: 4}),
		env(TypeDeadlineBreached, DeadlineBreached{Deadline: t0.Add(7 * 24 * time.Hour), WorkingDaysElapsed: 5, EscalatedTo: "team-leader"}),
		env(TypeDeadlineSet, DeadlineSet{Route: RouteHotel, Policy: "nts-2022-08", WorkingDays: 5, DueAt: t0.Add(7 * 24 * time.Hour), WarningAt: t0.Add(6 * 24 * time.Hour), EscalateAt: t0.Add(9 * 24 * time.Hour)}),
		env(TypeDeadlineEscalated, DeadlineEscalated{Deadline: t0.Add(7 * 24 * time.Hour), WorkingDaysElapsed: 7, EscalatedTo: "director"}),
		env(TypeAuthorityPledgeSet, AuthorityPledgeSet{Authority: "E08000007", Pledge: 4}),
		env(TypeReferralReferred, ReferralReferred{ReferralID: "r1", Region: "north-west", Route: RouteHotel, ReferringParty: ReferringPartyHomeOffice, Hotel: "Hotel A", ChildReference: "HO-1", ClaimedAge: 15}),
		env(TypeReferralAllocated, ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 3, Skipped: []Skip{{Authority: "E08000001", Reason: SkipPaused}}, RespondBy: t0.Add(24 * time.Hour)}),
		env(TypeAllocationAccepted, AllocationAccepted{Authority: "E08000007"}),
		env(TypeAllocationException, AllocationException{Authority: "E08000007", Reason: "no placement for these needs"}),
		env(TypeAllocationReminded, AllocationReminded{Authority: "E08000007", RespondBy: t0.Add(24 * time.Hour)}),
		env(TypeAllocationEscalated, AllocationEscalated{Authority: "E08000007", RespondBy: t0.Add(24 * time.Hour), EscalatedTo: "rsmp-lead"}),
		env(TypeRegionRotaSet, RegionRotaSet{Region: "north-west", Order: []string{"E08000007", "E08000001"}}),
		env(TypeRegionAuthorityPaused, RegionAuthorityPaused{Region: "north-west", Authority: "E08000001", Reason: "placement pressures", Until: t0.Add(30 * 24 * time.Hour)}),
		env(TypeRegionPauseEnded, RegionPauseEnded{Region: "north-west", Authority: "E08000001", Reason: "placements found", WasUntil: t0.Add(30 * 24 * time.Hour)}),
		env(TypeRegionRotaAdvanced, RegionRotaAdvanced{Region: "north-west", ReferralID: "r1", Authority: "E08000007", Position: 3}),
		env(TypeWorkerJoined, WorkerJoined{Authority: "E08000007", StaffID: "sw1", Name: "A. Social Worker", CaseloadCap: 15, OtherCases: 9}),
		env(TypeWorkerUpdated, WorkerUpdated{StaffID: "sw1", Name: "A. Social Worker", CaseloadCap: 16, OtherCases: 8}),
		env(TypeWorkerAway, WorkerAway{StaffID: "sw1", Until: t0.Add(14 * 24 * time.Hour), Reason: "annual leave"}),
		env(TypeWorkerLeft, WorkerLeft{StaffID: "sw1", Reallocate: []string{"r1"}}),
		env(TypeWorkerAllocated, WorkerAllocated{ReferralID: "r1", StaffID: "sw2", Position: 2, Skipped: []WorkerSkip{{StaffID: "sw1", Reason: SkipWorkerAway}}, Previous: "sw1", Reason: "sw1 left"}),
		env(TypePledgePlaceTaken, PledgePlaceTaken{Authority: "E08000007", ReferralID: "r1", Place: 2, Pledge: 4}),
		env(TypeAuthorityContactSet, AuthorityContactSet{Authority: "E08000007", Mailbox: "nts@stockport.gov.uk", Name: "NTS single point of contact"}),
		env(TypeMissingReported, MissingReported{Episode: 1, Authority: "E08000007", Region: "North West", MissingAt: t0, LastSeen: "bus station", PoliceReference: "GMP-123", Early: true, DaysSincePlaced: 2, PlacedAt: t0.Add(-48 * time.Hour), StrategyDueAt: t0.Add(24 * time.Hour), Policy: "p1"}),
		env(TypeMissingNotified, MissingNotified{Episode: 1, Party: PartyPolice}),
		env(TypeMissingReturned, MissingReturned{Episode: 1, ReturnedAt: t0.Add(5 * time.Hour), WhereFound: "a friend's flat", InterviewDueAt: t0.Add(77 * time.Hour), InterviewWarnAt: t0.Add(53 * time.Hour)}),
		env(TypeStrategyDiscussionHeld, StrategyDiscussionHeld{Episode: 1, HeldAt: t0.Add(3 * time.Hour), Attendees: []string{"police", "social-care"}}),
		env(TypeStrategyDiscussionLate, StrategyDiscussionOverdue{Episode: 1, DueAt: t0.Add(24 * time.Hour)}),
		env(TypeReturnInterviewOffered, ReturnInterviewOffered{Episode: 1, OfferedAt: t0.Add(30 * time.Hour), OfferedBy: "independent advocate", Accepted: true, DueAt: t0.Add(77 * time.Hour), InTime: true}),
		env(TypeReturnInterviewWarning, ReturnInterviewWarning{Episode: 1, DueAt: t0.Add(77 * time.Hour)}),
		env(TypeReturnInterviewBreached, ReturnInterviewBreached{Episode: 1, DueAt: t0.Add(77 * time.Hour)}),
		env(TypeCareDateOfBirthSet, CareDateOfBirthSet{Authority: "E08000007", DateOfBirth: "2009-01-01", Basis: DOBYearOnly, SixteenAt: t0, TriplePlanningAt: t0.Add(time.Hour), EighteenAt: t0.Add(2 * time.Hour)}),
		env(TypeLeaveToRemainRecorded, LeaveToRemainRecorded{Status: LeavePending}),
		env(TypeLeavingCareInvolved, LeavingCareInvolved{PathwayPlanDueAt: t0.Add(90 * 24 * time.Hour)}),
		env(TypeTriplePlanningRecorded, TriplePlanningRecorded{LeaveToRemain: LeavePending, Plans: []string{LeaveGranted, LeavePending, LeaveRefused}}),
		env(TypeCareLeaver, CareLeaver{LeaveToRemain: LeavePending, Accommodation: AccommodationExtendedPlacement}),
		env(TypeSequenceVoided, SequenceVoided{Sequence: 41, Reason: "published by mistake", Problem: "does not decode", Forced: true}),
		env(TypeChildDetailCorrected, ChildDetailCorrected{Field: "nationality", NewValue: "Eritrean", Reason: "the interpreter misheard", Corrector: "authority"}),
		env(TypeSubjectAccessExported, SubjectAccessExported{Events: 12, Reason: "request from the child's advocate"}),
		env(TypeLegalHoldPlaced, LegalHoldPlaced{Reason: "inquiry into placements in 2026"}),
		env(TypeLegalHoldReleased, LegalHoldReleased{Reason: "inquiry closed"}),
		env(TypeRecordDisposed, RecordDisposed{ReferralID: "r-1", Policy: "retention-2026", Rule: "looked-after", RetainedUntil: time.Date(2086, 2, 17, 0, 0, 0, 0, time.UTC)}),
	}
}

func TestEveryTypeRoundTrips(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range sample() {
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("encode %s: %v", e.Type, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", e.Type, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s: round trip changed the event:\n got %#v\nwant %#v", e.Type, got, e)
		}
		seen[e.Type] = true
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("catalogue type %s has no round-trip case", typ)
		}
	}
}

func TestDecodeRejectsUnknownFields(t *testing.T) {
	b, _ := Encode(sample()[1])
	for name, doc := range map[string]string{
		"in the envelope": strings.Replace(string(b), `"actor"`, `"colour":"red","actor"`, 1),
		"in the data":     strings.Replace(string(b), `"notifiedBy"`, `"colour":"red","notifiedBy"`, 1),
	} {
		if _, err := Decode([]byte(doc)); err == nil || !strings.Contains(err.Error(), "colour") {
			t.Errorf("%s: want an error naming the unknown field, got %v", name, err)
		}
	}
}

func TestDecodeRejectsTrailingData(t *testing.T) {
	b, _ := Encode(sample()[1])
	if _, err := Decode(append(b, []byte(` {}`)...)); err == nil {
		t.Fatal("want an error for data after the event")
	}
}

// Given a referral.received written at schema version 1, when it is read,
// then it comes back as version 2, its single "language" string split into
// the "languages" list, and nothing else changed.
func TestUpcastReceivedV1(t *testing.T) {
	v1 := `{"id":"e1","type":"referral.received","schemaVersion":1,"aggregateId":"r1","occurredAt":"2021-12-01T09:00:00Z","recordedAt":"2021-12-01T09:05:00Z","actor":"kent","data":{"referralId":"r1","receivingAuthority":"E08000007","route":"entry-authority","transferringAuthority":"E10000016","childReference":"HO-9","claimedAge":16,"language":"Pashto, Dari"}}`
	e, err := Decode([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if e.SchemaVersion != 2 {
		t.Errorf("schema version %d, want 2", e.SchemaVersion)
	}
	d := e.Data.(ReferralReceived)
	if !reflect.DeepEqual(d.Languages, []string{"Pashto", "Dari"}) {
		t.Errorf("languages %q", d.Languages)
	}
	if d.TransferringAuthority != "E10000016" || d.ClaimedAge != 16 {
		t.Errorf("other fields changed: %+v", d)
	}
	// v2 refuses the old field: the upcast, not leniency, is what reads v1.
	v2 := strings.Replace(v1, `"schemaVersion":1`, `"schemaVersion":2`, 1)
	if _, err := Decode([]byte(v2)); err == nil {
		t.Error(`a v2 event with the v1 field "language" decoded`)
	}
}

func TestUnknownTypeDecodesAsUnknown(t *testing.T) {
	doc := `{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"r1","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{"to":"mars"}}`
	e, err := Decode([]byte(doc))
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("want ErrUnknownType, got %v", err)
	}
	u, ok := e.Data.(Unknown)
	if !ok || string(u.Raw) != `{"to":"mars"}` {
		t.Fatalf("want the raw data kept, got %#v", e.Data)
	}
	// A newer schema version of a known type is unknown too.
	newer := strings.Replace(string(mustEncode(t, sample()[1])), `"schemaVersion":1`, `"schemaVersion":9`, 1)
	if _, err := Decode([]byte(newer)); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("schema version 9: want ErrUnknownType, got %v", err)
	}
}

func TestCommitRoundTripAndEmpty(t *testing.T) {
	c := Commit{Command: "x", IdempotencyKey: "k", RequestHash: "h", Events: sample()[:3]}
	b, err := EncodeCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCommit(b)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %v\n got %#v", err, got)
	}
	if _, err := EncodeCommit(Commit{Command: "x"}); err == nil {
		t.Error("a commit with no events encoded")
	}
	if _, err := DecodeCommit([]byte(`{"command":"x","events":[]}`)); err == nil {
		t.Error("a commit with no events decoded")
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"0aea9632-7c2e-5401-909b-3c29b963bd00": true, "ref_1": true, "": false, "a.b": false, "a*": false, "a>": false, "a b": false, strings.Repeat("a", 65): false} {
		if ValidID(id) != want {
			t.Errorf("ValidID(%q) = %v", id, !want)
		}
	}
}

func mustEncode(t *testing.T, e Event) []byte {
	t.Helper()
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every type in the catalogue decodes to the payload that names it, and an
// event whose data is another type's payload does not encode.
func TestPayloadsNameTheirType(t *testing.T) {
	for typ, pt := range catalogue {
		v, err := pt.codec.decode(json.RawMessage(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		p, ok := v.(Payload)
		if !ok || p.EventType() != typ {
			t.Errorf("%s decodes to %T, which names %q", typ, v, p.EventType())
		}
	}
	e := New(time.Now(), ReferralPlaced{PlacementType: "U1"})
	e.Type = TypeReferralWithdrawn
	if _, err := Encode(e); err == nil {
		t.Fatal("an event whose data is another type's payload was encoded")
	}
}

// A name given twice is refused, in the envelope, the payload and the
// commit: encoding/json let the last win, so a doctored message could read
// one way to us and another to a different reader.
func TestDecodeRejectsDuplicateNames(t *testing.T) {
	b, _ := Encode(sample()[1])
	for name, doc := range map[string]string{
		"in the envelope": strings.Replace(string(b), `"actor"`, `"actor":"someone","actor"`, 1),
		"in the data":     strings.Replace(string(b), `"notifiedBy"`, `"notifiedBy":"x","notifiedBy"`, 1),
	} {
		if _, err := Decode([]byte(doc)); err == nil {
			t.Errorf("%s: a duplicate name decoded", name)
		}
	}
	c, _ := EncodeCommit(Commit{Command: "x", Events: sample()[:1]})
	if _, err := DecodeCommit([]byte(strings.Replace(string(c), `"command":"x"`, `"command":"x","command":"y"`, 1))); err == nil {
		t.Error("a commit with a duplicate name decoded")
	}
}

// Invalid UTF-8 is refused wherever it lies, in the envelope, the payload
// and the commit: a string that does not decode to text is not ours.
func TestDecodeRejectsInvalidUTF8(t *testing.T) {
	b, _ := Encode(sample()[1])
	for name, doc := range map[string]string{
		"in the envelope":    strings.Replace(string(b), `"tester"`, "\"test\xffer\"", 1),
		"in the data":        strings.Replace(string(b), `"team leader"`, "\"team \xc0\xafleader\"", 1),
		"a lone surrogate":   strings.Replace(string(b), `"team leader"`, `"team \udc00leader"`, 1),
		"a truncated rune":   strings.Replace(string(b), `"team leader"`, "\"team leader\xe2\x82\"", 1),
		"in a list of names": strings.Replace(string(b), `"police"`, "\"pol\x80ice\"", 1),
	} {
		if doc == string(b) {
			t.Fatalf("%s: nothing replaced", name)
		}
		if _, err := Decode([]byte(doc)); err == nil {
			t.Errorf("%s: invalid UTF-8 decoded", name)
		}
	}
	c, _ := EncodeCommit(Commit{Command: "x", Events: sample()[:1]})
	if _, err := DecodeCommit([]byte(strings.Replace(string(c), `"command":"x"`, "\"command\":\"x\xff\"", 1))); err == nil {
		t.Error("a commit with invalid UTF-8 decoded")
	}
}
