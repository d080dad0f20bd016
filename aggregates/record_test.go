package aggregates

import (
	"errors"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

var (
	recNow = time.Date(2086, 2, 18, 9, 0, 0, 0, time.UTC)
	recDue = time.Date(2086, 2, 17, 0, 0, 0, 0, time.UTC)
)

func recordGiven(evs ...events.Payload) Record {
	r := Records.Start("r-7")
	for _, p := range evs {
		r = EvolveRecord(r, events.New(recNow.Add(-time.Hour), p))
	}
	return r
}

func recordRefused(t *testing.T, err error, code Code) {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) || r.Code != code {
		t.Fatalf("refusal %v, want %s", err, code)
	}
}

func TestRecordIsDisposedOfOnceWhenDue(t *testing.T) {
	dispose := Dispose{Policy: "retention-2026", Rule: "looked-after", Due: recDue}
	// Given nothing, when the period has ended, then the record is disposed of.
	evs, err := DecideRecord(recordGiven(), dispose, recNow)
	if err != nil {
		t.Fatal(err)
	}
	d := evs[0].Data.(events.RecordDisposed)
	if d.ReferralID != "r-7" || d.Rule != "looked-after" || d.Policy != "retention-2026" || !d.RetainedUntil.Equal(recDue) {
		t.Errorf("disposed %+v", d)
	}
	// Given it was disposed of, a second disposal, or anything, is refused.
	gone := recordGiven(d)
	_, err = DecideRecord(gone, dispose, recNow)
	recordRefused(t, err, CodeAlreadyDisposed)
	_, err = DecideRecord(gone, PlaceLegalHold{Reason: "too late"}, recNow)
	recordRefused(t, err, CodeAlreadyDisposed)
	// Before the period ends it is refused.
	_, err = DecideRecord(recordGiven(), dispose, recDue.Add(-time.Second))
	recordRefused(t, err, CodeNotYetDue)
}

func TestLegalHoldSuspendsDisposalUntilReleased(t *testing.T) {
	dispose := Dispose{Policy: "retention-2026", Rule: "looked-after", Due: recDue}
	held := recordGiven(events.LegalHoldPlaced{Reason: "inquiry into 2026 placements"})
	_, err := DecideRecord(held, dispose, recNow)
	recordRefused(t, err, CodeLegalHold)
	_, err = DecideRecord(held, PlaceLegalHold{Reason: "another"}, recNow)
	recordRefused(t, err, CodeAlreadyHeld)
	released := recordGiven(events.LegalHoldPlaced{Reason: "inquiry"}, events.LegalHoldReleased{Reason: "inquiry closed"})
	if _, err := DecideRecord(released, dispose, recNow); err != nil {
		t.Errorf("after release: %v", err)
	}
	_, err = DecideRecord(released, ReleaseLegalHold{Reason: "again"}, recNow)
	recordRefused(t, err, CodeNoLegalHold)
	if _, err := DecideRecord(recordGiven(), PlaceLegalHold{Reason: " "}, recNow); err == nil {
		t.Error("a hold with no reason was placed")
	}
}
