package eventstore

import (
	"errors"
	"fmt"
)

// ErrUnavailable is wrapped by errors that mean the store could not take or
// answer the request now (no JetStream, a full disk, a stream limit, a
// timeout): nothing was written, and the same request may succeed later.
var ErrUnavailable = errors.New("event store unavailable")

// ConflictError is an append refused by the server because the aggregate's
// subject had moved past the sequence the writer decided on.
type ConflictError struct {
	Subject  string
	Expected uint64
	Actual   uint64 // as the server reported it; 0 if it did not say
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("append to %s: expected last sequence %d, found %d", e.Subject, e.Expected, e.Actual)
}

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
