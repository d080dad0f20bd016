// Package engine runs commands: it loads an aggregate from the event store,
// asks the decider, and appends what it decided with the server checking
// the version, retrying against fresh state when another writer got there
// first. It is also where a repeated command finds its first outcome.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Engine handles referral commands.
type Engine struct {
	Store *eventstore.Store
	// Now is the clock; tests move it.
	Now func() time.Time
	// MaxAttempts bounds how often a command is decided again after losing
	// a race (default 10).
	MaxAttempts int
	Log         *slog.Logger
	// OnAppend, if set, is told of every append attempt's result, for metrics.
	OnAppend func(err error)
	// OnCommitted, if set, hears of every referral command that recorded
	// events (not of repeats), with the referral's state after it: for
	// metrics such as working days to placement.
	OnCommitted func(after aggregates.Referral, recorded []events.Event)
	// ChainKey keys the HMAC chain each aggregate's events carry
	// (events/chain.go); `ntsflow verify` needs the same key.
	ChainKey []byte
}

// Meta is what comes with a command besides its data.
type Meta struct {
	Actor string
	// IdempotencyKey makes a command safe to repeat: the same key (for the
	// same referral) returns the first outcome and writes nothing new.
	IdempotencyKey string
	CorrelationID  string
	CausationID    string
	// ExpectedVersion, if set, is the version the client decided on
	// (If-Match): the command is refused with a *StaleError if the referral
	// has moved on.
	ExpectedVersion *int
	// MsgID overrides the message id the server deduplicates on; sagas use
	// one derived from what they react to, so a fire is recorded once.
	MsgID string
}

// Outcome is what a command did.
type Outcome struct {
	// ReferralID is the aggregate's id: the referral's, or the authority's
	// code for an authority command.
	ReferralID string
	Version    int    // the referral's version after the command
	Sequence   uint64 // stream sequence of the commit
	Events     []events.Event
	// Replayed is true when this is the first outcome of a repeated command.
	Replayed bool
}

// StaleError: the client's If-Match version is not the current one.
type StaleError struct{ Expected, Current int }

func (e *StaleError) Error() string {
	return fmt.Sprintf("the referral is at version %d, not %d: reload it and decide again", e.Current, e.Expected)
}

// ErrKeyReused: an idempotency key came back with a different command.
var ErrKeyReused = errors.New("this idempotency key was already used for a different request")

// ErrContention: the command lost the race for the referral every time it
// was tried. Nothing was written; trying again later is safe.
var ErrContention = errors.New("the referral is changing too fast: try again")

// NewReferralID names a new referral. With an idempotency key the id is
// derived from it (and the receiving authority, so that two authorities'
// keys never collide), so a repeated create lands on the same referral and
// finds its first outcome there.
func NewReferralID(authority, key string) string {
	if key == "" {
		return uuid.Must(uuid.NewV7()).String()
	}
	return uuid.NewSHA1(referralNamespace, []byte(authority+"\x00"+key)).String()
}

var referralNamespace = uuid.MustParse("6f1c2a0e-3d5b-4f7a-9c61-2b8e4d0a7f13")

// Load folds a referral's history. The commits come back too, for history
// views. A referral never received loads as the zero state, version 0.
func (e *Engine) Load(ctx context.Context, referralID string) (aggregates.Referral, []eventstore.Stored, error) {
	stored, err := e.Store.Load(ctx, events.ReferralSubject(referralID))
	if err != nil {
		return aggregates.Referral{}, nil, fmt.Errorf("load referral %s: %w", referralID, err)
	}
	var r aggregates.Referral
	for _, st := range stored {
		for _, ev := range st.Commit.Events {
			r = aggregates.Evolve(r, ev)
		}
	}
	return r, stored, nil
}

// Handle runs one command against one referral.
func (e *Engine) Handle(ctx context.Context, referralID string, cmd aggregates.Command, meta Meta) (Outcome, error) {
	if !events.ValidID(referralID) {
		return Outcome{}, &aggregates.Refusal{Kind: aggregates.Invalid, Code: "invalid_value", Field: "id", Message: "a referral id is 1 to 64 letters, digits, '-' or '_'"}
	}
	var before aggregates.Referral
	out, err := e.run(ctx, referralID, events.ReferralSubject(referralID), cmd, meta, func(stored []eventstore.Stored, now time.Time) (int, []events.Event, error) {
		var r aggregates.Referral
		for _, st := range stored {
			for _, ev := range st.Commit.Events {
				r = aggregates.Evolve(r, ev)
			}
		}
		before = r
		if meta.ExpectedVersion != nil && *meta.ExpectedVersion != r.Version {
			return 0, nil, &StaleError{Expected: *meta.ExpectedVersion, Current: r.Version}
		}
		evs, err := aggregates.Decide(r, cmd, now)
		return r.Version, evs, err
	})
	if err == nil && !out.Replayed && e.OnCommitted != nil {
		after := before
		for _, ev := range out.Events {
			after = aggregates.Evolve(after, ev)
		}
		e.OnCommitted(after, out.Events)
	}
	return out, err
}

// HandleAuthority runs one command against one authority.
func (e *Engine) HandleAuthority(ctx context.Context, cmd aggregates.SetPledge, meta Meta) (Outcome, error) {
	if !aggregates.ValidAuthorityCode(cmd.Authority) {
		return Outcome{}, &aggregates.Refusal{Kind: aggregates.Invalid, Code: "invalid_value", Field: "authority", Message: "not the ONS code of an authority with children's services"}
	}
	return e.run(ctx, cmd.Authority, events.AuthoritySubject(cmd.Authority), cmd, meta, func(stored []eventstore.Stored, now time.Time) (int, []events.Event, error) {
		var a aggregates.Authority
		for _, st := range stored {
			for _, ev := range st.Commit.Events {
				a = aggregates.EvolveAuthority(a, ev)
			}
		}
		if meta.ExpectedVersion != nil && *meta.ExpectedVersion != a.Version {
			return 0, nil, &StaleError{Expected: *meta.ExpectedVersion, Current: a.Version}
		}
		evs, err := aggregates.DecideAuthority(a, cmd, now)
		return a.Version, evs, err
	})
}

