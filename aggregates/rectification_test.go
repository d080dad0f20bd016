package aggregates

import (
	"testing"

	"github.com/ntsflow/ntsflow/events"
)

// Rectification and the record of a subject access export, given events,
// when a command, then events or a refusal.

var (
	gReceivedDetails = ev(events.TypeReferralReceived, received, events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel,
		Hotel: "Hotel A", ChildReference: "HO-1", DateOfBirth: "2010-03-01", Sex: "male", Nationality: "Sudanese"})
	gCorrected = ev(events.TypeChildDetailCorrected, now, events.ChildDetailCorrected{Field: FieldNationality, NewValue: "Eritrean", Reason: "the interpreter misheard", Corrector: CorrectorAuthority})
)

func fix(field, value, by string) CorrectChildDetail {
	return CorrectChildDetail{Field: field, NewValue: value, Reason: "the child's passport says so", Corrector: by}
}

var correctionCases = []decideCase{
	{name: "correct the nationality", given: []events.Event{gReceivedDetails}, when: fix(FieldNationality, "Eritrean", CorrectorAuthority), then: []string{events.TypeChildDetailCorrected}},
	{name: "the data protection officer corrects the sex", given: []events.Event{gReceivedDetails}, when: fix(FieldSex, "female", CorrectorDataProtection), then: []string{events.TypeChildDetailCorrected}},
	{name: "correct the date of birth", given: []events.Event{gReceivedDetails}, when: fix(FieldDateOfBirth, "2011-03-01", CorrectorAuthority), then: []string{events.TypeChildDetailCorrected}},
	{name: "correct a placed child's record", given: []events.Event{gReceivedDetails, gPlaced}, when: fix(FieldNationality, "Eritrean", CorrectorAuthority), then: []string{events.TypeChildDetailCorrected}},
	{name: "correct while awaiting allocation", given: []events.Event{gReferred}, when: fix(FieldSex, "female", CorrectorAuthority), then: []string{events.TypeChildDetailCorrected}},
	{name: "the child's reference is not correctable", given: []events.Event{gReceivedDetails}, when: fix("childReference", "HO-2", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "field"}},
	{name: "a field nobody knows", given: []events.Event{gReceivedDetails}, when: fix("favouriteColour", "blue", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "field"}},
	{name: "the data protection officer may not correct the date of birth", given: []events.Event{gReceivedDetails}, when: fix(FieldDateOfBirth, "2011-03-01", CorrectorDataProtection), ref: &thenRefused{Illegal, CodeNotYourCorrection, ""}},
	{name: "a corrector of no known capacity", given: []events.Event{gReceivedDetails}, when: fix(FieldSex, "female", ""), ref: &thenRefused{Illegal, CodeNotYourCorrection, ""}},
	{name: "no reason", given: []events.Event{gReceivedDetails}, when: CorrectChildDetail{Field: FieldSex, NewValue: "female", Reason: " ", Corrector: CorrectorAuthority}, ref: &thenRefused{Invalid, CodeInvalidValue, "reason"}},
	{name: "the same value again", given: []events.Event{gReceivedDetails, gCorrected}, when: fix(FieldNationality, "Eritrean", CorrectorAuthority), ref: &thenRefused{Illegal, CodeAlreadyRecorded, ""}},
	{name: "a sex not on the form", given: []events.Event{gReceivedDetails}, when: fix(FieldSex, "x", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "newValue"}},
	{name: "a date of birth that is not a date", given: []events.Event{gReceivedDetails}, when: fix(FieldDateOfBirth, "1 March 2011", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "newValue"}},
	{name: "a date of birth of an adult", given: []events.Event{gReceivedDetails}, when: fix(FieldDateOfBirth, "2005-01-01", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "newValue"}},
	{name: "the date of birth while an age assessment runs", given: []events.Event{gReceivedDetails, gAgeAsked}, when: fix(FieldDateOfBirth, "2011-03-01", CorrectorAuthority), ref: &thenRefused{Illegal, CodeAgeAssessmentPending, ""}},
	{name: "a nationality over two lines", given: []events.Event{gReceivedDetails}, when: fix(FieldNationality, "Eri\ntrean", CorrectorAuthority), ref: &thenRefused{Invalid, CodeInvalidValue, "newValue"}},
	{name: "no referral", when: fix(FieldSex, "female", CorrectorAuthority), ref: &thenRefused{Illegal, CodeNotFound, ""}},
	{name: "record a subject access export", given: []events.Event{gReceivedDetails}, when: RecordSubjectAccess{Events: 1, Reason: "the child asked"}, then: []string{events.TypeSubjectAccessExported}},
	{name: "a subject access export with no reason", given: []events.Event{gReceivedDetails}, when: RecordSubjectAccess{Events: 1}, ref: &thenRefused{Invalid, CodeInvalidValue, "reason"}},
	{name: "a subject access export of nothing", given: []events.Event{gReceivedDetails}, when: RecordSubjectAccess{Reason: "the child asked"}, ref: &thenRefused{Invalid, CodeInvalidValue, "events"}},
	{name: "a subject access export of no referral", when: RecordSubjectAccess{Events: 1, Reason: "the child asked"}, ref: &thenRefused{Illegal, CodeNotFound, ""}},
}

