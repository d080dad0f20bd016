package retention

import (
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

func withdrawnChild() []events.Event {
	return []events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0),
		events.New(at("2026-03-02T09:00:00Z"), events.ReferralWithdrawn{Reason: "reallocated"})}
}

func record(evs ...events.Payload) aggregates.Record {
	r := aggregates.Records.Start("r-1")
	for _, p := range evs {
		r = aggregates.EvolveRecord(r, events.New(at("2026-04-01T09:00:00Z"), p))
	}
	return r
}

func TestTheTimerRunsToTheEndOfRetention(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	// Given a child never looked after, withdrawn: a timer at the 21st
	// birthday, midnight in London.
	timers := s.Timers(State{Referral: withdrawnChild(), Record: record()})
	if len(timers) != 1 || timers[0].Kind != KindDispose || !timers[0].At.Equal(date("2031-05-20").Start()) {
		t.Fatalf("timers %+v", timers)
	}
	// When it fires early (the facts moved), it is set again.
	early := s.OnFire(State{Referral: withdrawnChild(), Record: record()}, KindDispose, at("2031-05-19T22:59:00Z"))
	if len(early.Commands) != 0 || len(early.Timers) != 1 {
		t.Errorf("early: %+v", early)
	}
	// When it fires due: the disposal, naming the policy and the rule.
	due := s.OnFire(State{Referral: withdrawnChild(), Record: record()}, KindDispose, at("2031-05-19T23:00:00Z"))
	d, ok := due.Commands[0].(aggregates.Dispose)
	if !ok || d.Rule != RuleNeverLookedAfter || d.Policy != DefaultPolicy().Version {
		t.Errorf("due: %+v", due)
	}
}

func TestALegalHoldSuspendsDisposalAndItsReleaseResumesIt(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	held := State{Referral: withdrawnChild(), Record: record(events.LegalHoldPlaced{Reason: "inquiry"})}
	if r := s.onRecord(held, events.New(time.Now(), events.LegalHoldPlaced{Reason: "inquiry"}), time.Now()); !slices.Equal(r.Cancel, []string{KindDispose}) {
		t.Errorf("a hold does not cancel the timer: %+v", r)
	}
	if r := s.OnFire(held, KindDispose, at("2040-01-01T00:00:00Z")); len(r.Commands) != 0 || len(r.Timers) != 0 {
		t.Errorf("a held record was disposed of: %+v", r)
	}
	released := State{Referral: withdrawnChild(), Record: record(events.LegalHoldPlaced{Reason: "inquiry"}, events.LegalHoldReleased{Reason: "closed"})}
	if r := s.onRecord(released, events.New(time.Now(), events.LegalHoldReleased{Reason: "closed"}), time.Now()); len(r.Timers) != 1 {
		t.Errorf("a release does not arm the timer again: %+v", r)
	}
	// The disposal recorded asks for the key's destruction, once per
	// delivery (the effect is idempotent), and stops every timer.
	gone := State{Referral: withdrawnChild(), Record: record(events.RecordDisposed{ReferralID: "r-1", Policy: "p", Rule: RuleNeverLookedAfter})}
	r := s.onRecord(gone, events.New(time.Now(), events.RecordDisposed{}), time.Now())
	if !r.CancelAll || !slices.Equal(r.Effects, []string{EffectDestroyKey}) {
		t.Errorf("disposed: %+v", r)
	}
	if len(s.Timers(gone)) != 0 || len(s.OnFire(gone, KindDispose, at("2040-01-01T00:00:00Z")).Commands) != 0 {
		t.Error("a disposed record would be disposed of again")
	}
}

// Given a withdrawn child's record with its disposal timer set, when the
// date of birth is corrected, then the saga hears it and arms the timer
// at the end the corrected date gives; a corrected nationality it does
// not hear.
func TestACorrectedDateOfBirthMovesTheDisposal(t *testing.T) {
	v := New(DefaultPolicy())
	onReferral := v.Triggers[0]
	fix := events.New(at("2026-03-03T09:00:00Z"), events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-08-01", Reason: "passport", Corrector: aggregates.CorrectorAuthority})
	if !onReferral.On(fix) {
		t.Fatal("the retention saga does not hear a corrected date of birth")
	}
	if onReferral.On(events.New(at("2026-03-03T09:00:00Z"), events.ChildDetailCorrected{Field: aggregates.FieldNationality, NewValue: "Eritrean"})) {
		t.Error("the retention saga hears a corrected nationality")
	}
	st := State{Referral: append(withdrawnChild(), fix), Record: record()}
	re := onReferral.ReactCommit(st, []events.Event{fix}, at("2026-03-03T09:00:00Z"))
	if len(re.Timers) != 1 || !re.Timers[0].At.Equal(date("2030-08-01").Start()) {
		t.Fatalf("timers %+v, want the 21st birthday by the corrected date", re.Timers)
	}
}
