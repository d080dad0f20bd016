package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// MaxBodyBytes bounds a command's body: a referral form is a few kilobytes.
const MaxBodyBytes = 64 << 10

// maxDepth bounds JSON nesting: no command is deeper than 3.
const maxDepth = 16

// decodeBody reads a command's JSON body strictly into v: JSON only, within
// the size bound, valid UTF-8, not too deep, one value, no unknown fields,
// every field of the right type. Each failure says which rule it broke.
func decodeBody(r *http.Request, v any) *Error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type", "send the command as application/json (got %q)", ct)
	}
	if r.ContentLength > MaxBodyBytes {
		return apiError(http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than %d bytes", MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooBig):
			return apiError(http.StatusRequestEntityTooLarge, "body_too_large", "", "the body is larger than %d bytes", MaxBodyBytes)
		case errors.As(err, &netErr) && netErr.Timeout():
			return apiError(http.StatusRequestTimeout, "body_timeout", "", "the body did not arrive in time")
		}
		return apiError(http.StatusBadRequest, "unreadable_body", "", "could not read the body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apiError(http.StatusBadRequest, "malformed_json", "", "the body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return apiError(http.StatusBadRequest, "invalid_utf8", "", "the body is not valid UTF-8")
	}
	if depth(body) > maxDepth {
		return apiError(http.StatusBadRequest, "too_deep", "", "the JSON is nested more than %d levels deep", maxDepth)
	}
	if e := checkShape(body, reflect.TypeOf(v)); e != nil {
		return e
	}
	if err := events.DecodeStrict(body, v); err != nil {
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return apiError(http.StatusBadRequest, "malformed_json", "", "the body is not valid JSON: %v (at byte %d)", syntax, syntax.Offset)
		case errors.As(err, &typeErr):
			return apiError(http.StatusBadRequest, "wrong_type", typeErr.Field, "%s must be %s, not %s", typeErr.Field, kindOf(typeErr.Type.Kind().String()), typeErr.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			f := fieldOf(err.Error())
			return apiError(http.StatusBadRequest, "unknown_field", f, "%q is not a field of this command", f)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return apiError(http.StatusBadRequest, "malformed_json", "", "the body ends in the middle of the JSON")
		}
		// Time and other field decoders say what is wrong but not where;
		// checkShape has named the field of any time that does not parse.
		return apiError(http.StatusBadRequest, "malformed_json", "", "%v", err)
	}
	trimStrings(reflect.ValueOf(v))
	// The limits every field declares (aggregates/limits.go), here for every
	// route before the handler loads or decides anything; the engine checks
	// them again for callers that do not come through HTTP.
	if err := aggregates.CheckInput(v); err != nil {
		return errorFor(err, noVersion)
	}
	return nil
}

func kindOf(k string) string {
	switch k {
	case "int", "int64", "float64":
		return "a number"
	case "slice":
		return "a list"
	case "struct":
		return "an object (or, for times, an RFC 3339 string)"
	}
	return "a " + k
}

// depth is the deepest nesting of objects and arrays in b, outside strings.
func depth(b []byte) int {
	d, max, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}
