package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// HandlePair runs a command that two aggregates decide together, such as
// an allocation: the region's rota gives a slot (first) and the referral is
// allocated (second). Both are loaded, decide sees both states, and what it
// decides lands on both subjects at once, each append checked against the
// version it was decided on (eventstore.AppendAtomic), so two racing
// allocations never take the same slot and never allocate one referral
// twice; the loser decides again on fresh state. The outcome, idempotency
// key, If-Match and message id are the second aggregate's. When decide
// gives the first aggregate no events, only the second is written, as
// Handle writes it (a plain append, deduplicated on its message id); a
// write to both carries the message id on the second's commit, and a
// repeat the server refuses as a duplicate answers with the first copy's
// outcome (loop.go).
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
	subj1 := d1.Subject(id1)
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
	first := &part{kind: d1.Kind, id: id1, subject: subj1, name: cmd.CommandName(), hash: RequestHash(cmd),
		meta: Meta{Actor: meta.Actor, Person: meta.Person, CorrelationID: meta.CorrelationID, CausationID: meta.CausationID}}
	second := answer(d2.Kind, id2, d2.Subject(id2), cmd, meta)
	var s1 S1
	var s2 S2
	err = e.loop(ctx, &job{parts: []*part{first, second},
		fold: func() {
			s1, first.version = fold(d1, id1, first.stored)
			s2, second.version = fold(d2, id2, second.stored)
		},
		decide: func(now time.Time) (err error) {
			first.decided, second.decided, err = decide(s1, s2, now)
			second.after = func(recorded []events.Event) any { return d2.Apply(s2, recorded) }
			return err
		},
		attempts: e.pairAttempts(), backoff: pairBackoff,
		contended: func(attempt int, last error) error {
			// The first aggregate is the one many commands share (the
			// region's rota, the accepting authority); name it.
			return &ContentionError{Kind: d1.Kind, ID: id1, Attempts: attempt, Last: last}
		},
	})
	return second.out, err
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
