package app

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Subject access: everything held about one child, as a file a data
// protection officer can hand over.
//
// The export is a zip of three files: record.html (every event in words,
// London times, readable in any browser with nothing to fetch and no
// script), events.json (every event as JSON, for anyone who wants to check
// or process it) and README.txt (what the export is and how it was made).
// A zip rather than one HTML page with the JSON inside it: the JSON then
// stays a file of its own that a tool can read as it is, and the person
// receiving the export does not have to dig it out of a web page.

// SubjectAccess is the data protection officer's export use case.
type SubjectAccess struct {
	Engine *engine.Engine
	Reads  *ReadAudit
	Now    func() time.Time
}

// SubjectAccessExport is one export, made and recorded.
type SubjectAccessExport struct {
	Referral string
	// Recorded is the outcome of recording the export in the child's log.
	Recorded engine.Outcome
	Events   int
	Filename string
	Zip      []byte
}

// Export exports everything held about the child of a referral: the
// referral's events and their care events. The export is recorded first
// (a privacy.subject-access-exported event on the referral: who, when,
// how many events, why; no personal data) and in the read audit; only
// then is the file made, so no export leaves without its record.
func (u SubjectAccess) Export(ctx context.Context, c Caller, id, reason string, meta engine.Meta) (SubjectAccessExport, error) {
	if !c.ProtectsData() {
		return SubjectAccessExport{}, c.forbidden("export a child's record; the data protection officer does", "")
	}
	if !events.ValidID(id) {
		return SubjectAccessExport{}, ErrNoReferral
	}
	if err := u.Reads.Record(ctx, c, id, ReadOf{View: ViewSubjectAccess, Reason: reason, Person: meta.Person}); err != nil {
		return SubjectAccessExport{}, err
	}
	ref, stored, err := u.Engine.Load(ctx, id)
	if err != nil {
		return SubjectAccessExport{}, err
	}
	if len(stored) == 0 || ref.Status == aggregates.StatusNone {
		return SubjectAccessExport{}, ErrNoReferral
	}
	_, care, err := engine.LoadThrough(ctx, u.Engine, aggregates.Cares, id)
	if err != nil {
		return SubjectAccessExport{}, err
	}
	n := countEvents(stored) + countEvents(care)
	out, err := u.Engine.Handle(ctx, id, aggregates.RecordSubjectAccess{Events: n, Reason: reason}, meta)
	if err != nil {
		return SubjectAccessExport{}, err
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	at := now()
	x := SubjectAccessExport{Referral: id, Recorded: out, Events: n,
		Filename: "subject-access-" + id + "-" + at.In(calendar.London).Format("2006-01-02") + ".zip"}
	x.Zip, err = exportZip(id, reason, at, out, []section{{"The referral", stored}, {"The child's care after the transfer", care}})
	return x, err
}

func countEvents(stored []eventstore.Stored) int {
	n := 0
	for _, st := range stored {
		n += len(st.Commit.Events)
	}
	return n
}

type section struct {
	Title  string
	Stored []eventstore.Stored
}

type exportEvent struct {
	Sequence uint64       `json:"sequence"`
	Subject  string       `json:"subject"`
	Event    events.Event `json:"event"`
}

type wordsEvent struct {
	Title, Occurred, Recorded, Who string
	Facts                          []fact
}

type fact struct{ Label, Value string }

type wordsSection struct {
	Title  string
	Events []wordsEvent
}

var exportPage = template.Must(template.New("record").Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Everything held about the child of referral {{.ID}}</title>
<style>body{font-family:Arial,sans-serif;max-width:60em;margin:2em auto;line-height:1.4}table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;border-bottom:1px solid #b1b4b6;padding:.3em}caption{text-align:left;font-weight:bold;padding:.5em 0}</style></head>
<body>
<h1>Everything held about the child of referral {{.ID}}</h1>
<p>Exported on {{.At}} (London time) for a subject access request. Reason given: {{.Reason}}.</p>
<p>Every event recorded about the child is below, oldest first, with every fact it holds. Times are London times.
The same events are in events.json beside this file, as the engine holds them.</p>
{{range .Sections}}<h2>{{.Title}}</h2>
{{if not .Events}}<p>Nothing recorded.</p>{{end}}
{{range .Events}}<table><caption>{{.Title}}</caption>
<tr><th scope="row">When it happened</th><td>{{.Occurred}}</td></tr>
<tr><th scope="row">When it was recorded</th><td>{{.Recorded}}</td></tr>
<tr><th scope="row">Recorded by</th><td>{{.Who}}</td></tr>
{{range .Facts}}<tr><th scope="row">{{.Label}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{end}}{{end}}
</body></html>
`))

func exportZip(id, reason string, at time.Time, recorded engine.Outcome, sections []section) ([]byte, error) {
	var raw []exportEvent
	var words []wordsSection
	total := 0
	for _, s := range sections {
		ws := wordsSection{Title: s.Title}
		for _, st := range s.Stored {
			for _, e := range st.Commit.Events {
				raw = append(raw, exportEvent{Sequence: st.Sequence, Subject: st.Subject, Event: e})
				ws.Events = append(ws.Events, wordsEvent{Title: sentence(e.Type), Occurred: londonWords(e.OccurredAt), Recorded: londonWords(e.RecordedAt),
					Who: e.Who(), Facts: facts(e.Data)})
				total++
			}
		}
		words = append(words, ws)
	}
	var page bytes.Buffer
	if err := exportPage.Execute(&page, map[string]any{"ID": id, "At": londonWords(at), "Reason": reason, "Sections": words}); err != nil {
		return nil, fmt.Errorf("subject access export: %w", err)
	}
	js, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("subject access export: %w", err)
	}
	recordID := ""
	if len(recorded.Events) > 0 {
		recordID = recorded.Events[0].ID
	}
	readme := fmt.Sprintf(`Subject access export for the child of referral %s

Made on %s (London time). It holds %d events: everything the engine holds
about this child (the referral and the child's care after the transfer).

record.html  every event in words, with London times (open in any browser)
events.json  the same events as JSON, as the engine reads them

The export itself is recorded in the child's log as event %s
(privacy.subject-access-exported), naming who made it and when, and in
the read audit.
`, id, londonWords(at), total, recordID)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{{"README.txt", []byte(readme)}, {"record.html", page.Bytes()}, {"events.json", js}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: at})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func londonWords(t time.Time) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.In(calendar.London).Format("Monday 2 January 2006, 15:04:05 MST")
}

// sentence turns an event type into words: "child.detail-corrected" is
// "Child detail corrected".
func sentence(typ string) string {
	s := strings.NewReplacer(".", " ", "-", " ").Replace(typ)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// facts lists every field an event's payload holds, each labelled in words
// from its JSON name and its value as a person reads it. Every field, not
// a summary: a subject access request is for everything held.
func facts(data any) []fact {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Struct {
		b, _ := json.Marshal(data)
		return []fact{{"Recorded as", string(b)}}
	}
	var out []fact
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || v.Field(i).IsZero() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, fact{label(name), value(v.Field(i))})
	}
	return out
}

// label is "dateOfBirth" as "Date of birth".
func label(name string) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		if i == 0 {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func value(v reflect.Value) string {
	if t, ok := v.Interface().(time.Time); ok {
		return londonWords(t)
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return "yes"
		}
		return "no"
	case reflect.Slice, reflect.Array:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, value(v.Index(i)))
		}
		return strings.Join(parts, "; ")
	case reflect.Struct:
		var parts []string
		for _, f := range facts(v.Interface()) {
			parts = append(parts, f.Label+": "+f.Value)
		}
		return strings.Join(parts, ", ")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return value(v.Elem())
	}
	return fmt.Sprint(v.Interface())
}
