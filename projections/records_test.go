package projections

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

func recEvent(id string, occurred string, d events.Payload) events.Event {
	return events.Event{AggregateID: id, Type: d.EventType(), OccurredAt: at(occurred), Data: d}
}

func receivedBorn(id, authority, when, dob string, claimed int) events.Event {
	return recEvent(id, when, events.ReferralReceived{ReferralID: id, ReceivingAuthority: authority, Route: "hotel", ChildReference: "CHILD-" + id, DateOfBirth: dob, ClaimedAge: claimed})
}

// Whatever the history, the view's due date and rule are the ones the
// retention saga computes from the referral's whole history: the saga
// disposes by them, so the page must not say otherwise.
func TestRecordsDueIsTheSagas(t *testing.T) {
	p := retention.DefaultPolicy()
	now := at("2100-01-01T12:00:00Z") // late enough for every period to be due
	for _, c := range []struct {
		name  string
		given []events.Event
	}{
		{"placed, date of birth recorded", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0), placed("r", "2025-06-05T10:00:00Z")}},
		{"placed, claimed age only", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "", 16), placed("r", "2025-06-05T10:00:00Z")}},
		{"assessed date of birth over the recorded one", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0),
			recEvent("r", "2025-06-03T10:00:00Z", events.AgeAssessed{Method: "merton", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2008-11-20"}), placed("r", "2025-06-05T10:00:00Z")}},
		{"withdrawn, never placed", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0), recEvent("r", "2025-06-04T10:00:00Z", events.ReferralWithdrawn{Reason: "missing"})}},
		{"died in care before 18", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0), placed("r", "2025-06-05T10:00:00Z"),
			recEvent("r", "2026-02-01T10:00:00Z", events.ChildLeftCare{LeftAt: at("2026-02-01T10:00:00Z"), Reason: "died"})}},
		{"corrected date of birth over the recorded one", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0), placed("r", "2025-06-05T10:00:00Z"),
			recEvent("r", "2025-07-01T10:00:00Z", events.ChildDetailCorrected{Field: "dateOfBirth", NewValue: "2008-01-15", Reason: "passport", Corrector: "authority"})}},
		{"corrected date of birth over an earlier assessed one", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0),
			recEvent("r", "2025-06-03T10:00:00Z", events.AgeAssessed{Method: "merton", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2008-11-20"}), placed("r", "2025-06-05T10:00:00Z"),
			recEvent("r", "2025-07-01T10:00:00Z", events.ChildDetailCorrected{Field: "dateOfBirth", NewValue: "2008-01-15", Reason: "passport", Corrector: "authority"})}},
		{"assessed date of birth over an earlier correction", []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0),
			recEvent("r", "2025-06-03T10:00:00Z", events.ChildDetailCorrected{Field: "dateOfBirth", NewValue: "2008-01-15", Reason: "passport", Corrector: "authority"}),
			recEvent("r", "2025-06-04T10:00:00Z", events.AgeAssessed{Method: "merton", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2008-11-20"}), placed("r", "2025-06-05T10:00:00Z")}},
		{"referred into the scheme with a date of birth, placed", []events.Event{recEvent("r", "2025-06-02T10:00:00Z", events.ReferralReferred{ReferralID: "r", Region: "north-west", Route: "hotel", DateOfBirth: "2010-01-31", ClaimedAge: 15}), placed("r", "2025-06-05T10:00:00Z")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, ok := p.Retain(retention.FactsOf(c.given))
			if !ok {
				t.Fatal("the saga knows no period for this history; the case tests nothing")
			}
			rep := ReportRecords(fold(RecordsSpec(), c.given...), p, RecordsFilter{Within: 90, Recent: 10}, now)
			if len(rep.Due) != 1 {
				t.Fatalf("due = %+v, want the one record", rep.Due)
			}
			if got := rep.Due[0]; got.Due != want.Until.String() || got.Rule != want.Rule || !got.Overdue {
				t.Fatalf("due = %+v, want %s by %s, overdue", got, want.Until, want.Rule)
			}
			// The sweep's list: the record from the instant its retention
			// ends, not a second before.
			v := fold(RecordsSpec(), c.given...)
			if got := RecordsDueBy(v, p, want.Due().Add(-time.Second)); len(got) != 0 {
				t.Errorf("due a second before the end: %v", got)
			}
			if got := RecordsDueBy(v, p, want.Due()); !slices.Equal(got, []string{"r"}) {
				t.Errorf("due at the end: %v, want [r]", got)
			}
		})
	}
}

