package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// HandlePair runs a command that two aggregates decide together, such as
// an allocation: the region's rota gives a slot (first) and the referral is
// allocated (second). Both are loaded, decide sees both states, and what it
// decides lands on both subjects at once, each append checked against the
// version it was decided on (eventstore.AppendAtomic), so two racing
// allocations never take the same slot and never allocate one referral
// twice; the loser decides again on fresh state. The outcome, idempotency
// key and If-Match are the second aggregate's. When decide gives the first
// aggregate no events, only the second is written (a plain append).
func HandlePair[S1 any, C1 aggregates.Command, S2 any, C2 aggregates.Command](
	ctx context.Context, e *Engine,
	d1 aggregates.Decider[S1, C1], id1 string,
	d2 aggregates.Decider[S2, C2], id2 string,
	cmd aggregates.Command, meta Meta,
	decide func(first S1, second S2, now time.Time) (firstEvents, secondEvents []events.Event, err error),
) (Outcome, error) {
	if err := d1.CheckID(id1); err != nil {
		return Outcome{}, err
	}
	if err := d2.CheckID(id2); err != nil {
		return Outcome{}, err
	}
	if err := aggregates.CheckInput(cmd); err != nil {
		return Outcome{}, err
	}
	hash := RequestHash(cmd)
	subj1, subj2 := d1.Subject(id1), d2.Subject(id2)
	// Commands of this instance that share the first aggregate take turns:
	// a burst of allocations in one region would otherwise spend the
	// machine's cores deciding again and again for the one of them the
	// server lets in each round. Other instances still race, and the
	// retries below are sized for a burst of them.
	done, err := e.turn(ctx, subj1)
	if err != nil {
		return Outcome{}, fmt.Errorf("command %s: waiting for its turn at %s: %w", cmd.CommandName(), subj1, err)
	}
	defer done()
	// As in run: the first attempt decides on what the engine holds of
	// either aggregate; a refusal, or a conflict, is decided again on fresh
	// loads of both.
	stored1, cached1 := e.cached(subj1)
	stored2, cached2 := e.cached(subj2)
	fromCache := cached1 || cached2
	for attempt := 1; ; attempt++ {
		var err error
		if !fromCache || !cached1 {
			if stored1, err = e.load(ctx, subj1); err != nil {
				return Outcome{}, fmt.Errorf("load %s: %w", subj1, err)
			}
		}
		if !fromCache || !cached2 {
			if stored2, err = e.load(ctx, subj2); err != nil {
				return Outcome{}, fmt.Errorf("load %s: %w", subj2, err)
			}
		}
		again := func() bool {
			if !fromCache {
				return false
			}
			fromCache, cached1, cached2 = false, false, false
			attempt--
			return true
		}
		if meta.IdempotencyKey != "" {
			if out, found, err := firstOutcome(id2, stored2, func(c events.Commit) bool { return c.IdempotencyKey == meta.IdempotencyKey }, hash); found {
				return out, err
			}
		}
		s1, _ := fold(d1, id1, stored1)
		s2, version := fold(d2, id2, stored2)
		if meta.ExpectedVersion != nil && *meta.ExpectedVersion != version {
			if again() {
				continue
			}
			return Outcome{}, &StaleError{Kind: d2.Kind, Expected: *meta.ExpectedVersion, Current: version}
		}
		now := e.now()
		evs1, evs2, err := decide(s1, s2, now)
		if err != nil {
			if again() {
				continue
			}
			return Outcome{}, err
		}
		if len(evs2) == 0 {
			return Outcome{}, fmt.Errorf("command %s on %s: decided nothing for it", cmd.CommandName(), subj2)
		}
		evs2, err = e.envelope(id2, evs2, now, meta, lastHash(stored2))
		if err != nil {
			return Outcome{}, err
		}
		second := eventstore.Write{Subject: subj2, Expected: eventstore.LastSequenceOf(stored2),
			Commit: events.Commit{Command: cmd.CommandName(), IdempotencyKey: meta.IdempotencyKey, RequestHash: hash, Events: evs2}}
		var seq uint64
		if len(evs1) == 0 {
			var ack eventstore.Appended
			msgID := evs2[0].ID
			if meta.IdempotencyKey != "" {
				msgID = "cmd:" + id2 + ":" + meta.IdempotencyKey
			}
			ack, err = e.Store.Append(ctx, second.Subject, second.Expected, msgID, second.Commit)
			seq = ack.Sequence
			if err == nil && ack.Duplicate {
				stored2, err := e.load(ctx, subj2)
				if err != nil {
					return Outcome{}, err
				}
				out, found, err := firstOutcome(id2, stored2, func(events.Commit) bool { return true }, hash, ack.Sequence)
				if !found {
					return Outcome{}, fmt.Errorf("command %s on %s: duplicate of sequence %d, which is not on this subject", cmd.CommandName(), subj2, ack.Sequence)
				}
				return out, err
			}
		} else {
			evs1, err = e.envelope(id1, evs1, now, Meta{Actor: meta.Actor, Person: meta.Person, CorrelationID: meta.CorrelationID, CausationID: meta.CausationID}, lastHash(stored1))
			if err != nil {
				return Outcome{}, err
			}
			first := eventstore.Write{Subject: subj1, Expected: eventstore.LastSequenceOf(stored1),
				Commit: events.Commit{Command: cmd.CommandName(), RequestHash: hash, Events: evs1}}
			var seqs []uint64
			seqs, err = e.Store.AppendAtomic(ctx, first, second)
			if err == nil {
				seq = seqs[1]
				e.appended(subj1, stored1, seqs[0], first.Commit)
			}
		}
		if e.OnAppend != nil {
			e.OnAppend(err)
		}
		var conflict *eventstore.ConflictError
		if errors.As(err, &conflict) {
			if again() {
				continue
			}
			if attempt >= e.pairAttempts() {
				// The first aggregate is the one many commands share (the
				// region's rota, the accepting authority); name it.
				return Outcome{}, &ContentionError{Kind: d1.Kind, ID: id1, Attempts: attempt, Last: err}
			}
			sleep(ctx, pairBackoff(attempt))
			continue
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("command %s on %s and %s: %w", cmd.CommandName(), subj1, subj2, err)
		}
		e.appended(subj2, stored2, seq, second.Commit)
		if e.OnCommitted != nil {
			e.OnCommitted(d2.Apply(s2, evs2), evs2)
		}
		return Outcome{AggregateID: id2, Version: version + len(evs2), Sequence: seq, Events: evs2}, nil
	}
}

