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

func TestTheSweepDisposesOfARecordWhenItsRetentionEnds(t *testing.T) {
	v := New(DefaultPolicy())
	// Given a child never looked after, withdrawn: kept until the 21st
	// birthday, midnight in London (BST: 23:00 UTC the day before).
	st := State{Referral: withdrawnChild(), Record: record()}
	// When the sweep runs a minute before: nothing.
	if early := v.OnFire(st, KindDispose, at("2031-05-19T22:59:00Z")); len(early.Commands) != 0 || len(early.Timers) != 0 {
		t.Errorf("early: %+v", early)
	}
	// When it runs at the end: the disposal, naming the policy, the rule
	// and the end.
	due := v.OnFire(st, KindDispose, at("2031-05-19T23:05:00Z"))
	if len(due.Commands) != 1 {
		t.Fatalf("due: %+v", due)
	}
	d, ok := due.Commands[0].(aggregates.Dispose)
	if !ok || d.Rule != RuleNeverLookedAfter || d.Policy != DefaultPolicy().Version || !d.Due.Equal(date("2031-05-20").Start()) {
		t.Errorf("due: %+v", due)
	}
	// The sweep is one schedule, daily in London, a few minutes after
	// midnight; the consumer that read every referral's facts is retired.
	if v.Sweep == nil || v.Sweep.Key != SweepKey || v.Sweep.Zone != "Europe/London" || v.Sweep.Kind != KindDispose || v.Sweep.Cron != "0 5 0 * * *" {
		t.Errorf("sweep %+v", v.Sweep)
	}
	if len(v.Triggers) != 1 || v.Triggers[0].Consumer != RecordConsumer || !slices.Equal(v.Retired, []string{"retention-referrals"}) {
		t.Errorf("consumers %+v, retired %v", v.Triggers, v.Retired)
	}
}

func TestALegalHoldSuspendsDisposalAndItsReleaseResumesIt(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	held := State{Referral: withdrawnChild(), Record: record(events.LegalHoldPlaced{Reason: "inquiry"})}
	if r := s.OnFire(held, KindDispose, at("2040-01-01T00:00:00Z")); len(r.Commands) != 0 || len(r.Timers) != 0 {
		t.Errorf("a held record was disposed of: %+v", r)
	}
	released := State{Referral: withdrawnChild(), Record: record(events.LegalHoldPlaced{Reason: "inquiry"}, events.LegalHoldReleased{Reason: "closed"})}
	release := events.New(time.Now(), events.LegalHoldReleased{Reason: "closed"})
	// Released before the end: nothing now, the sweep will come.
	if r := s.onRecord(released, release, at("2030-01-01T00:00:00Z")); len(r.Commands) != 0 {
		t.Errorf("a release before the end disposed of the record: %+v", r)
	}
	// Released after it: disposed of at once.
	if r := s.onRecord(released, release, at("2040-01-01T00:00:00Z")); len(r.Commands) != 1 {
		t.Errorf("a release after the end did not dispose of the record: %+v", r)
	}
	// The disposal recorded asks for the key's destruction, once per
	// delivery (the effect is idempotent), and stops every timer an
	// earlier version set.
	gone := State{Referral: withdrawnChild(), Record: record(events.RecordDisposed{ReferralID: "r-1", Policy: "p", Rule: RuleNeverLookedAfter})}
	r := s.onRecord(gone, events.New(time.Now(), events.RecordDisposed{}), time.Now())
	if !r.CancelAll || !slices.Equal(r.Effects, []string{EffectDestroyKey}) {
		t.Errorf("disposed: %+v", r)
	}
	if len(s.OnFire(gone, KindDispose, at("2040-01-01T00:00:00Z")).Commands) != 0 {
		t.Error("a disposed record would be disposed of again")
	}
}

// Given a withdrawn child's record, when the date of birth is corrected,
// then the sweep disposes of it at the end the corrected date gives, not
// the recorded one.
func TestACorrectedDateOfBirthMovesTheDisposal(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	fix := events.New(at("2026-03-03T09:00:00Z"), events.ChildDetailCorrected{Field: aggregates.FieldDateOfBirth, NewValue: "2009-08-01", Reason: "passport", Corrector: aggregates.CorrectorAuthority})
	st := State{Referral: append(withdrawnChild(), fix), Record: record()}
	// The 21st birthday by the corrected date is 2030-08-01 (BST).
	if r := s.OnFire(st, KindDispose, at("2030-07-31T22:59:00Z")); len(r.Commands) != 0 {
		t.Errorf("disposed of before the corrected end: %+v", r)
	}
	r := s.OnFire(st, KindDispose, at("2030-07-31T23:05:00Z"))
	if len(r.Commands) != 1 || !r.Commands[0].(aggregates.Dispose).Due.Equal(date("2030-08-01").Start()) {
		t.Fatalf("at the corrected end: %+v", r)
	}
}
