package console

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The forms send the API's commands through the same engine call, with the
// same protection: each form carries an idempotency key made when it was
// shown (sending it twice records once) and the referral's version it was
// shown at (If-Match: if the referral moved on meanwhile, nothing is
// recorded and the form says so).

// field is one question of a form. Its Name is the command's JSON field
// name, so a refusal's field lands beside the right control.
type field struct {
	Name, Label, Hint string
	// Widget: text, number, select, radios, checkboxes, date, datetime, textarea.
	Widget  string
	Options []option
	// Value (text, number, select, radios), Values (checkboxes), and the
	// parts of a date or date and time.
	Value                  string
	Values                 []string
	Day, Month, Year, Time string
	Optional               bool
	Error                  string
	Autocomplete           string
	// Of is the command's field this question sends, when the form names
	// it otherwise (two forms on one page need distinct ids).
	Of string
}

// of is the command's field the question sends.
func (f field) of() string {
	if f.Of != "" {
		return f.Of
	}
	return f.Name
}

type option struct {
	Value, Text string
}

// Checked reports whether an option of a radios, select or checkboxes field
// is chosen.
func (f field) Checked(v string) bool {
	if f.Widget == "checkboxes" {
		for _, x := range f.Values {
			if x == v {
				return true
			}
		}
		return false
	}
	return f.Value == v
}

// Anchor is the id of the field's first control, for the error summary.
func (f field) Anchor() string {
	switch f.Widget {
	case "date", "datetime":
		return f.Name + "-day"
	case "radios", "checkboxes":
		return f.Name + "-0"
	}
	return f.Name
}

type formData struct {
	Heading, Caption, Intro string
	Action, Submit, Back    string
	BackText                string
	Fields                  []field
	Key                     string
	Version                 string
	Stale                   *stale
	Warning                 string
	// RotaVersion is the region's rota version a proposal was shown at
	// (the allocation form).
	RotaVersion string
	// Skipped lists, in words, whom the rota's proposal passes over.
	Skipped []string
}

// stale is the message of a form sent against an older version.
type stale struct {
	Seen, Current int
	Reload        string
	// Rota is true when the region's rota moved, not the referral.
	Rota bool
}

func newKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

func options(codes []string) []option {
	out := make([]option, len(codes))
	for i, c := range codes {
		out[i] = option{c, capital(word(c))}
	}
	return out
}

func datetimeNow(name, label, hint string, now time.Time) field {
	l := now.In(calendar.London)
	return field{Name: name, Label: label, Hint: hint, Widget: "datetime",
		Day: strconv.Itoa(l.Day()), Month: strconv.Itoa(int(l.Month())), Year: strconv.Itoa(l.Year()), Time: l.Format("15:04")}
}

// action is one thing a writer can do to a referral.
type action struct {
	Name, Link, Heading, Submit, Notice string
	// Asks is the CommandName of the command the form sends, whose fields
	// package app words the form's errors for.
	Asks string
	// Whether it can be taken now, and by whom, is package app's to say
	// (app.Caller.Actions: a dry run of the decider); its Name is the
	// app's name of the action. The form is served either way, and the
	// decider's refusal says why not.
	Fields  func(c *call, r aggregates.Referral, now time.Time) []field
	Command func(who *call, v url.Values) (aggregates.Command, []fieldError)
}

func (a action) may(c *call, r aggregates.Referral) bool { return c.app().May(a.Name, r) }

