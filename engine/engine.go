// Package engine runs commands for every aggregate with one runner: load
// the aggregate's commits (repository.go), fold them with its decider, find
// a repeated command's first outcome (idempotency.go), decide, wrap what was
// decided in envelopes chained by hash (envelope.go), and append with the
// server checking the aggregate's version, deciding again against fresh
// state when another writer got there first (loop.go: the one loop that
// Handle, HandlePair and HandleBatch each give a job).
//
// The rules live in package aggregates; an aggregate is a Decider value
// there, and the engine needs nothing else to serve it.
//
//ntsflow:shell
package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// Engine is what every command shares: the store, the clock, the chain key
// and the hooks that feed metrics.
type Engine struct {
	// Store is the event log (store.go): eventstore.Store in production.
	Store Store
	// Now is the clock; tests move it.
	Now func() time.Time
	// MaxAttempts bounds how often a command is decided again after losing
	// a race (default 10).
	MaxAttempts int
	Log         *slog.Logger
	// OnAppend, if set, is told of every append attempt's result, for metrics.
	OnAppend func(err error)
	// OnCommitted, if set, hears of every command that recorded events (not
	// of repeats), with the aggregate's state after it (an
	// aggregates.Referral, an aggregates.Authority ...): for metrics such as
	// working days to placement.
	OnCommitted func(after any, recorded []events.Event)
	// ChainKey keys the HMAC chain each aggregate's events carry
	// (events/chain.go); `ntsflow verify` needs the same key.
	ChainKey []byte
	// Keys gives a child's data key, made on first use, to seal personal
	// fields with (envelope.go); nil: stored in the clear.
	Keys interface {
		DataKey(ctx context.Context, child string) ([]byte, error)
	}
	// CacheSize is how many aggregates' commits the engine keeps in memory
	// between commands (cache.go): 0 for DefaultCacheSize, negative for
	// none.
	CacheSize int

	// Referrals is the referral decider: aggregates.Referrals when unset;
	// the composition root (wiring.Build) gives one that records each
	// referral's deadline in its receipt (aggregates.ReferralsSettingDeadlines).
	Referrals aggregates.Decider[aggregates.Referral, aggregates.Command]

	cacheOnce sync.Once
	commits   *commitCache
	// turns holds a one-place queue per shared aggregate's subject
	// (pair.go).
	turns sync.Map
}

// Meta is what comes with a command besides its data.
type Meta struct {
	Actor string
	// Person, if set, is who within Actor's identity says they acted.
	Person string
	// IdempotencyKey makes a command safe to repeat: the same key (for the
	// same aggregate) returns the first outcome and writes nothing new.
	IdempotencyKey string
	CorrelationID  string
	CausationID    string
	// ExpectedVersion, if set, is the version the client decided on
	// (If-Match): the command is refused with a *StaleError if the
	// aggregate has moved on.
	ExpectedVersion *int
	// MsgID overrides the message id the server deduplicates on; sagas use
	// one derived from what they react to, so a fire is recorded once.
	MsgID string
}

// Outcome is what a command did.
type Outcome struct {
	// AggregateID is the aggregate's id: the referral's, or the authority's
	// code for an authority command.
	AggregateID string
	Version     int    // the aggregate's version after the command
	Sequence    uint64 // stream sequence of the commit
	Events      []events.Event
	// Replayed is true when this is the first outcome of a repeated command.
	Replayed bool
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) referrals() aggregates.Decider[aggregates.Referral, aggregates.Command] {
	if e.Referrals.Decide != nil {
		return e.Referrals
	}
	return aggregates.Referrals
}

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}
