package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
)

// A child's record as the data protection officer keeps it: the legal
// hold in force, the holds before, until when the record is kept, and
// the form that places or releases a hold. Who may see and do this is
// package app's (app.Records, as the API calls it); the page only asks.

type recordData struct {
	Referral, ReferralLink string
	Held                   bool
	HoldReason, HoldSince  string
	// Kept is until when the record is kept (London date) and by which
	// rule and policy; "" when that cannot be known yet.
	Kept, Rule, Policy string
	Disposed           bool
	DisposedAt         string
	History            []holdRow
	// Form is the hold's form; nil once the record is disposed of.
	Form *formData
}

type holdRow struct {
	What, Reason, Who, When string
}

// recordsUseCase is app.Records with the retention policy the views
// compute due dates by, so the page and the records list agree.
func (s *Server) recordsUseCase() app.Records {
	u := app.Records{Engine: s.Engine}
	if s.Views != nil {
		p := s.Views.RetentionPolicy
		u.Policy = &p
	}
	return u
}

func recordPath(id string) string { return "/console/privacy/records/" + url.PathEscape(id) }

// holdAsks is the command a hold form sends, whose fields app words.
func holdAsks(hold bool) string {
	if hold {
		return aggregates.PlaceLegalHold{}.CommandName()
	}
	return aggregates.ReleaseLegalHold{}.CommandName()
}

func holdFields(hold bool) []field {
	if hold {
		return []field{{Name: "reason", Label: "Why must this record be kept?", Hint: "The inquiry, claim or complaint that needs it, and who asked. It is kept with the hold and shown on the data protection page.", Widget: "textarea"}}
	}
	return []field{{Name: "reason", Label: "Why can the hold be lifted?", Hint: "For example, the inquiry has reported. Once released, the record is disposed of when its retention ends, at once if that date has passed.", Widget: "textarea"}}
}

func (s *Server) holdForm(cr app.ChildRecord) *formData {
	if cr.Record.Disposed {
		return nil
	}
	f := &formData{Heading: "Place a legal hold", Submit: "Place the legal hold", Action: recordPath(cr.ReferralID) + "/legal-hold",
		Key: newKey(), Version: strconv.Itoa(cr.Record.Version), Fields: holdFields(true)}
	if cr.Record.Held {
		f.Heading, f.Submit, f.Action, f.Fields = "Release the legal hold", "Release the legal hold", recordPath(cr.ReferralID)+"/legal-hold/release", holdFields(false)
	}
	return f
}

func (s *Server) recordData(c *call, cr app.ChildRecord) recordData {
	rec := cr.Record
	d := recordData{Referral: cr.ReferralID, Held: rec.Held, HoldReason: rec.HoldReason, Disposed: rec.Disposed, Form: s.holdForm(cr)}
	if c.app().SeesCases() {
		d.ReferralLink = "/console/referrals/" + url.PathEscape(cr.ReferralID)
	}
	if rec.Disposed {
		d.DisposedAt, d.Rule, d.Policy = londonTime(rec.DisposedAt), ruleWords[rec.Rule], rec.Policy
	} else if cr.Kept != nil {
		d.Kept, d.Rule, d.Policy = dateWords(cr.Kept.Until.String()), ruleWords[cr.Kept.Rule], cr.Policy
	}
	for _, h := range cr.Holds {
		row := holdRow{What: "Released", Reason: h.Reason, Who: h.Actor, When: londonTime(h.At)}
		if h.Placed {
			row.What = "Placed"
			if rec.Held {
				d.HoldSince = row.When
			}
		}
		d.History = append(d.History, row)
	}
	// Newest first, as every list of changes on the console reads.
	for i, j := 0, len(d.History)-1; i < j; i, j = i+1, j-1 {
		d.History[i], d.History[j] = d.History[j], d.History[i]
	}
	return d
}

// childRecord reads the record for the page; ok is false when it has
// written the answer.
func (s *Server) childRecord(w http.ResponseWriter, r *http.Request, c *call) (app.ChildRecord, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	cr, err := s.recordsUseCase().Record(ctx, c.app(), r.PathValue("id"))
	var denied *app.Forbidden
	if errors.As(err, &denied) {
		s.forbidden(w, c, "see how a child's record is kept")
		return cr, false
	}
	return cr, s.loaded(w, c, err)
}

func (s *Server) recordPage(w http.ResponseWriter, r *http.Request, c *call) {
	cr, ok := s.childRecord(w, r, c)
	if !ok {
		return
	}
	p := page{Title: "Child's record " + cr.ReferralID, Nav: "privacy", C: c, Data: s.recordData(c, cr)}
	switch r.URL.Query().Get("recorded") {
	case "hold":
		p.Notice = "Legal hold placed: the record will not be disposed of while it is in force."
	case "release":
		p.Notice = "Legal hold released: the record is disposed of when its retention ends, at once if that date has passed."
	}
	s.render(w, http.StatusOK, "record", p)
}

// holdSend places (hold) or releases a legal hold from the record's
// form, through the use case the API calls.
func (s *Server) holdSend(hold bool) func(w http.ResponseWriter, r *http.Request, c *call) {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		id, v, asks := r.PathValue("id"), r.PostForm, holdAsks(hold)
		m, fe := meta(c, v)
		var errs []fieldError
		var st *stale
		code := http.StatusBadRequest
		if fe != nil {
			errs = []fieldError{*fe}
		} else if errs = check(asks, holdFields(hold), v); len(errs) > 0 {
			code = http.StatusUnprocessableEntity
		} else {
			ctx, cancel := s.ctx(r)
			_, err := s.recordsUseCase().Hold(ctx, c.app(), id, hold, strings.TrimSpace(v.Get("reason")), m)
			cancel()
			var denied *app.Forbidden
			switch {
			case err == nil:
				recorded := "release"
				if hold {
					recorded = "hold"
				}
				http.Redirect(w, r, recordPath(id)+"?recorded="+recorded, http.StatusSeeOther)
				return
			case errors.As(err, &denied):
				s.forbidden(w, c, "place or release legal holds")
				return
			case errors.Is(err, app.ErrNoReferral):
				s.noReferral(w, c)
				return
			}
			code, errs, st = errorsFor(asks, err)
			if code >= 500 {
				s.log().Error("console: legal hold", "referral", id, "err", err)
			}
		}
		cr, ok := s.childRecord(w, r, c)
		if !ok {
			return
		}
		d := s.recordData(c, cr)
		// The form as it was sent, whichever the record now asks for: a
		// person who meant to release reads why it was not released.
		f := s.holdForm(app.ChildRecord{ReferralID: cr.ReferralID, Record: aggregates.Record{Held: !hold}})
		f.resent(r, st)
		if st != nil {
			st.Reload = recordPath(id)
		}
		f.Fields = fill(holdFields(hold), v, errs)
		d.Form = f
		s.render(w, code, "record", page{Title: "Error: Child's record " + cr.ReferralID, Nav: "privacy", C: c, Errors: errs, Data: d})
	}
}
