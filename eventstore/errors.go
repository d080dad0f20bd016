package eventstore

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable is wrapped by errors that mean the store could not take or
// answer the request now (no JetStream, a full disk, a stream limit, a
// timeout): nothing was written, and the same request may succeed later.
var ErrUnavailable = errors.New("event store unavailable")

// ConflictError is an append refused by the server because the aggregate's
// subject had moved past the sequence the writer decided on. The writer
// reloads to learn where it stands now: the server's answer names no
// sequence in a field, and its wording is not an interface.
type ConflictError struct {
	Subject  string
	Expected uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append to %s: the subject has moved past expected last sequence %d", e.Subject, e.Expected)
}

// JetStream API error codes this package acts on, by name. nats.go exports
// constants for some (jetstream.JSErrCodeStreamWrongLastSequence); these are
// the server's codes (nats-server's server/errors.json) that it does not.
const (
	errCodeReplicasNotSupported jetstream.ErrorCode = 10074 // replicas > 1 on a server that is not clustered
	errCodeNoSuitablePeers      jetstream.ErrorCode = 10005 // fewer JetStream peers than replicas
	errCodeInsufficientRes      jetstream.ErrorCode = 10023 // not enough resources for the stream
	errCodeDuplicateInBatch     jetstream.ErrorCode = 10201 // an atomic batch holds a message id already stored
	errCodeDuplicateInProcess   jetstream.ErrorCode = 10158 // a message with this id is being stored now
	errCodeAtomicDisabled       jetstream.ErrorCode = 10174 // the stream takes no atomic batches (allow_atomic off)
)

// apiErrorIs says err is the server's refusal with one of codes.
func apiErrorIs(err error, codes ...jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && slices.Contains(codes, apiErr.ErrorCode)
}

// wrongLastSequence says the server refused a write that expected another
// last sequence (of the stream or of a subject; the server answers either
// code).
func wrongLastSequence(err error) bool {
	return apiErrorIs(err, jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// ErrDuplicate is an atomic batch refused because one of its messages
// carries a message id the server already stored within its duplicate
// window (AppendAtomic): another copy of the same command was written
// first, and nothing of this one was.
var ErrDuplicate = errors.New("already written under this message id")

// CorruptError is a stored message that does not decode: the log holds
// something we did not write, or wrote wrongly. It is never skipped silently.
type CorruptError struct {
	Sequence uint64
	Err      error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("stream sequence %d: %v", e.Sequence, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }
