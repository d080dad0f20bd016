package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
)

// The correction form (rectification): which detail is wrong, the right
// value and why. Who may correct which detail is package app's and the
// decider's; the form offers what app.Referrals.Correction says and sends
// through app.Referrals.Correct, as the API does.

const correctAsks = "correct-child-detail"

// correctFields are the form's questions, offering the details in fields.
func correctFields(fields []string) []field {
	var opts []option
	for _, f := range fields {
		opts = append(opts, option{f, capital(label(f))})
	}
	return []field{
		{Name: "field", Label: "Which detail is wrong?", Widget: "radios", Options: opts},
		{Name: "newValue", Label: "The right value", Hint: "A date of birth as day, month and year, for example 27 3 2010; a sex as female, male or unknown; a nationality as the child's documents give it.", Widget: "text"},
		{Name: "reason", Label: "Why is it wrong, and where does the right value come from?", Hint: "For example, the child's passport. It is kept with the correction, and the old value stays in the history.", Widget: "textarea"},
	}
}

func (s *Server) correctData(c *call, ref aggregates.Referral) formData {
	f := formData{Heading: "Correct a detail about the child", Caption: "Referral " + ref.ID, Submit: "Record the correction",
		Action: "/console/referrals/" + ref.ID + "/correct", Back: "/console/referrals/" + ref.ID, BackText: "Back to the referral",
		Key: newKey(), Version: strconv.Itoa(ref.Version),
		Intro: "The correction stands over what was recorded; the history keeps both."}
	if !c.app().SeesCases() {
		f.Back, f.BackText = "/console/privacy", "Back to data protection"
	}
	return f
}

// correction loads what the caller may correct; ok is false when it has
// written the answer.
func (s *Server) correction(w http.ResponseWriter, r *http.Request, c *call) (aggregates.Referral, []string, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	ref, fields, err := s.referrals().Correction(ctx, c.app(), r.PathValue("id"))
	var denied *app.Forbidden
	if errors.As(err, &denied) {
		s.forbidden(w, c, "correct this child's details")
		return ref, nil, false
	}
	return ref, fields, s.loaded(w, c, err)
}

func (s *Server) correctForm(w http.ResponseWriter, r *http.Request, c *call) {
	ref, fields, ok := s.correction(w, r, c)
	if !ok {
		return
	}
	f := s.correctData(c, ref)
	f.Fields = correctFields(fields)
	s.render(w, http.StatusOK, "form", page{Title: f.Heading, C: c, Data: f})
}

func (s *Server) correct(w http.ResponseWriter, r *http.Request, c *call) {
	ref, fields, ok := s.correction(w, r, c)
	if !ok {
		return
	}
	v := r.PostForm
	show := func(code int, errs []fieldError, st *stale) {
		f := s.correctData(c, ref)
		f.resent(r, st)
		f.Fields = fill(correctFields(fields), v, errs)
		s.render(w, code, "form", page{Title: "Error: " + f.Heading, C: c, Errors: errs, Data: f})
	}
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	// The check knows every correctable detail, not only those offered:
	// one another corrector holds (a form sent from an older page, or
	// altered) reaches the decider, whose refusal says who corrects it.
	errs := check(correctAsks, correctFields(aggregates.CorrectableFields()), v)
	cmd := aggregates.CorrectChildDetail{Field: v.Get("field"), NewValue: strings.TrimSpace(v.Get("newValue")), Reason: strings.TrimSpace(v.Get("reason"))}
	if cmd.Field == aggregates.FieldDateOfBirth && cmd.NewValue != "" {
		d, ok := dayMonthYear(cmd.NewValue)
		if !ok {
			errs = besides(errs, []fieldError{{Field: "newValue", Message: app.Ask(correctAsks, "newValue")}})
		}
		cmd.NewValue = d
	}
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.referrals().Correct(ctx, c.app(), ref.ID, cmd, m); err != nil {
		s.notRecorded(show, correctAsks, err, "console: correction failed", "referral", ref.ID)
		return
	}
	if !c.app().SeesCases() {
		http.Redirect(w, r, "/console/privacy?corrected="+url.QueryEscape(ref.ID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/console/referrals/"+ref.ID+"?recorded=correct", http.StatusSeeOther)
}

// dayMonthYear reads a date as people write it (27 3 2010, 27/3/2010) or
// as the API takes it (2010-03-27), as the API takes it.
func dayMonthYear(s string) (string, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), true
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '/' || r == '.' || r == '-' })
	if len(parts) != 3 {
		return s, false
	}
	v := url.Values{"d-day": {parts[0]}, "d-month": {parts[1]}, "d-year": {parts[2]}}
	t, fe := parseDate(v, "d", "")
	if fe != nil {
		return s, false
	}
	return t.Format(time.DateOnly), true
}
