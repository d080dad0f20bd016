package retention

import (
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
)

// Its durable consumers, shared by every engine instance, its timers'
// keys ("retention.<referral>.dispose") and its one effect.
const (
	ReferralConsumer = "retention-referrals"
	RecordConsumer   = "retention-records"
	TimersConsumer   = "retention-timers"
	TimerPrefix      = "retention"
	KindDispose      = "dispose"
	// EffectDestroyKey asks the shell to destroy the child's data key
	// (eventstore.Store.DestroyKey): idempotent, so a redelivery after a
	// crash finishes a disposal and never does it twice.
	EffectDestroyKey = "destroy-key"
)

// State is what the saga reads: the referral's events (the facts) and the
// child's record (holds, disposal).
type State struct {
	Referral []events.Event
	Record   aggregates.Record
}

// Reaction is what the saga wants done on the child's record.
type Reaction = sagas.Reaction[aggregates.RecordCommand]

// Saga holds what the reactions need.
type Saga struct{ Policy Policy }

// New is the retention saga as a value: the facts of a referral arm a
// timer at the end of its retention; a legal hold cancels it and its
// release arms it again; the timer, when due, records the disposal; the
// disposal recorded has the child's key destroyed.
func New(p Policy) sagas.Saga[State, aggregates.Record, aggregates.RecordCommand] {
	s := Saga{Policy: p}
	return sagas.Saga[State, aggregates.Record, aggregates.RecordCommand]{
		Name: "retention saga", Actor: "retention-saga",
		Target: aggregates.Records,
		Reads:  []sagas.Source{sagas.Of(aggregates.Referrals), sagas.Of(aggregates.Records)},
		State: func(id string, h [][]events.Event) State {
			return State{Referral: h[0], Record: aggregates.Records.Apply(aggregates.Records.Start(id), h[1])}
		},
		Triggers: []sagas.Trigger[State, aggregates.RecordCommand]{
			{Consumer: ReferralConsumer, Source: 0, On: onFact, ReactCommit: func(st State, _ []events.Event, _ time.Time) Reaction {
				return Reaction{Timers: s.Timers(st)}
			}},
			{Consumer: RecordConsumer, Source: 1, On: onRecord, React: s.onRecord},
		},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		CheckKind: func(kind string) error {
			if kind != KindDispose {
				return fmt.Errorf("the retention saga has no timer %q", kind)
			}
			return nil
		},
		OnFire: s.OnFire,
		Timers: s.Timers,
		MsgID: func(id string, _ State, cmd aggregates.RecordCommand) string {
			return "retention:" + id + ":" + cmd.CommandName()
		},
	}
}

func onFact(e events.Event) bool {
	switch d := e.Data.(type) {
	case events.ReferralReceived, events.ReferralReferred, events.ReferralPlaced, events.AgeAssessed, events.ChildLeftCare, events.ReferralWithdrawn:
		return true
	case events.ChildDetailCorrected:
		return leavingcare.CorrectsDateOfBirth(d)
	}
	return false
}

func onRecord(e events.Event) bool {
	switch e.Data.(type) {
	case events.LegalHoldPlaced, events.LegalHoldReleased, events.RecordDisposed:
		return true
	}
	return false
}

func (s Saga) onRecord(st State, e events.Event, _ time.Time) Reaction {
	switch e.Data.(type) {
	case events.LegalHoldPlaced:
		return Reaction{Cancel: []string{KindDispose}}
	case events.LegalHoldReleased:
		return Reaction{Timers: s.Timers(st)}
	case events.RecordDisposed:
		return Reaction{CancelAll: true, Effects: []string{EffectDestroyKey}}
	}
	return Reaction{}
}

// Timers is the disposal timer, when the period is known and neither a
// hold nor a disposal stops it. A time already past fires at once.
func (s Saga) Timers(st State) []sagas.Timer {
	if st.Record.Held || st.Record.Disposed {
		return nil
	}
	r, ok := s.Policy.Retain(FactsOf(st.Referral))
	if !ok {
		return nil
	}
	return []sagas.Timer{{Kind: KindDispose, At: r.Due()}}
}

// OnFire answers the disposal timer with the state as it is now: the
// disposal when due and not held; the timer again if the facts moved the
// end later; nothing if a hold or a disposal came first.
func (s Saga) OnFire(st State, kind string, now time.Time) Reaction {
	if kind != KindDispose || st.Record.Held || st.Record.Disposed {
		return Reaction{}
	}
	r, ok := s.Policy.Retain(FactsOf(st.Referral))
	switch {
	case !ok:
		return Reaction{}
	case now.Before(r.Due()):
		return Reaction{Timers: []sagas.Timer{{Kind: KindDispose, At: r.Due()}}}
	}
	return Reaction{Commands: []aggregates.RecordCommand{aggregates.Dispose{Policy: s.Policy.Version, Rule: r.Rule, Due: r.Due()}}}
}