var actions = []action{
	{
		Name: "accept", Asks: "accept-allocation", Link: "Accept the allocation", Heading: "Accept the allocation", Submit: "Accept the child",
		Notice: "Allocation accepted: the referral is now yours, and continues as a received referral.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field { return nil },
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			return aggregates.AcceptAllocation{Authority: answering(who)}, nil
		},
	},
	{
		Name: "exception", Asks: "raise-allocation-exception", Link: "Raise an exception", Heading: "Raise an exception to this allocation", Submit: "Raise the exception",
		Notice: "Exception raised: the referral goes back to the partnership to allocate again.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{{Name: "reason", Label: "Why can your authority not take this child?", Hint: "The partnership reads this, and the rota will not offer this child to you again. For example, no placement that can meet the child's needs.", Widget: "textarea"}}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			return aggregates.RaiseAllocationException{Authority: answering(who), Reason: strings.TrimSpace(v.Get("reason"))}, nil
		},
	},
	{
		Name: "notify", Asks: "notify-professionals", Link: "Send the referral form", Heading: "Send the referral form to the professionals", Submit: "Record that the form was sent",
		Notice: "Referral form sent: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			var left []string
			for _, p := range aggregates.Professions.List() {
				if !contains(r.Professions, p) {
					left = append(left, p)
				}
			}
			hint := "Select every profession the form went to."
			if len(r.Professions) > 0 {
				hint += " Already sent to " + wordList(r.Professions) + "."
			}
			return []field{
				{Name: "professions", Label: "Which professions was the form sent to?", Hint: hint, Widget: "checkboxes", Options: options(aggregates.Professions.List()), Values: left},
				{Name: "notifiedBy", Label: "Who sent it?", Hint: "Your name or role, for example team leader.", Widget: "text", Value: signedName(c), Autocomplete: "name"},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			return aggregates.NotifyProfessionals{Professions: v["professions"], NotifiedBy: strings.TrimSpace(v.Get("notifiedBy"))}, nil
		},
	},
	{
		Name: "search", Asks: "record-placement-search", Link: "Record a placement search", Heading: "Record a placement search", Submit: "Record the search",
		Notice: "Placement search: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{
				{Name: "track", Label: "Which track was searched?", Hint: "Placement searches run on twin tracks.", Widget: "radios", Options: options(aggregates.SearchTracks.List())},
				{Name: "offersFound", Label: "How many offers were found?", Widget: "number"},
				{Name: "placementTypes", Label: "Placement types offered", Hint: "SSDA903 codes separated by spaces, for example U4 H5. Leave empty if no offers were found.", Widget: "text", Optional: true},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			c := aggregates.RecordPlacementSearch{Track: v.Get("track"), PlacementTypes: strings.Fields(strings.ToUpper(strings.ReplaceAll(v.Get("placementTypes"), ",", " ")))}
			n, err := strconv.Atoi(strings.TrimSpace(v.Get("offersFound")))
			if err != nil {
				return nil, []fieldError{{Field: "offersFound", Message: app.Ask("record-placement-search", "offersFound")}}
			}
			c.OffersFound = &n
			return c, nil
		},
	},
	{
		Name: "age-request", Asks: "request-age-assessment", Link: "Request an age assessment", Heading: "Request an age assessment", Submit: "Record the request",
		Notice: "Age assessment request: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{
				{Name: "method", Label: "Who will assess the child's age?", Widget: "radios", Options: options(aggregates.AgeAssessmentMethods.List())},
				{Name: "reason", Label: "Why is the age disputed?", Widget: "textarea", Optional: true},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			return aggregates.RequestAgeAssessment{Method: v.Get("method"), Reason: strings.TrimSpace(v.Get("reason"))}, nil
		},
	},
	{
		Name: "age", Asks: "record-age-assessment", Link: "Record the age assessment's outcome", Heading: "Record the age assessment's outcome", Submit: "Record the outcome",
		Notice: "Age assessment outcome: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{
				{Name: "method", Label: "Who assessed the child's age?", Widget: "radios", Options: options(aggregates.AgeAssessmentMethods.List())},
				{Name: "outcome", Label: "What was the outcome?", Hint: "Assessed as an adult withdraws the referral from the children's scheme.", Widget: "radios", Options: []option{{events.AgeOutcomeChild, "Assessed as a child"}, {events.AgeOutcomeAdult, "Assessed as an adult"}}},
				{Name: "assessedDateOfBirth", Label: "Assessed date of birth", Hint: "For example, 27 3 2009. Leave empty if none was given.", Widget: "date", Optional: true},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			c := aggregates.RecordAgeAssessment{Method: v.Get("method"), Outcome: v.Get("outcome")}
			if d, m, y := v.Get("assessedDateOfBirth-day"), v.Get("assessedDateOfBirth-month"), v.Get("assessedDateOfBirth-year"); d+m+y != "" {
				t, fe := parseDate(v, "assessedDateOfBirth", app.Ask("record-age-assessment", "assessedDateOfBirth"))
				if fe != nil {
					return nil, []fieldError{*fe}
				}
				c.AssessedDateOfBirth = t.Format(time.DateOnly)
			}
			return c, nil
		},
	},
	{
		Name: "place", Asks: "place", Link: "Record the placement", Heading: "Record the placement", Submit: "Record the placement",
		Notice: "Placement: recorded. The deadline has stopped.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			var opts []option
			for _, code := range aggregates.PlacementTypes.List() {
				opts = append(opts, option{code, placementType(code)})
			}
			return []field{
				{Name: "placementType", Label: "Placement type", Hint: "The SSDA903 placement type.", Widget: "select", Options: append([]option{{"", "Choose a placement type"}}, opts...)},
				{Name: "provider", Label: "Placement provider", Hint: "For example, the fostering agency or children's home.", Widget: "text"},
				datetimeNow("placedAt", "When was the child placed?", "London time. For example, 27 3 2026 14:30.", now),
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			c := aggregates.Place{PlacementType: v.Get("placementType"), Provider: strings.TrimSpace(v.Get("provider"))}
			t, fe := parseDateTime(v, "placedAt", app.Ask("place", "placedAt"))
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			c.PlacedAt = t
			return c, nil
		},
	},
	{
		Name: "withdraw", Asks: "withdraw", Link: "Withdraw the referral", Heading: "Withdraw the referral", Submit: "Withdraw the referral",
		Notice: "Referral withdrawn: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{
				{Name: "reason", Label: "Why is the referral withdrawn?", Widget: "radios", Options: options(aggregates.WithdrawalReasons.List())},
				{Name: "detail", Label: "Details", Widget: "textarea", Optional: true},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			return aggregates.Withdraw{Reason: v.Get("reason"), Detail: strings.TrimSpace(v.Get("detail"))}, nil
		},
	},
	{
		Name: "left-care", Asks: "record-left-care", Link: "Record that the child left care", Heading: "Record that the child left care", Submit: "Record it",
		Notice: "Left care: recorded.",
		Fields: func(c *call, r aggregates.Referral, now time.Time) []field {
			return []field{
				datetimeNow("leftAt", "When did the child leave care?", "London time. For example, 27 3 2026 14:30.", now),
				{Name: "reason", Label: "Why?", Widget: "radios", Options: options(aggregates.LeftCareReasons.List())},
			}
		},
		Command: func(who *call, v url.Values) (aggregates.Command, []fieldError) {
			c := aggregates.RecordLeftCare{Reason: v.Get("reason")}
			t, fe := parseDateTime(v, "leftAt", app.Ask("record-left-care", "leftAt"))
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			c.LeftAt = t
			return c, nil
		},
	},
}

