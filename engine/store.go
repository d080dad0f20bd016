package engine

import (
	"context"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Store is what the engine asks of the event log. The engine owns it, so
// that what commands depend on is written down here, small, and the engine
// reaches no further into JetStream than this; eventstore.Store implements
// it, and store_test.go checks the promises below against a real store.
type Store interface {
	Loader
	// LoadAfter is Load for a caller that holds the subject's first
	// commits (known, as an earlier load returned them): known followed by
	// every commit after them, with Load's guarantee. known is not
	// modified.
	LoadAfter(ctx context.Context, subject string, known []eventstore.Stored) ([]eventstore.Stored, error)
	// LoadAll is Load that also returns the commits that do not decode,
	// with their Err set, instead of failing: what the void command looks
	// among.
	LoadAll(ctx context.Context, subject string) ([]eventstore.Stored, error)
	// Append stores one commit on subject if the subject's last sequence is
	// still expected (else a *eventstore.ConflictError, nothing written).
	// A msgID the log already holds within its duplicate window writes
	// nothing and answers Duplicate with the first copy's sequence.
	Append(ctx context.Context, subject string, expected uint64, msgID string, c events.Commit) (eventstore.Appended, error)
	// AppendAtomic stores several commits, each on its own subject with its
	// own expected sequence and message id, all or none: a
	// *eventstore.ConflictError if a subject moved, an error wrapping
	// eventstore.ErrDuplicate if a message id is already held. The
	// sequences are the writes', in order.
	AppendAtomic(ctx context.Context, writes ...eventstore.Write) ([]uint64, error)
	// SubjectAt is the subject of the message at a stream sequence (an
	// error wrapping eventstore.ErrNoMessage when there is none): how a
	// void names the subject an operator should have given.
	SubjectAt(ctx context.Context, seq uint64) (string, error)
	// LastSequence is the log's last stream sequence now (0: empty): the
	// position the sequences in the engine's outcomes are compared with by
	// those who hold only the engine (how far a reader must get).
	LastSequence(ctx context.Context) (uint64, error)
}

// Loader is what reading one aggregate needs (Load).
type Loader interface {
	// Load is one subject's commits in stream order, every commit
	// acknowledged before the call among them (on a replicated stream
	// too), each with the message id it was written under (Stored.MsgID:
	// how the loop finds the first copy of a command an atomic batch's
	// duplicate answer does not name); an error if one does not decode and
	// was not voided. A subject with none loads as no commits and no
	// error.
	Load(ctx context.Context, subject string) ([]eventstore.Stored, error)
}

var _ Store = (*eventstore.Store)(nil)