// Given records due at various dates, the report lists those due by the
// window's end (London dates), overdue first, and counts those whose
// period is not known yet.
func TestRecordsDueWindow(t *testing.T) {
	p := retention.DefaultPolicy()
	// Looked after: kept until the 75th birthday.
	v := fold(RecordsSpec(),
		receivedBorn("later", "E08000007", "2025-06-02T10:00:00Z", "1951-06-01", 0), placed("later", "2025-06-05T10:00:00Z"),
		receivedBorn("soon", "E08000007", "2025-06-02T10:00:00Z", "1951-02-10", 0), placed("soon", "2025-06-05T10:00:00Z"),
		receivedBorn("overdue", "E06000001", "2025-06-02T10:00:00Z", "1950-12-31", 0), placed("overdue", "2025-06-05T10:00:00Z"),
		receivedBorn("open", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0),
	)
	// 23:30 UTC on 31 January 2026 is still 31 January in London (GMT).
	now := at("2026-01-31T23:30:00Z")
	rep := ReportRecords(v, p, RecordsFilter{Within: 10}, now)
	var got []string
	for _, d := range rep.Due {
		got = append(got, d.ReferralID+" "+d.Due)
	}
	if want := []string{"overdue 2025-12-31", "soon 2026-02-10"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("due = %v, want %v", got, want)
	}
	if !rep.Due[0].Overdue || rep.Due[1].Overdue || rep.Due[0].Authority != "E06000001" {
		t.Fatalf("due = %+v: the first overdue and from Hartlepool, the second not", rep.Due)
	}
	if rep.Until != "2026-02-10" || rep.Unknown != 1 || rep.Policy != p.Version {
		t.Fatalf("until %s, unknown %d, policy %q", rep.Until, rep.Unknown, rep.Policy)
	}
}

// Given a legal hold, the record is listed as held and not as due; its
// release puts it back; a disposal lists it as done and drops every fact
// the period came from, so no date of birth outlives the child's key in
// the view or its snapshot.
func TestRecordsHoldsAndDisposals(t *testing.T) {
	p := retention.DefaultPolicy()
	now := at("2026-03-01T12:00:00Z")
	given := []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "1951-02-10", 0), placed("r", "2025-06-05T10:00:00Z")}
	hold := recEvent("r", "2026-01-10T09:00:00Z", events.LegalHoldPlaced{Reason: "Inquiry 2026/4"})

	rep := ReportRecords(fold(RecordsSpec(), append(given, hold)...), p, RecordsFilter{Within: 90}, now)
	if len(rep.Due) != 0 || len(rep.Holds) != 1 {
		t.Fatalf("held: due %+v, holds %+v; want held only", rep.Due, rep.Holds)
	}
	if h := rep.Holds[0]; h.Reason != "Inquiry 2026/4" || !h.Since.Equal(at("2026-01-10T09:00:00Z")) || h.Due != "2026-02-10" || h.Authority != "E08000007" {
		t.Fatalf("hold = %+v", h)
	}
	if due := RecordsDueBy(fold(RecordsSpec(), append(given, hold)...), p, now); len(due) != 0 {
		t.Errorf("the sweep would take a held record: %v", due)
	}
	if due := RecordsDueBy(fold(RecordsSpec(), given...), p, now); !slices.Equal(due, []string{"r"}) {
		t.Errorf("the sweep would not take the record before its hold: %v", due)
	}

	released := append(given, hold, recEvent("r", "2026-02-20T09:00:00Z", events.LegalHoldReleased{Reason: "Inquiry closed"}))
	rep = ReportRecords(fold(RecordsSpec(), released...), p, RecordsFilter{Within: 90}, now)
	if len(rep.Holds) != 0 || len(rep.Due) != 1 || !rep.Due[0].Overdue {
		t.Fatalf("released: due %+v, holds %+v; want due, overdue", rep.Due, rep.Holds)
	}

	disposed := append(released, recEvent("r", "2026-02-20T09:00:05Z", events.RecordDisposed{ReferralID: "r", Policy: p.Version, Rule: retention.RuleLookedAfter, RetainedUntil: at("2026-02-10T00:00:00Z")}))
	v := fold(RecordsSpec(), disposed...)
	rep = ReportRecords(v, p, RecordsFilter{Within: 90, Recent: 5}, now)
	if len(rep.Due) != 0 || len(rep.Holds) != 0 || rep.DisposedTotal != 1 || rep.Unknown != 0 {
		t.Fatalf("disposed: %+v", rep)
	}
	if due := RecordsDueBy(v, p, now); len(due) != 0 {
		t.Errorf("the sweep would take a disposed record again: %v", due)
	}
	want := DisposedRecord{ReferralID: "r", Authority: "E08000007", At: at("2026-02-20T09:00:05Z"), Rule: retention.RuleLookedAfter, Policy: p.Version, RetainedUntil: "2026-02-10"}
	if !reflect.DeepEqual(rep.Disposed, []DisposedRecord{want}) {
		t.Fatalf("disposed = %+v, want %+v", rep.Disposed, want)
	}
	// A child's later event (the key is gone; it would not be read, but a
	// fold must not start keeping facts again either).
	v = ApplyRecords(v, placed("r", "2026-02-21T10:00:00Z"))
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "1951") {
		t.Fatalf("the disposed record's view still holds its date of birth: %s", b)
	}
}