// answering is the authority that answers an allocation: the signed-in
// authority (with sign-in off, whichever the referral is allocated to).
func answering(c *call) string {
	if c.Signed {
		return c.P.Authority
	}
	return ""
}

func findAction(name string) (action, bool) {
	for _, a := range actions {
		if a.Name == name {
			return a, true
		}
	}
	return action{}, false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func signedName(c *call) string {
	if c.Signed {
		return c.P.Name
	}
	return ""
}

// fill puts the values a person sent back into the fields, and each error
// beside its field.
func fill(fields []field, v url.Values, errs []fieldError) []field {
	for i := range fields {
		f := &fields[i]
		switch f.Widget {
		case "checkboxes":
			f.Values = v[f.Name]
		case "date", "datetime":
			f.Day, f.Month, f.Year, f.Time = v.Get(f.Name+"-day"), v.Get(f.Name+"-month"), v.Get(f.Name+"-year"), v.Get(f.Name+"-time")
		default:
			f.Value = v.Get(f.Name)
		}
	}
	return placeErrors(fields, errs)
}

// placeErrors sets each error beside its field and its summary anchor; an
// error about a field the form does not have stays in the summary only.
func placeErrors(fields []field, errs []fieldError) []field {
	for j := range errs {
		for i := range fields {
			if fields[i].Name == errs[j].Field {
				fields[i].Error = errs[j].Message
				errs[j].Anchor = fields[i].Anchor()
			}
		}
	}
	return fields
}

// parseDateTime reads a London date and time from name-day, name-month,
// name-year and name-time (HH:MM); ask is what to do when they are not one.
func parseDateTime(v url.Values, name, ask string) (time.Time, *fieldError) {
	d, fe := parseDate(v, name, ask)
	if fe != nil {
		return time.Time{}, fe
	}
	hm := strings.TrimSpace(v.Get(name + "-time"))
	tt, err := time.Parse("15:04", hm)
	if err != nil {
		return time.Time{}, &fieldError{Field: name, Message: ask}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), tt.Hour(), tt.Minute(), 0, 0, calendar.London), nil
}

