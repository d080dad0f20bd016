package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Kind says what sort of failure an outcome is, for a face that words some
// of them its own way (a form that was sent twice, a stale page).
type Kind string

// The kinds of outcome.
const (
	Refused     Kind = "refused"     // the rules refuse it in this state
	Invalid     Kind = "invalid"     // the command itself is wrong
	NotFound    Kind = "not-found"   // nothing by that id
	Stale       Kind = "stale"       // the caller decided on an older version
	KeyReused   Kind = "key-reused"  // an idempotency key came back with another command
	Contention  Kind = "contention"  // every attempt lost the race; nothing written
	Unavailable Kind = "unavailable" // the store did not answer in time; nothing written
	Corrupt     Kind = "corrupt"     // the history holds a message nobody can read
	Denied      Kind = "denied"      // the caller's role may not do it
	Internal    Kind = "internal"    // anything else; the log has it
)

// RetryAfter is how long a caller told to try again should wait.
const RetryAfter = time.Second

// Outcome is a failure classified once, for both faces: the API writes it
// as a status and a JSON error, the console as a status and a message
// beside the field it names.
type Outcome struct {
	Kind   Kind
	Status int
	// Code is the API's error code ("not_found", a refusal's code ...).
	Code string
	// Message is in words a person would use, starting in lower case so a
	// face may put it in a sentence.
	Message string
	// Field is the command's field the failure is about, if any.
	Field string
	// RetryAfter, when above zero, is how long to wait before trying again.
	RetryAfter time.Duration
	// Stale holds the versions of a Stale outcome.
	Stale *engine.StaleError
	// StaleRota: the stale version was the region's rota's, which every
	// allocation in the region moves, not the thing the form was about.
	StaleRota bool
}

// Classify says what a failure of the engine, a decider or the store means
// to the person who asked. A timeout and an unavailable store are the same
// answer (nothing was written; try again); anything it does not recognise
// is Internal with a message that hides the internals, which the faces log.
func Classify(err error) Outcome {
	var refusal *aggregates.Refusal
	var stale *engine.StaleError
	var busy *engine.ContentionError
	var corrupt *eventstore.CorruptError
	var denied *Forbidden
	var notParked *NotParked
	var reason *ReasonNeeded
	var unknownView *UnknownView
	var rebuilding *AlreadyRebuilding
	switch {
	case errors.As(err, &unknownView):
		return Outcome{Kind: NotFound, Status: http.StatusNotFound, Code: "not_found", Field: "name", Message: unknownView.Error()}
	case errors.As(err, &rebuilding):
		return Outcome{Kind: Refused, Status: http.StatusConflict, Code: "already_rebuilding", Field: "name", Message: rebuilding.Error()}
	case errors.As(err, &notParked):
		return Outcome{Kind: NotFound, Status: http.StatusNotFound, Code: "not_found", Field: "sequence", Message: notParked.Error()}
	case errors.Is(err, eventstore.ErrNotHere):
		return Outcome{Kind: Refused, Status: http.StatusConflict, Code: "consumer_not_here", Field: "sequence",
			Message: err.Error() + "; replay on an instance that runs the sagas and the publisher"}
	case errors.As(err, &reason):
		return Outcome{Kind: Invalid, Status: http.StatusBadRequest, Code: "reason_needed", Field: "reason", Message: reason.Error()}
	case errors.Is(err, ErrReadNotRecorded):
		return Outcome{Kind: Unavailable, Status: http.StatusServiceUnavailable, Code: "read_not_recorded", Message: ErrReadNotRecorded.Error(), RetryAfter: RetryAfter}
	case errors.Is(err, ErrNoReferral):
		return Outcome{Kind: NotFound, Status: http.StatusNotFound, Code: "not_found", Message: ErrNoReferral.Error()}
	case errors.As(err, &denied):
		return Outcome{Kind: Denied, Status: http.StatusForbidden, Code: "forbidden", Field: denied.Field, Message: denied.Error()}
	case errors.As(err, &refusal):
		switch {
		case refusal.Code == aggregates.CodeNotFound:
			return Outcome{Kind: NotFound, Status: http.StatusNotFound, Code: "not_found", Message: refusal.Message}
		case refusal.Kind == aggregates.Invalid:
			return Outcome{Kind: Invalid, Status: http.StatusUnprocessableEntity, Code: string(refusal.Code), Field: refusal.Field, Message: refusal.Message}
		}
		return Outcome{Kind: Refused, Status: http.StatusConflict, Code: string(refusal.Code), Field: refusal.Field, Message: refusal.Message}
	case errors.Is(err, events.ErrKeyDestroyed):
		return Outcome{Kind: Refused, Status: http.StatusConflict, Code: "disposed",
			Message: "this child's record was disposed of when its retention ended: nothing personal can be recorded about them again; nothing was changed"}
	case errors.As(err, &stale):
		return Outcome{Kind: Stale, Status: http.StatusConflict, Code: "stale_version", Message: stale.Error(), Stale: stale,
			StaleRota: stale.Kind == aggregates.Regions.Kind}
	case errors.Is(err, engine.ErrKeyReused):
		return Outcome{Kind: KeyReused, Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused", Message: err.Error()}
	case errors.As(err, &busy):
		return Outcome{Kind: Contention, Status: http.StatusServiceUnavailable, Code: "contention", Message: busy.Error(), RetryAfter: RetryAfter}
	case errors.Is(err, engine.ErrContention):
		return Outcome{Kind: Contention, Status: http.StatusServiceUnavailable, Code: "contention", Message: engine.ErrContention.Error(), RetryAfter: RetryAfter}
	case errors.As(err, &corrupt):
		return Outcome{Kind: Corrupt, Status: http.StatusInternalServerError, Code: "corrupt_history",
			Message: fmt.Sprintf("the referral's history holds a message that does not decode (stream sequence %d); nothing was changed. An operator can void that message (docs/runbook.md#message-nobody-can-read)", corrupt.Sequence)}
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return Outcome{Kind: Unavailable, Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the event store could not take or answer the request; nothing was written; try again", RetryAfter: RetryAfter}
	}
	return Outcome{Kind: Internal, Status: http.StatusInternalServerError, Code: "internal", Message: "something went wrong in the engine; try again, and tell the service desk if it happens again"}
}
