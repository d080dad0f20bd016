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

// ContentionError is ErrContention naming the aggregate every attempt lost
// the race for, so the person told to try again knows what was busy: for
// an allocation that is the region's rota, which every allocation in the
// region writes, not the referral.
type ContentionError struct {
	Kind, ID string // the aggregate's kind and id: "region", "north-west"
	Attempts int
	Last     error // the last conflict, for the log
}

func (e *ContentionError) Error() string {
	switch e.Kind {
	case "region":
		return fmt.Sprintf("the %s region's rota is taking too many allocations at once (%d attempts): nothing was written; try again in a moment", e.ID, e.Attempts)
	case "authority":
		return fmt.Sprintf("authority %s's pledge places are being taken by too many answers at once (%d attempts): nothing was written; try again in a moment", e.ID, e.Attempts)
	}
	return fmt.Sprintf("the %s %s is changing too fast (%d attempts): nothing was written; try again in a moment", e.Kind, e.ID, e.Attempts)
}

// Is makes a *ContentionError match ErrContention.
func (e *ContentionError) Is(target error) bool { return target == ErrContention }