// parseDate reads a London date from name-day, name-month and name-year;
// ask is what to do when they are not one.
func parseDate(v url.Values, name, ask string) (time.Time, *fieldError) {
	var n [3]int
	for i, part := range []string{"day", "month", "year"} {
		x, err := strconv.Atoi(strings.TrimSpace(v.Get(name + "-" + part)))
		if err != nil {
			return time.Time{}, &fieldError{Field: name, Message: ask}
		}
		n[i] = x
	}
	t := time.Date(n[2], time.Month(n[1]), n[0], 0, 0, 0, 0, calendar.London)
	if t.Day() != n[0] || int(t.Month()) != n[1] || n[2] < 1000 {
		return time.Time{}, &fieldError{Field: name, Message: ask}
	}
	return t, nil
}

// check finds every problem a form's answers show before the decider sees
// them, all at once: a question left empty that must be answered, a choice
// the form did not offer, a number or a date that is not one. The words
// are package app's for the command's field (app.Ask).
func check(command string, fields []field, v url.Values) []fieldError {
	var errs []fieldError
	for _, f := range fields {
		ask := app.Ask(command, f.of())
		if ask == "" {
			ask = "Answer this question: " + strings.ToLower(f.Label[:1]) + f.Label[1:]
		}
		if !f.answered(v) {
			if !f.Optional {
				errs = append(errs, fieldError{Field: f.Name, Message: ask})
			}
			continue
		}
		var bad bool
		switch f.Widget {
		case "radios", "select", "checkboxes":
			for _, x := range v[f.Name] {
				bad = bad || (x != "" && !f.offers(x))
			}
		case "number":
			_, err := strconv.Atoi(strings.TrimSpace(v.Get(f.Name)))
			bad = err != nil
		case "date":
			_, fe := parseDate(v, f.Name, ask)
			bad = fe != nil
		case "datetime":
			_, fe := parseDateTime(v, f.Name, ask)
			bad = fe != nil
		}
		if bad {
			errs = append(errs, fieldError{Field: f.Name, Message: ask})
		}
	}
	return errs
}

// answered is true when the form sent anything for the field.
func (f field) answered(v url.Values) bool {
	switch f.Widget {
	case "date", "datetime":
		return strings.TrimSpace(v.Get(f.Name+"-day")+v.Get(f.Name+"-month")+v.Get(f.Name+"-year")+v.Get(f.Name+"-time")) != ""
	case "checkboxes":
		return len(v[f.Name]) > 0
	}
	return strings.TrimSpace(v.Get(f.Name)) != ""
}

// offers is true when x is one of the field's options.
func (f field) offers(x string) bool {
	for _, o := range f.Options {
		if o.Value == x {
			return true
		}
	}
	return false
}

// besides adds the errors of more about fields errs does not name yet.
func besides(errs, more []fieldError) []fieldError {
	for _, m := range more {
		dup := false
		for _, e := range errs {
			dup = dup || (m.Field != "" && e.Field == m.Field)
		}
		if !dup {
			errs = append(errs, m)
		}
	}
	return errs
}

