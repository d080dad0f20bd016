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

// Handle runs one command against one aggregate of decider d: load, fold,
// decide, append with the server checking the aggregate's last sequence,
// and on a conflict start again from a fresh load, so the decision is
// always re-checked against the state it lands on.
func Handle[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], id string, cmd C, meta Meta) (Outcome, error) {
	if err := d.CheckID(id); err != nil {
		return Outcome{}, err
	}
	// Every command of every caller (API, console, sagas) passes the limits
	// its fields declare, before anything is loaded.
	if err := aggregates.CheckInput(cmd); err != nil {
		return Outcome{}, err
	}
	var before S
	out, err := e.run(ctx, id, d.Subject(id), cmd, meta, func(stored []eventstore.Stored, now time.Time) (int, []events.Event, error) {
		s, version := fold(d, id, stored)
		before = s
		if meta.ExpectedVersion != nil && *meta.ExpectedVersion != version {
			return 0, nil, &StaleError{Kind: d.Kind, Expected: *meta.ExpectedVersion, Current: version}
		}
		evs, err := d.Decide(s, cmd, now)
		return version, evs, err
	})
	if err == nil && !out.Replayed && e.OnCommitted != nil {
		e.OnCommitted(d.Apply(before, out.Events), out.Events)
	}
	return out, err
}

// Handle runs a referral command: the shorthand for
// Handle(ctx, e, e.Referrals, referralID, cmd, meta).
func (e *Engine) Handle(ctx context.Context, referralID string, cmd aggregates.Command, meta Meta) (Outcome, error) {
	return Handle(ctx, e, e.referrals(), referralID, cmd, meta)
}

// Load reads a referral: the shorthand for
// LoadThrough(ctx, e, aggregates.Referrals, referralID). It returns what
// Load(ctx, e.Store, aggregates.Referrals, referralID) would (every commit
// acknowledged before the call), reading from the store only the commits
// the engine does not already hold (cache.go).
func (e *Engine) Load(ctx context.Context, referralID string) (aggregates.Referral, []eventstore.Stored, error) {
	return LoadThrough(ctx, e, aggregates.Referrals, referralID)
}

// decideFunc folds an aggregate's commits and decides: the version it
// decided on, and the events, or a refusal.
type decideFunc func(stored []eventstore.Stored, now time.Time) (version int, decided []events.Event, err error)

// run is the command loop every aggregate shares.
func (e *Engine) run(ctx context.Context, id, subject string, cmd aggregates.Command, meta Meta, decide decideFunc) (Outcome, error) {
	hash := RequestHash(cmd)
	attempts := e.attempts()
	// The first attempt decides on the commits the engine holds, if any
	// (cache.go): an append on them is checked by the server like any
	// other. An answer the server does not check, a refusal, is only given
	// after deciding again on a fresh load.
	stored, fromCache := e.cached(subject)
	for attempt := 1; ; attempt++ {
		if !fromCache {
			var err error
			if stored, err = e.load(ctx, subject); err != nil {
				return Outcome{}, fmt.Errorf("load %s: %w", subject, err)
			}
		}
		if meta.IdempotencyKey != "" {
			// A commit found in the cache is in the log for good.
			if out, found, err := firstOutcome(id, stored, func(c events.Commit) bool { return c.IdempotencyKey == meta.IdempotencyKey }, hash); found {
				return out, err
			}
		}
		now := e.now()
		version, decided, err := decide(stored, now)
		if err != nil {
			if fromCache {
				fromCache = false
				attempt--
				continue
			}
			return Outcome{}, err
		}
		evs, err := e.envelope(id, decided, now, meta, lastHash(stored))
		if err != nil {
			return Outcome{}, err
		}
		commit := events.Commit{Command: cmd.CommandName(), IdempotencyKey: meta.IdempotencyKey, RequestHash: hash, Events: evs}
		msgID := meta.MsgID
		if meta.IdempotencyKey != "" {
			msgID = "cmd:" + id + ":" + meta.IdempotencyKey
		}
		if msgID == "" {
			msgID = evs[0].ID
		}
		ack, err := e.Store.Append(ctx, subject, eventstore.LastSequenceOf(stored), msgID, commit)
		if e.OnAppend != nil {
			e.OnAppend(err)
		}
		var conflict *eventstore.ConflictError
		if errors.As(err, &conflict) {
			if fromCache {
				// The cache was behind: reload and decide again at once,
				// without counting it as a lost race.
				e.logger().Debug("append conflict on cached commits, reloading", "subject", subject, "expected", conflict.Expected)
				fromCache = false
				attempt--
				continue
			}
			if attempt >= attempts {
				return Outcome{}, fmt.Errorf("%w (%d attempts): %v", ErrContention, attempt, err)
			}
			e.logger().Debug("append conflict, deciding again", "subject", subject, "attempt", attempt, "expected", conflict.Expected)
			sleep(ctx, backoff(attempt))
			continue
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("command %s on %s: %w", cmd.CommandName(), subject, err)
		}
		if ack.Duplicate {
			// Another copy of this command got there first; answer with its
			// outcome, read back from the log.
			stored, err := e.load(ctx, subject)
			if err != nil {
				return Outcome{}, err
			}
			out, found, err := firstOutcome(id, stored, func(c events.Commit) bool { return true }, hash, ack.Sequence)
			if !found {
				return Outcome{}, fmt.Errorf("command %s on %s: duplicate of sequence %d, which is not on this subject", cmd.CommandName(), subject, ack.Sequence)
			}
			return out, err
		}
		e.appended(subject, stored, ack.Sequence, commit)
		return Outcome{AggregateID: id, Version: version + len(evs), Sequence: ack.Sequence, Events: evs}, nil
	}
}

// backoff spreads writers that lost a race apart: full jitter, doubling
// from 1ms up to 64ms.
func backoff(attempt int) time.Duration {
	ceiling := time.Millisecond << min(attempt-1, 6)
	return time.Duration(rand.Int64N(int64(ceiling)))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
