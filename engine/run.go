package engine

import (
	"context"
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
// always re-checked against the state it lands on (the one loop, loop.go).
func Handle[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], id string, cmd C, meta Meta) (Outcome, error) {
	if err := d.CheckID(id); err != nil {
		return Outcome{}, err
	}
	// Every command of every caller (API, console, sagas) passes the limits
	// its fields declare, before anything is loaded.
	if err := aggregates.CheckInput(cmd); err != nil {
		return Outcome{}, err
	}
	p := answer(d.Kind, id, d.Subject(id), cmd, meta)
	var s S
	err := e.loop(ctx, &job{parts: []*part{p},
		fold: func() { s, p.version = fold(d, id, p.stored) },
		decide: func(now time.Time) (err error) {
			p.decided, err = d.Decide(s, cmd, now)
			p.after = func(recorded []events.Event) any { return d.Apply(s, recorded) }
			return err
		},
		attempts: e.attempts(), backoff: backoff,
		contended: func(attempt int, last error) error {
			return fmt.Errorf("%w (%d attempts): %v", ErrContention, attempt, last)
		},
	})
	return p.out, err
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