// errorsFor is app.Classify's answer as a form sending command shows it: a
// refusal beside the field it names, in app.Say's words for the person at
// the form, a stale version as its own message, and a form sent twice in
// the form's own words.
func errorsFor(command string, err error) (code int, errs []fieldError, st *stale) {
	o := app.Classify(err)
	switch o.Kind {
	case app.Stale:
		return o.Status, nil, &stale{Seen: o.Stale.Expected, Current: o.Stale.Current, Rota: o.StaleRota}
	case app.KeyReused:
		return o.Status, []fieldError{{Message: "This form was already sent with different answers. Reload the page to start a new one."}}, nil
	case app.Denied:
		var denied *app.Forbidden
		errors.As(err, &denied)
		return o.Status, []fieldError{{Field: o.Field, Message: "You may not " + denied.What}}, nil
	}
	return o.Status, []fieldError{{Field: o.Field, Message: app.Say(command, o)}}, nil
}

// resend shows a form again, as it was sent, with what to put right (or
// why nothing was recorded) and, when the thing changed meanwhile, how to
// see it as it is now.
type resend func(code int, errs []fieldError, st *stale)

// notRecorded answers a command the engine did not record: the form
// again, with the refusal in words. A fault of the service's own is
// logged (msg and args say what was tried); a person's mistake is not.
func (s *Server) notRecorded(show resend, asks string, err error, msg string, args ...any) {
	code, errs, st := errorsFor(asks, err)
	if code >= 500 {
		s.log().Error(msg, append(args, "err", err)...)
	}
	show(code, errs, st)
}

// sent reads who sends a form, its key and the version it was opened at;
// ok is false when the form came incomplete and has been shown again.
func sent(c *call, v url.Values, show resend) (m engine.Meta, ok bool) {
	m, fe := meta(c, v)
	if fe != nil {
		show(http.StatusBadRequest, []fieldError{*fe}, nil)
		return m, false
	}
	return m, true
}

// actor is who a command from the console is recorded as: the signed-in
// person (their role, if the token names nobody), or "console" with
// sign-in off.
func actor(c *call) engine.Meta {
	m := engine.Meta{Actor: "console"}
	if c.Signed {
		m.Actor = c.P.Name
		if m.Actor == "" {
			m.Actor = c.P.Role()
		}
	}
	return m
}

// meta is the command's metadata from the form: who, the idempotency key
// made when the form was shown, and the version it was shown at.
func meta(c *call, v url.Values) (engine.Meta, *fieldError) {
	m := actor(c)
	k := v.Get("key")
	if k == "" || len(k) > 255 || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return m, &fieldError{Message: "This form is incomplete. Reload the page and send it again."}
	}
	m.IdempotencyKey = k
	if vs := v.Get("version"); vs != "" {
		n, err := strconv.Atoi(vs)
		if err != nil || n < 0 {
			return m, &fieldError{Message: "This form is incomplete. Reload the page and send it again."}
		}
		m.ExpectedVersion = &n
	}
	return m, nil
}

// loadReadable loads a referral the caller may read; ok is false when it
// has written the answer.
func (s *Server) loadReadable(w http.ResponseWriter, r *http.Request, c *call, id string) (aggregates.Referral, []eventstore.Stored, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ref, stored, err := s.referrals().Referral(ctx, c.app(), id)
	return ref, stored, s.loaded(w, c, err)
}

// loaded answers a failed read of a referral (none the caller may see, or
// the store's failure) and reports whether the read succeeded.
func (s *Server) loaded(w http.ResponseWriter, c *call, err error) bool {
	switch {
	case errors.Is(err, app.ErrNoReferral):
		s.noReferral(w, c)
		return false
	case err != nil:
		s.unavailable(w, c, err)
		return false
	}
	return true
}

// readRecord reads a child's record as loadReadable does, and records
// the read in the read audit; ok is false when it has written the answer.
func (s *Server) readRecord(w http.ResponseWriter, r *http.Request, c *call, id, view string) (aggregates.Referral, []eventstore.Stored, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ref, stored, err := s.referrals().Read(ctx, c.app(), id, app.ReadOf{View: view, Reason: r.URL.Query().Get("reason")})
	if err == nil {
		return ref, stored, true
	}
	var need *app.ReasonNeeded
	switch {
	case errors.Is(err, app.ErrNoReferral):
		s.noReferral(w, c)
	case errors.As(err, &need):
		s.fail(w, c, http.StatusBadRequest, "Say why you are reading this record", capital(need.Error())+". Add ?reason= and your reason to the address.")
	default:
		s.unavailable(w, c, err)
	}
	return ref, nil, false
}