// TestDecide runs them with the referral's other cases.
func init() { cases = append(cases, correctionCases...) }

// The fold shows the corrected value; the history keeps both, the first
// in the receipt as it was recorded.
func TestTheFoldShowsTheCorrectedValue(t *testing.T) {
	r := Fold([]events.Event{gReceivedDetails})
	if r.Nationality != "Sudanese" || r.Sex != "male" || r.DateOfBirth != "2010-03-01" {
		t.Fatalf("the receipt's details did not fold: %+v", r)
	}
	evs, err := Decide(r, fix(FieldNationality, "Eritrean", CorrectorAuthority), now)
	if err != nil {
		t.Fatal(err)
	}
	d := evs[0].Data.(events.ChildDetailCorrected)
	if d.NewValue != "Eritrean" || d.Corrector != CorrectorAuthority || d.Reason == "" {
		t.Errorf("correction recorded as %+v", d)
	}
	history := append([]events.Event{gReceivedDetails}, evs...)
	r = Fold(history)
	if r.Nationality != "Eritrean" || r.Corrections != 1 || r.Sex != "male" || r.ChildReference != "HO-1" {
		t.Errorf("after the correction: %+v", r)
	}
	if history[0].Data.(events.ReferralReceived).Nationality != "Sudanese" {
		t.Error("the receipt was changed")
	}
}

// A correction made while the referral awaited allocation is what the
// accepting authority receives.
func TestACorrectionBeforeAcceptanceReachesTheReceipt(t *testing.T) {
	r := Fold([]events.Event{gReferred})
	c, err := Decide(r, fix(FieldSex, "female", CorrectorAuthority), now)
	if err != nil {
		t.Fatal(err)
	}
	r = Fold(append([]events.Event{gReferred}, append(c, gAllocated)...))
	evs, err := Decide(r, AcceptAllocation{Authority: "E08000007"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[1].Data.(events.ReferralReceived).Sex; got != "female" {
		t.Errorf("the receipt on acceptance says sex %q, want the corrected female", got)
	}
	if got := Referrals.Fold(append([]events.Event{gReferred, c[0], gAllocated}, evs...)); got.Sex != "female" {
		t.Errorf("after acceptance the referral says sex %q", got.Sex)
	}
}

// Every correctable field names who may correct it, and the child's
// reference, the referral's identity, is never among them.
func TestCorrectableIsComplete(t *testing.T) {
	for _, f := range CorrectableFields() {
		if len(Correctable[f]) == 0 || fieldWords[f] == "" {
			t.Errorf("field %s: correctors %v, words %q", f, Correctable[f], fieldWords[f])
		}
	}
	if len(Correctable) != len(CorrectableFields()) {
		t.Errorf("Correctable has %d fields, CorrectableFields %d", len(Correctable), len(CorrectableFields()))
	}
	if _, ok := Correctable["childReference"]; ok {
		t.Error("the child's reference is correctable: the identity property forbids it")
	}
}
