package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ntsflow/ntsflow/app"
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

// errorFor is app.Classify's answer as the API writes it. A refusal's 409
// carries the version the caller should reload.
func errorFor(err error, currentVersion func() (int, bool)) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	o := app.Classify(err)
	e := apiError(o.Status, o.Code, o.Field, "%s", o.Message)
	switch o.Kind {
	case app.Refused:
		if v, ok := currentVersion(); ok {
			e.CurrentVersion = &v
		}
	case app.Stale:
		e.Field, e.CurrentVersion = "If-Match", &o.Stale.Current
	case app.KeyReused:
		e.Field = "Idempotency-Key"
	case app.Denied:
		// The API's 403s name no field; the console's forms do.
		e.Field = ""
	}
	return e
}

func writeError(w http.ResponseWriter, e *Error) {
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, struct {
		Error *Error `json:"error"`
	}{e})
}

// answerJSON writes v with status, or err as errorFor answers it (with no
// version to name).
func answerJSON(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	writeJSON(w, status, v)
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
