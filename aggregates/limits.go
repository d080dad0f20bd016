package aggregates

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits on what a person may send are declared once, on the field that
// carries it, as a `limit` tag beside its `json` name:
//
//	Reason    string   `json:"reason" limit:"max=500"`            one line, at most 500 characters
//	Detail    string   `json:"detail" limit:"max=2000,multiline"` newlines and tabs allowed
//	Attendees []string `json:"attendees" limit:"items=50,max=100"` at most 50, each one line of 100
//	Episode   *int     `json:"episode" limit:"min=1,max=1000"`     a whole number in range, when present
//
// CheckInput enforces them, for every command, before anything is loaded:
// the API calls it on every body it decodes and the engine on every command
// it runs, so no route and no caller can skip a limit. A field a client can
// set (it has a json name) that declares no limit is a programming error
// that refuses every command of its type, so a limit cannot be forgotten
// quietly. Whether a field is required, and what a value means, stays with
// the deciders.

// Limit is one field's declared bounds, as CheckInput reads them.
type Limit struct {
	Field     string // the JSON name
	Kind      reflect.Kind
	Max       int  // characters of a text, or of each text of a list
	Items     int  // entries of a list
	Min, Most *int // bounds of a number
	Multiline bool // newlines and tabs allowed
}

type plan struct {
	index []int
	limit Limit
}

var plans sync.Map // reflect.Type -> []plan, or error

var timeType = reflect.TypeOf(time.Time{})

// CheckInput refuses a command (or any struct decoded from a request; a
// pointer to one will do) whose fields break their declared limits: text
// too long, not valid UTF-8, with spaces around it or with control
// characters; a list too long; a number out of range. The refusal names
// the field in the words a person reads. A field without a declared limit
// gives a plain error: a fault of the build, not of the caller.
func CheckInput(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	ps, err := planOf(rv.Type())
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := p.limit.check(rv.FieldByIndex(p.index)); err != nil {
			return err
		}
	}
	return nil
}

// Limits lists the declared limits of a command's type (for tests that
// hold the documentation to the code).
func Limits(v any) ([]Limit, error) {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	ps, err := planOf(t)
	var out []Limit
	for _, p := range ps {
		out = append(out, p.limit)
	}
	return out, err
}

func planOf(t reflect.Type) ([]plan, error) {
	if p, ok := plans.Load(t); ok {
		if err, bad := p.(error); bad {
			return nil, err
		}
		return p.([]plan), nil
	}
	ps, err := makePlan(t)
	if err != nil {
		plans.Store(t, err)
		return nil, err
	}
	plans.Store(t, ps)
	return ps, nil
}

// makePlan reads the limits of t's fields. Only fields a client can set
// are checked: exported, with a json name. A command's other fields are
// filled in by the shell or a saga (facts the rules weigh), not typed by
// a person.
func makePlan(t reflect.Type) ([]plan, error) {
	if t.Kind() != reflect.Struct {
		return nil, nil
	}
	var out []plan
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft == timeType || ft.Kind() == reflect.Bool {
			continue // the decoder types them; the deciders bound times
		}
		l := Limit{Field: name, Kind: ft.Kind()}
		tag, ok := f.Tag.Lookup("limit")
		if !ok {
			return nil, fmt.Errorf("aggregates: %s.%s (%q) declares no limit: give it a `limit` tag", t.Name(), f.Name, name)
		}
		for _, part := range strings.Split(tag, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			n, err := strconv.Atoi(val)
			if k != "multiline" && err != nil {
				return nil, fmt.Errorf("aggregates: %s.%s: bad limit %q", t.Name(), f.Name, part)
			}
			switch k {
			case "max":
				if ft.Kind() == reflect.Int || ft.Kind() == reflect.Uint64 {
					l.Most = &n
				} else {
					l.Max = n
				}
			case "min":
				l.Min = &n
			case "items":
				l.Items = n
			case "multiline":
				l.Multiline = true
			default:
				return nil, fmt.Errorf("aggregates: %s.%s: unknown limit %q", t.Name(), f.Name, k)
			}
		}
		complete := false
		switch ft.Kind() {
		case reflect.String:
			complete = l.Max > 0
		case reflect.Slice:
			complete = ft.Elem().Kind() == reflect.String && l.Items > 0 && l.Max > 0
		case reflect.Int, reflect.Uint64:
			complete = l.Min != nil && l.Most != nil
		}
		if !complete {
			return nil, fmt.Errorf("aggregates: %s.%s: limit %q does not bound a %s (text: max; list of text: items and max; number: min and max)", t.Name(), f.Name, tag, ft)
		}
		out = append(out, plan{index: f.Index, limit: l})
	}
	return out, nil
}

func (l Limit) check(v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil // absent; the decider says whether it is needed
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return l.text(l.Field, v.String())
	case reflect.Slice:
		if v.Len() > l.Items {
			return invalid(l.Field, "%s lists %d entries; at most %d are allowed", l.Field, v.Len(), l.Items)
		}
		for i := range v.Len() {
			if err := l.text(fmt.Sprintf("%s entry %d", l.Field, i+1), v.Index(i).String()); err != nil {
				return err
			}
		}
	case reflect.Int:
		return l.number(v.Int())
	case reflect.Uint64:
		// Past int64's range it is out of any bound declared here anyway.
		return l.number(int64(min(v.Uint(), 1<<63-1)))
	}
	return nil
}

func (l Limit) text(what, s string) error {
	if s == "" {
		return nil
	}
	if p := textProblem(s, l.Max, l.Multiline); p != "" {
		if !l.Multiline && (strings.ContainsRune(s, '\n') || strings.ContainsRune(s, '\r')) && utf8.ValidString(s) && utf8.RuneCountInString(s) <= l.Max {
			p = "runs over more than one line; write it on one line"
		}
		return invalid(l.Field, "%s %s", what, p)
	}
	return nil
}

func (l Limit) number(n int64) error {
	if n < int64(*l.Min) || n > int64(*l.Most) {
		return invalid(l.Field, "%s must be a whole number from %d to %d (got %d)", l.Field, *l.Min, *l.Most, n)
	}
	return nil
}