// decideFunc folds an aggregate's commits and decides: the version it
// decided on, and the events, or a refusal.
type decideFunc func(stored []eventstore.Stored, now time.Time) (version int, decided []events.Event, err error)

// run is the command loop every aggregate shares: load, find a repeated
// command's first outcome, decide, append with the server checking the
// subject's last sequence, and on a conflict start again from a fresh load.
func (e *Engine) run(ctx context.Context, id, subject string, cmd aggregates.Command, meta Meta, decide decideFunc) (Outcome, error) {
	hash := RequestHash(cmd)
	attempts := e.MaxAttempts
	if attempts <= 0 {
		attempts = 10
	}
	for attempt := 1; ; attempt++ {
		stored, err := e.Store.Load(ctx, subject)
		if err != nil {
			return Outcome{}, fmt.Errorf("load %s: %w", subject, err)
		}
		if meta.IdempotencyKey != "" {
			if out, found, err := firstOutcome(id, stored, func(c events.Commit) bool { return c.IdempotencyKey == meta.IdempotencyKey }, hash); found {
				return out, err
			}
		}
		now := e.now()
		version, decided, err := decide(stored, now)
		if err != nil {
			return Outcome{}, err
		}
		prev := ""
		if len(stored) > 0 {
			last := stored[len(stored)-1].Commit.Events
			prev = last[len(last)-1].Hash
		}
		evs, err := e.envelope(id, decided, now, meta, prev)
		if err != nil {
			return Outcome{}, err
		}
		commit := events.Commit{Command: cmd.CommandName(), IdempotencyKey: meta.IdempotencyKey, RequestHash: hash, Events: evs}
		last := eventstore.LastSequenceOf(stored)
		msgID := meta.MsgID
		if meta.IdempotencyKey != "" {
			msgID = "cmd:" + id + ":" + meta.IdempotencyKey
		}
		if msgID == "" {
			msgID = evs[0].ID
		}
		ack, err := e.Store.Append(ctx, subject, last, msgID, commit)
		if e.OnAppend != nil {
			e.OnAppend(err)
		}
		var conflict *eventstore.ConflictError
		if errors.As(err, &conflict) {
			if attempt >= attempts {
				return Outcome{}, fmt.Errorf("%w (%d attempts): %v", ErrContention, attempt, err)
			}
			e.logger().Debug("append conflict, deciding again", "subject", subject, "attempt", attempt, "expected", conflict.Expected, "actual", conflict.Actual)
			sleep(ctx, backoff(attempt))
			continue
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("command %s on %s: %w", cmd.CommandName(), subject, err)
		}
		if ack.Duplicate {
			// Another copy of this command got there first; answer with its
			// outcome, read back from the log.
			stored, err := e.Store.Load(ctx, subject)
			if err != nil {
				return Outcome{}, err
			}
			out, found, err := firstOutcome(id, stored, func(c events.Commit) bool { return true }, hash, ack.Sequence)
			if !found {
				return Outcome{}, fmt.Errorf("command %s on %s: duplicate of sequence %d, which is not on this subject", cmd.CommandName(), subject, ack.Sequence)
			}
			return out, err
		}
		return Outcome{ReferralID: id, Version: version + len(evs), Sequence: ack.Sequence, Events: evs}, nil
	}
}

// firstOutcome finds the commit a repeated command produced (by key, or at
// one of the given sequences) and rebuilds the outcome the first call had.
func firstOutcome(referralID string, stored []eventstore.Stored, match func(events.Commit) bool, hash string, atSeq ...uint64) (Outcome, bool, error) {
	version := 0
	for _, st := range stored {
		version += len(st.Commit.Events)
		if len(atSeq) > 0 && st.Sequence != atSeq[0] {
			continue
		}
		if !match(st.Commit) {
			continue
		}
		if st.Commit.RequestHash != hash {
			return Outcome{}, true, ErrKeyReused
		}
		return Outcome{ReferralID: referralID, Version: version, Sequence: st.Sequence, Events: st.Commit.Events, Replayed: true}, true, nil
	}
	return Outcome{}, false, nil
}

// envelope fills in what the decider leaves to the shell: ids, times,
// actor, correlation, schema version, and the hash chain from prev.
func (e *Engine) envelope(referralID string, decided []events.Event, now time.Time, meta Meta, prev string) ([]events.Event, error) {
	out := make([]events.Event, len(decided))
	for i, ev := range decided {
		ev.ID = uuid.Must(uuid.NewV7()).String()
		ev.SchemaVersion = events.SchemaVersion(ev.Type)
		ev.AggregateID = referralID
		ev.RecordedAt = now
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now
		}
		ev.Actor = meta.Actor
		ev.CorrelationID = meta.CorrelationID
		ev.CausationID = meta.CausationID
		if ev.CorrelationID == "" {
			ev.CorrelationID = referralID
		}
		ev.PrevHash = prev
		h, err := events.ChainHash(e.ChainKey, ev)
		if err != nil {
			return nil, err
		}
		ev.Hash, prev = h, h
		out[i] = ev
	}
	return out, nil
}

// RequestHash fingerprints a command, so a key reused for a different
// request is told apart from an honest retry.
func RequestHash(cmd aggregates.Command) string {
	b, _ := json.Marshal(struct {
		Name string
		Cmd  aggregates.Command
	}{cmd.CommandName(), cmd})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
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
