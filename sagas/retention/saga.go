package retention

import (
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
)

// Its durable consumers, shared by every engine instance, its sweep's
// timer and its one effect.
const (
	RecordConsumer = "retention-records"
	TimersConsumer = "retention-timers"
	TimerPrefix    = "retention"
	// SweepKey is the daily sweep's timer. Timers of a child
	// ("retention.<referral>.dispose"), which versions before the sweep
	// set, still fire and are answered as the sweep would answer them.
	SweepKey    = TimerPrefix + ".daily"
	KindDispose = "dispose"
	// SweepCron: five minutes past midnight, London, every day. A record
	// is kept until the start of its date; the minutes spare a disposal
	// from an engine clock a little behind the server's, whose sweep at
	// midnight would find the day's records not yet due.
	SweepCron = "0 5 0 * * *"
	// EffectDestroyKey asks the shell to destroy the child's data key
	// (eventstore.Store.DestroyKey): idempotent, so a redelivery after a
	// crash finishes a disposal and never does it twice.
	EffectDestroyKey = "destroy-key"
	// retiredReferralConsumer read every referral's facts to set a timer
	// per child; the sweep needs neither.
	retiredReferralConsumer = "retention-referrals"
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

// New is the retention saga as a value. Every day a sweep takes each
// record whose retention has ended (a view of the log lists them; each is
// decided again on its own events) and records its disposal, unless a
// legal hold is in force; a hold released on a record already due is
// disposed of at once; a disposal recorded has the child's key destroyed.
//
// A sweep, not a timer per child: a record's end is decades away and
// known from the placement, and each child's timer was a synced write on
// the path of the command that placed them (a fifth of all the writes of
// a referral's five commands) for a schedule the server then kept for
// sixty years. The sweep costs one schedule in all, and a record is
// disposed of in the first minutes of the day its retention ends.
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
			{Consumer: RecordConsumer, Source: 1, On: onRecord, React: s.onRecord},
		},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		CheckKind: func(kind string) error {
			if kind != KindDispose {
				return fmt.Errorf("the retention saga has no timer %q", kind)
			}
			return nil
		},
		OnFire:  s.OnFire,
		Sweep:   &sagas.Sweep{Key: SweepKey, Cron: SweepCron, Zone: calendar.London.String(), Kind: KindDispose},
		Retired: []string{retiredReferralConsumer},
		MsgID: func(id string, _ State, cmd aggregates.RecordCommand) string {
			return "retention:" + id + ":" + cmd.CommandName()
		},
	}
}

func onRecord(e events.Event) bool {
	switch e.Data.(type) {
	case events.LegalHoldReleased, events.RecordDisposed:
		return true
	}
	return false
}

func (s Saga) onRecord(st State, e events.Event, now time.Time) Reaction {
	switch e.Data.(type) {
	case events.LegalHoldReleased:
		return s.OnFire(st, KindDispose, now)
	case events.RecordDisposed:
		// CancelAll: a timer of the child's that an earlier version set.
		return Reaction{CancelAll: true, Effects: []string{EffectDestroyKey}}
	}
	return Reaction{}
}

// Due says whether a record's retention has ended by now, by the facts
// and the record as they are: neither held nor disposed of, its period
// known and over.
func (s Saga) Due(st State, now time.Time) (Retention, bool) {
	if st.Record.Held || st.Record.Disposed {
		return Retention{}, false
	}
	r, ok := s.Policy.Retain(FactsOf(st.Referral))
	if !ok || now.Before(r.Due()) {
		return Retention{}, false
	}
	return r, true
}

// OnFire answers the sweep, for one record it found due, with the state
// as it is now: the disposal, or nothing if a hold, a disposal or a later
// end came first (the sweep comes again every day).
func (s Saga) OnFire(st State, kind string, now time.Time) Reaction {
	r, ok := s.Due(st, now)
	if kind != KindDispose || !ok {
		return Reaction{}
	}
	return Reaction{Commands: []aggregates.RecordCommand{aggregates.Dispose{Policy: s.Policy.Version, Rule: r.Rule, Due: r.Due()}}}
}