func (s *Server) actionForm(w http.ResponseWriter, r *http.Request, c *call) {
	if r.PathValue("action") == "allocate" {
		s.allocateForm(w, r, c)
		return
	}
	a, ok := findAction(r.PathValue("action"))
	if !ok {
		s.notFound(w, r, c)
		return
	}
	ref, _, ok := s.loadReadable(w, r, c, r.PathValue("id"))
	if !ok {
		return
	}
	if !a.may(c, ref) {
		s.forbidden(w, c, strings.ToLower(a.Link[:1])+a.Link[1:])
		return
	}
	f := s.formFor(a, c, ref)
	f.Fields = a.Fields(c, ref, s.now())
	s.render(w, http.StatusOK, "form", page{Title: a.Heading, C: c, Data: f})
}

// resent is the form shown again as it was sent: its idempotency key and
// the version it was shown at, and, when the record moved meanwhile, the
// stale notice whose reload is this form again.
func (f *formData) resent(r *http.Request, st *stale) {
	f.Key, f.Version = r.PostForm.Get("key"), r.PostForm.Get("version")
	if st != nil {
		f.Stale = st
		st.Reload = r.URL.Path
	}
}

func (s *Server) formFor(a action, c *call, ref aggregates.Referral) formData {
	f := formData{Heading: a.Heading, Caption: "Referral " + ref.ID, Submit: a.Submit,
		Action: "/console/referrals/" + ref.ID + "/" + a.Name, Back: "/console/referrals/" + ref.ID, BackText: "Back to the referral",
		Key: newKey(), Version: strconv.Itoa(ref.Version)}
	if answering, _ := c.app().Answering(); !app.Accepts(a.Name, ref, answering, s.now()) {
		f.Warning = "This referral is " + strings.ToLower(statusWords[ref.Status]) + ": this action may be refused, and the form will say why."
	}
	return f
}

