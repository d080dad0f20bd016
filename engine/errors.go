package engine

import (
	"errors"
	"fmt"
)

// StaleError: the client's If-Match version is not the current one.
type StaleError struct {
	Kind              string // the aggregate's kind, "referral" ...
	Expected, Current int
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the %s is at version %d, not %d: reload it and decide again", e.Kind, e.Current, e.Expected)
}

// ErrKeyReused: an idempotency key came back with a different command.
var ErrKeyReused = errors.New("this idempotency key was already used for a different request")

// ErrContention: the command lost the race for the aggregate every time it
// was tried. Nothing was written; trying again later is safe.
var ErrContention = errors.New("the referral is changing too fast: try again")
