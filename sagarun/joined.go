package sagarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ntsflow/ntsflow/eventstore"
)

// ReferralSagasConsumer is the one durable consumer of referral commits
// for the sagas that react to them (deadline, allocation, leaving care)
// when they run together, as serve runs them.
const ReferralSagasConsumer = "referral-sagas"

// Joined is one durable consumer of a subject's commits for several sagas,
// each commit handed to every saga's handler in turn. Each durable
// consumer costs the server a delivery and an acknowledgement per commit
// (on a cluster, each a raft proposal synced on every node); sagas that
// read the same commits need only one.
//
// A commit is done when every handler has done its work. If one fails, the
// commit comes back and every handler is given it again, which their
// idempotency (the sagas' message ids, timers set again under the same
// key) makes harmless; it is parked only when every failure is for good.
//
// The sagas share the commit's delivery count: one that failed on it
// many times (the store away, say, which never parks) leaves another
// fewer tries of its own before the commit is parked (eventstore's
// ConsumerPolicy.MaxDeliveries). A parked commit is replayed through all
// of them.
type Joined struct {
	Consumer string
	Subject  string
	Handlers []Handler
	// From are the consumers the sagas ran alone before, taken over and
	// removed when this one starts (eventstore.Store.TakeOver).
	From  []string
	Store Store
	Log   *slog.Logger
}

// Handler is one saga's reaction to a commit, named for the errors.
type Handler struct {
	Saga   string
	Handle func(ctx context.Context, st eventstore.Stored) error
}

// Run consumes until ctx ends, starting again after errors.
func (j *Joined) Run(ctx context.Context) error {
	return runConsumers(ctx, j.log(), consumer{j.Consumer, func(ctx context.Context) error {
		if err := j.Store.TakeOver(ctx, j.Consumer, j.Subject, j.From); err != nil {
			return err
		}
		return j.Store.ConsumeEvents(ctx, j.Consumer, j.Subject, false, func(st eventstore.Stored) error { return j.Handle(ctx, st) })
	}})
}

// Handle gives one commit to every handler. What may yet succeed is tried
// again first: the commit is parked for what never will only once nothing
// else is left.
func (j *Joined) Handle(ctx context.Context, st eventstore.Stored) error {
	var retry, never []error
	for _, h := range j.Handlers {
		err := h.Handle(ctx, st)
		switch {
		case err == nil:
			continue
		case errors.Is(err, eventstore.ErrPermanent):
			never = append(never, fmt.Errorf("%s: %w", h.Saga, err))
		default:
			retry = append(retry, fmt.Errorf("%s: %w", h.Saga, err))
		}
	}
	if len(retry) > 0 {
		return errors.Join(retry...)
	}
	return errors.Join(never...)
}

func (j *Joined) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.Default()
}
