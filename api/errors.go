package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Error is the body of every error response: {"error": {...}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// CurrentVersion accompanies 409s, so a client can reload and decide.
	CurrentVersion *int `json:"currentVersion,omitempty"`
	status         int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func apiError(status int, code, field, format string, args ...any) *Error {
	return &Error{status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// errorFor maps what went wrong to a status and a code. Anything it does not
// recognise is a 500 whose message hides the internals; the log has them.
func errorFor(err error, currentVersion func() (int, bool)) *Error {
	var apiErr *Error
	var refusal *aggregates.Refusal
	var stale *engine.StaleError
	var corrupt *eventstore.CorruptError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &refusal):
		switch {
		case refusal.Code == aggregates.CodeNotFound:
			return apiError(http.StatusNotFound, "not_found", "", "%s", refusal.Message)
		case refusal.Kind == aggregates.Invalid:
			return apiError(http.StatusUnprocessableEntity, string(refusal.Code), refusal.Field, "%s", refusal.Message)
		}
		e := apiError(http.StatusConflict, string(refusal.Code), refusal.Field, "%s", refusal.Message)
		if v, ok := currentVersion(); ok {
			e.CurrentVersion = &v
		}
		return e
	case errors.As(err, &stale):
		e := apiError(http.StatusConflict, "stale_version", "If-Match", "%s", stale.Error())
		e.CurrentVersion = &stale.Current
		return e
	case errors.Is(err, engine.ErrKeyReused):
		return apiError(http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key", "%s", err.Error())
	case errors.Is(err, engine.ErrContention):
		var busy *engine.ContentionError
		if errors.As(err, &busy) {
			return apiError(http.StatusServiceUnavailable, "contention", "", "%s", busy.Error())
		}
		return apiError(http.StatusServiceUnavailable, "contention", "", "%s", engine.ErrContention.Error())
	case errors.As(err, &corrupt):
		return apiError(http.StatusInternalServerError, "corrupt_history", "", "the referral's history holds a message that does not decode (stream sequence %d); nothing was changed. An operator can void that message (docs/runbook.md#message-nobody-can-read)", corrupt.Sequence)
	case errors.Is(err, eventstore.ErrUnavailable):
		return apiError(http.StatusServiceUnavailable, "unavailable", "", "the event store could not take or answer the request; nothing was written; try again")
	}
	return apiError(http.StatusInternalServerError, "internal", "", "internal error")
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, struct {
		Error *Error `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// No HTML escaping: the API's messages are read by people, who should
	// see "<token>", not "\u003ctoken\u003e".
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var b []byte
	if err := enc.Encode(v); err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"cannot encode response"}}`+"\n")
	} else {
		b = buf.Bytes()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// fieldOf pulls the field name out of encoding/json's messages, which say
// `json: unknown field "x"`.
func fieldOf(msg string) string {
	if i := strings.Index(msg, `"`); i >= 0 {
		if j := strings.Index(msg[i+1:], `"`); j >= 0 {
			return msg[i+1 : i+1+j]
		}
	}
	return ""
}