// turn waits for this instance's turn at a shared aggregate's subject (or
// for ctx to end: a caller who gave up does not keep its place in the
// queue) and returns what ends it.
func (e *Engine) turn(ctx context.Context, subject string) (func(), error) {
	v, _ := e.turns.LoadOrStore(subject, make(chan struct{}, 1))
	slot := v.(chan struct{})
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *Engine) attempts() int {
	if e.MaxAttempts <= 0 {
		return 10
	}
	return e.MaxAttempts
}

// PairAttempts is how often a two-aggregate command is decided again after
// losing a race, unless Engine.MaxAttempts says otherwise. The first
// aggregate of a pair is shared by many commands (every allocation in a
// region writes its rota), so a burst of n at once needs about n rounds
// for the last of them to win one; with pairBackoff spreading the losers
// over up to a quarter of a second, 80 attempts carry a burst of 50 from
// as many instances (TestPairRetriesOutlastFiftyAtOnce), and give up after
// about 10 s of backing off (under 20 s at worst) rather than hold a
// request for ever.
const PairAttempts = 80

func (e *Engine) pairAttempts() int {
	if e.MaxAttempts <= 0 {
		return PairAttempts
	}
	return e.MaxAttempts
}

// pairBackoff spreads the losers of a race for a shared aggregate apart:
// full jitter, doubling from 2 ms to a ceiling of 256 ms. A ceiling near
// the time the burst takes to drain (n winners one after another, each a
// load, a decision and an atomic batch of a few milliseconds) keeps the
// losers from colliding again and again, as they did under the single
// aggregate's 64 ms ceiling.
func pairBackoff(attempt int) time.Duration {
	ceiling := 2 * time.Millisecond << min(attempt-1, 7)
	return time.Duration(rand.Int64N(int64(ceiling)))
}