// The view is what its snapshot (its JSON) reads back: a resumed view
// reports what the one folded from zero does. The snapshot, unsealed on
// disk, does not hold a date of birth as it was recorded.
func TestRecordsSnapshotRoundTrip(t *testing.T) {
	p := retention.DefaultPolicy()
	v := fold(RecordsSpec(),
		receivedBorn("a", "E08000007", "2025-06-02T10:00:00Z", "1951-02-10", 0), placed("a", "2025-06-05T10:00:00Z"),
		receivedBorn("b", "E08000007", "2025-06-02T10:00:00Z", "", 17), recEvent("b", "2025-07-01T10:00:00Z", events.ReferralWithdrawn{Reason: "missing"}),
		recEvent("b", "2025-07-02T10:00:00Z", events.LegalHoldPlaced{Reason: "Complaint C-19"}),
		receivedBorn("c", "E06000001", "2025-06-02T10:00:00Z", "1950-01-01", 0), placed("c", "2025-06-05T10:00:00Z"),
		recEvent("c", "2026-01-01T10:00:00Z", events.RecordDisposed{ReferralID: "c", Policy: p.Version, Rule: retention.RuleLookedAfter, RetainedUntil: at("2025-01-01T00:00:00Z")}),
	)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "1951-02-10") {
		t.Fatalf("the snapshot holds a living child's date of birth as their sealed events do: %s", b)
	}
	back := NewRecords()
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	now := at("2026-03-01T12:00:00Z")
	f := RecordsFilter{Within: 3650, Recent: 10}
	if got, want := ReportRecords(back, p, f, now), ReportRecords(v, p, f, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed %+v\nfolded  %+v", got, want)
	}
}

// Given a child looked after, when the authority corrects the date of
// birth, then the record is kept until the 75th birthday by the corrected
// date, in the view as in the saga that disposes; a corrected nationality
// moves nothing.
func TestACorrectedDateOfBirthMovesTheRecordsDueDate(t *testing.T) {
	p := retention.DefaultPolicy()
	now := at("2100-01-01T12:00:00Z")
	given := []events.Event{receivedBorn("r", "E08000007", "2025-06-02T10:00:00Z", "2009-03-04", 0), placed("r", "2025-06-05T10:00:00Z"),
		recEvent("r", "2025-06-20T10:00:00Z", events.ChildDetailCorrected{Field: "nationality", NewValue: "Eritrean", Reason: "documents", Corrector: "data-protection"})}
	due := func(evs []events.Event) string {
		t.Helper()
		rep := ReportRecords(fold(RecordsSpec(), evs...), p, RecordsFilter{Within: 90, Recent: 10}, now)
		if len(rep.Due) != 1 {
			t.Fatalf("due = %+v, want the one record", rep.Due)
		}
		return rep.Due[0].Due
	}
	before := due(given)
	corrected := append(given, recEvent("r", "2025-07-01T10:00:00Z", events.ChildDetailCorrected{Field: "dateOfBirth", NewValue: "2008-01-15", Reason: "passport", Corrector: "authority"}))
	after := due(corrected)
	want, _ := p.Retain(retention.FactsOf(corrected))
	if before == after || after != want.Until.String() || !strings.HasPrefix(after, "2083-01-15") {
		t.Fatalf("kept until %s before the correction and %s after; the saga says %s, want the 75th birthday by the corrected date (2083-01-15)", before, after, want.Until)
	}
}
