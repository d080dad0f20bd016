package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// The contract (docs/openapi.yaml) promises a strict reading of a command:
// encoding/json takes the last of two equal keys and matches field names in
// any case, so "RECEIVINGAUTHORITY" would land in receivingAuthority. A
// token-level pass over the body, guided by the command's type, refuses
// both before encoding/json decodes it, and names the field of a time that
// does not parse. Commands are flat objects of strings, numbers, times and
// lists, so this is a short walk; it was written here rather than taken
// from a JSON library so the one place bodies enter stays on the standard
// library.

var timeType = reflect.TypeOf(time.Time{})

// checkShape refuses a body that is not one JSON object, that repeats a key
// in any object, or whose keys are not the exact names of the fields of t
// (a pointer to a struct).
func checkShape(body []byte, t reflect.Type) *Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil // encoding/json reports malformed JSON, with its offset
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return apiError(http.StatusBadRequest, "not_an_object", "", "the body must be a JSON object {...}, not %s", jsonKind(tok))
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	e, _ := walkObject(dec, t, "")
	return e
}

func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case json.Number:
		return "a number"
	}
	return "that"
}

// fieldsOf maps the JSON names of a struct's fields to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		// Only a field with a json name is the client's to send: it is the
		// same rule by which aggregates.CheckInput finds the fields to bound.
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out[name] = f.Type
	}
	return out
}

// walkObject reads the rest of an object whose '{' was read. t is the Go
// type it decodes into (nil: anything, keys still unique).
func walkObject(dec *json.Decoder, t reflect.Type, path string) (*Error, error) {
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct && t != timeType {
		fields = fieldsOf(t)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		name := key
		if path != "" {
			name = path + "." + key
		}
		if seen[key] {
			return apiError(http.StatusBadRequest, "duplicate_field", name, "%q appears more than once", name), nil
		}
		seen[key] = true
		var ft reflect.Type
		if fields != nil {
			var ok bool
			if ft, ok = fields[key]; !ok {
				return apiError(http.StatusBadRequest, "unknown_field", name, "%q is not a field of this command (field names are case-sensitive)", name), nil
			}
		}
		if e, err := walkValue(dec, ft, name); e != nil || err != nil {
			return e, err
		}
	}
	_, err := dec.Token() // '}'
	return nil, err
}

func walkValue(dec *json.Decoder, t reflect.Type, name string) (*Error, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return walkObject(dec, t, name)
		case '[':
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				if e, err := walkValue(dec, elem, fmt.Sprintf("%s[%d]", name, i)); e != nil || err != nil {
					return e, err
				}
			}
			_, err := dec.Token() // ']'
			return nil, err
		}
	case string:
		if t == timeType {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				return apiError(http.StatusBadRequest, "wrong_type", name, "%s must be an RFC 3339 time such as 2025-06-02T10:00:00Z (got %q)", name, v), nil
			}
		}
	}
	return nil, nil
}

// trimStrings trims the spaces around every string of a decoded command,
// in lists too: " HO-1 " is the reference HO-1. (The deciders refuse text
// with spaces around it from any other caller.)
func trimStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			trimStrings(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				trimStrings(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			trimStrings(v.Index(i))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(strings.TrimSpace(v.String()))
		}
	}
}
