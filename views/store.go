package views

import (
	"context"
	"io"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Log is what the views read of the event log. The views own it, so that
// what they depend on is written down here, small, and nothing in this
// package reaches past it to JetStream; eventstore.Store implements it,
// and store_test.go checks the promises below against a real store.
type Log interface {
	// LastSequence is the stream's last sequence now (0: empty).
	LastSequence(ctx context.Context) (uint64, error)
	// Follow delivers every commit from sequence from on, in stream order,
	// and waits for more until ctx ends or fn returns an error, which it
	// returns.
	Follow(ctx context.Context, from uint64, fn func(eventstore.Stored) error) error
	// ReadRange delivers the commits from..to, in order, then returns.
	ReadRange(ctx context.Context, from, to uint64, fn func(eventstore.Stored) error) error
	// ReadRaw is ReadRange without decoding, for readers that decode on
	// several cores (RawCommit.Decode).
	ReadRaw(ctx context.Context, from, to uint64, fn func(eventstore.RawCommit) error) error
	// LoadAll is every commit on one subject, voided ones included: where
	// a view looks for the void of a commit it cannot read.
	LoadAll(ctx context.Context, subject string) ([]eventstore.Stored, error)
}

// Snapshots is where the views keep their snapshots: one object per view,
// streamed both ways.
type Snapshots interface {
	// WriteSnapshot replaces the snapshot under name with what r gives.
	WriteSnapshot(ctx context.Context, name string, r io.Reader) error
	// OpenSnapshot reads the snapshot under name; an error wrapping
	// eventstore.ErrNoSnapshot when there is none.
	OpenSnapshot(ctx context.Context, name string) (io.ReadCloser, error)
}

// Store is all the views need of the event store.
type Store interface {
	Log
	Snapshots
}

var _ Store = (*eventstore.Store)(nil)