func (s *Server) action(w http.ResponseWriter, r *http.Request, c *call) {
	if r.PathValue("action") == "allocate" {
		s.allocate(w, r, c)
		return
	}
	a, ok := findAction(r.PathValue("action"))
	if !ok {
		s.notFound(w, r, c)
		return
	}
	id := r.PathValue("id")
	ref, _, ok := s.loadReadable(w, r, c, id)
	if !ok {
		return
	}
	if !a.may(c, ref) {
		s.forbidden(w, c, strings.ToLower(a.Link[:1])+a.Link[1:])
		return
	}
	v := r.PostForm
	show := func(code int, errs []fieldError, st *stale) {
		f := s.formFor(a, c, ref)
		f.resent(r, st)
		f.Fields = fill(a.Fields(c, ref, s.now()), v, errs)
		title := a.Heading
		if len(errs) > 0 || st != nil {
			title = "Error: " + title
		}
		s.render(w, code, "form", page{Title: title, C: c, Errors: errs, Data: f})
	}
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	cmd, cerrs := a.Command(c, v)
	if errs := besides(check(a.Asks, a.Fields(c, ref, s.now()), v), cerrs); len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.referrals().Act(ctx, c.app(), id, a.Name, cmd, m); err != nil {
		s.notRecorded(show, a.Asks, err, "console: command failed", "command", cmd.CommandName(), "referral", id)
		return
	}
	if a.Name == "exception" {
		// The referral goes back to the partnership: the authority no
		// longer sees it.
		http.Redirect(w, r, "/console/at-risk?recorded=exception", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/referrals/"+id+"?recorded="+a.Name, http.StatusSeeOther)
}

// The receive form: a new referral.

func (s *Server) receiveFields(c *call, now time.Time) []field {
	reg := s.reg()
	var mine, all []option
	for _, a := range reg.Authorities() {
		o := option{a.Code, a.Name + " (" + a.Code + ")"}
		all = append(all, o)
		if c.mayWrite(a.Code, reg) {
			mine = append(mine, o)
		}
	}
	recv := field{Name: "receivingAuthority", Label: "Receiving authority", Widget: "select", Options: mine}
	if len(mine) > 1 {
		recv.Options = append([]option{{"", "Choose the receiving authority"}}, mine...)
	} else if len(mine) == 1 {
		recv.Value = mine[0].Value
	}
	return []field{
		recv,
		{Name: "route", Label: "How did the referral come?", Widget: "radios", Options: []option{{events.RouteHotel, "From an interim hotel (5 working days)"}, {events.RouteEntryAuthority, "From an entry authority (10 working days)"}}},
		{Name: "hotel", Label: "Interim hotel", Hint: "Only for referrals from an interim hotel.", Widget: "text", Optional: true},
		{Name: "transferringAuthority", Label: "Transferring authority", Hint: "Only for referrals from an entry authority.", Widget: "select", Optional: true, Options: append([]option{{"", "Not from an entry authority"}}, all...)},
		{Name: "childReference", Label: "Child's reference", Hint: "The Home Office or pseudonymous reference, not the child's name.", Widget: "text"},
		{Name: "claimedAge", Label: "Claimed age", Hint: "In years.", Widget: "number", Optional: true},
		datetimeNow("receivedAt", "When was the referral received?", "London time. For example, 27 3 2026 14:30.", now),
	}
}

func (s *Server) receiveData(c *call) formData {
	return formData{Heading: "Receive a referral", Caption: "New referral", Submit: "Receive the referral",
		Action: "/console/referrals/new", Back: "/console/at-risk", BackText: "Back to the referrals at risk", Key: newKey(),
		Intro: "The deadline starts when the referral is received: 5 working days from an interim hotel, 10 from an entry authority."}
}

func (s *Server) receiveForm(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.writer() {
		s.forbidden(w, c, "receive referrals")
		return
	}
	f := s.receiveData(c)
	f.Fields = s.receiveFields(c, s.now())
	s.render(w, http.StatusOK, "form", page{Title: f.Heading, C: c, Data: f})
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.writer() {
		s.forbidden(w, c, "receive referrals")
		return
	}
	v := r.PostForm
	// A new referral has no version to be stale against: the form is shown
	// again as sent.
	show := func(code int, errs []fieldError, _ *stale) {
		f := s.receiveData(c)
		f.Key = v.Get("key")
		f.Fields = fill(s.receiveFields(c, s.now()), v, errs)
		s.render(w, code, "form", page{Title: "Error: " + f.Heading, C: c, Errors: errs, Data: f})
	}
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	cmd := aggregates.ReceiveReferral{ReceivingAuthority: v.Get("receivingAuthority"), Route: v.Get("route"), Hotel: strings.TrimSpace(v.Get("hotel")),
		TransferringAuthority: v.Get("transferringAuthority"), ChildReference: strings.TrimSpace(v.Get("childReference"))}
	// The route decides which of hotel and transferring authority is asked
	// for; the decider says so too, but only once the rest is right.
	fields := s.receiveFields(c, s.now())
	for i := range fields {
		switch fields[i].Name {
		case "hotel":
			fields[i].Optional = cmd.Route != events.RouteHotel
		case "transferringAuthority":
			fields[i].Optional = cmd.Route != events.RouteEntryAuthority
		}
	}
	if errs := check(cmd.CommandName(), fields, v); len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	if a := strings.TrimSpace(v.Get("claimedAge")); a != "" {
		n, _ := strconv.Atoi(a) // check has read it as a number
		cmd.ClaimedAge = &n
	}
	cmd.ReceivedAt, _ = parseDateTime(v, "receivedAt", "")
	ctx, cancel := s.ctx(r)
	defer cancel()
	out, err := s.referrals().Receive(ctx, c.app(), cmd, m)
	if err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: receive failed")
		return
	}
	http.Redirect(w, r, "/console/referrals/"+out.AggregateID+"?recorded=receive", http.StatusSeeOther)
}
