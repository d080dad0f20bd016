package sagarun

import (
	"context"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/views"
)

// Store is what the saga runners need of the event store: the sagas own
// it, so that all they ask of it is written here; eventstore.Store
// implements it, and store_test.go checks its promises against a real
// store.
type Store interface {
	// ConsumeEvents delivers the commits on subjects matching filter
	// through the durable consumer named durable, shared by every engine
	// instance; a commit whose handler fails comes back (and is parked
	// after repeated failures, eventstore.ConsumerPolicy).
	ConsumeEvents(ctx context.Context, durable, filter string, ordered bool, fn func(eventstore.Stored) error) error
	// ConsumeTimers delivers fired timers whose key matches filter, the
	// same way.
	ConsumeTimers(ctx context.Context, durable, filter string, fn func(eventstore.Fired) error) error
	// Load is one subject's commits in order, every one acknowledged
	// before the call among them; an error if one does not decode and was
	// not voided.
	Load(ctx context.Context, subject string) ([]eventstore.Stored, error)
	// Schedule sets the timer key to fire at at (replacing one set
	// before); Cancel and CancelAll (every key under a prefix) unset.
	Schedule(ctx context.Context, key string, at time.Time, data []byte) error
	Cancel(ctx context.Context, key string) error
	CancelAll(ctx context.Context, prefix string) error
	// ScheduleRepeating sets the timer key to fire each time the cron
	// pattern comes round in zone (a saga's Sweep), replacing one set
	// before.
	ScheduleRepeating(ctx context.Context, key, cron, zone string, data []byte) error
	// RemoveConsumer deletes a durable consumer of stream no saga runs any
	// more (Saga.Retired), if it is there.
	RemoveConsumer(ctx context.Context, stream, durable string) error
	// TakeOver makes durable, a consumer of the events on filter, do the
	// work of the consumers named in from, starting where the slowest of
	// them had got to, and removes them (Joined).
	TakeOver(ctx context.Context, durable, filter string, from []string) error
}

// DeadlineStore is the deadline saga's: a saga's store, and the views'
// for the deadlines view it keeps when it is given none to ask.
type DeadlineStore interface {
	Store
	views.Store
}

var _ DeadlineStore = (*eventstore.Store)(nil)
