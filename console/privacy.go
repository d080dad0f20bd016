package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
)

// The data protection officer's page: disposals due, legal holds, subject
// access exports and the read audit.

type privacyData struct {
	Referral, Reader field
	Searched         bool
	Searching        string // in words: "the child of referral X", "Jane's team"
	Reads            []readRow
	Export           []field
	// Correct asks for the referral whose child's detail is wrong.
	Correct field
}

type readRow struct {
	When, Who, Role, Referral, View, Reason string
}

var viewWords = map[string]string{
	app.ViewReferral:      "The referral",
	app.ViewHistory:       "The whole history",
	app.ViewSubjectAccess: "Everything held (subject access export)",
	app.ViewJourney:       "The child's journey",
}

func (s *Server) exportFields(referral, reason string, errs []fieldError) []field {
	fs := []field{
		{Name: "referral", Label: "Referral reference", Hint: "As shown on the referral's page or in the read audit.", Kind: "text", Value: referral},
		{Name: "reason", Label: "Why you are exporting this child's record", Hint: "The request it answers: who asked and when. It is recorded with the export.", Kind: "text", Value: reason},
	}
	for i := range fs {
		for _, e := range errs {
			if e.Field == fs[i].Name || (fs[i].Name == "referral" && e.Field == "") {
				fs[i].Error = e.Message
			}
		}
	}
	return fs
}

func (s *Server) privacyPage(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.app().ProtectsData() {
		s.forbidden(w, c, "see the data protection page")
		return
	}
	d := privacyData{Export: s.exportFields("", "", nil), Correct: correctFinder()}
	q := r.URL.Query()
	d.Referral = field{Name: "read-referral", Label: "Referral reference", Kind: "text", Optional: true, Value: strings.TrimSpace(q.Get("read-referral"))}
	d.Reader = field{Name: "read-reader", Label: "Who read: the name they sign in as", Kind: "text", Optional: true, Value: strings.TrimSpace(q.Get("read-reader"))}
	code := http.StatusOK
	var errs []fieldError
	if q.Has(d.Correct.Name) {
		if id := strings.TrimSpace(q.Get(d.Correct.Name)); id != "" {
			http.Redirect(w, r, "/console/referrals/"+url.PathEscape(id)+"/correct", http.StatusSeeOther)
			return
		}
		d.Correct.Error = "Enter the referral reference of the child whose detail is wrong"
		errs = append(errs, fieldError{Field: d.Correct.Name, Anchor: d.Correct.Name, Message: d.Correct.Error})
		code = http.StatusBadRequest
	}
	if d.Referral.Value != "" || d.Reader.Value != "" {
		d.Searched = true
		switch {
		case d.Referral.Value != "" && d.Reader.Value != "":
			d.Searching = d.Reader.Value + "'s reads of the child of referral " + d.Referral.Value
		case d.Referral.Value != "":
			d.Searching = "who read the record of the child of referral " + d.Referral.Value
		default:
			d.Searching = "what " + d.Reader.Value + " read"
		}
		ctx, cancel := s.ctx(r)
		defer cancel()
		recs, err := s.Reads.Reads(ctx, c.app(), app.ReadsQuery{Referral: d.Referral.Value, Reader: d.Reader.Value})
		if err != nil {
			var fe []fieldError
			code, fe, _ = errorsFor("", err)
			for _, e := range fe {
				if e.Field == "referral" {
					e.Field, e.Anchor = "read-referral", "read-referral"
					d.Referral.Error = e.Message
				}
				errs = append(errs, e)
			}
			d.Searched = false
		}
		for _, rec := range recs {
			who := rec.Actor
			if rec.Person != "" {
				who += " / " + rec.Person
			}
			d.Reads = append(d.Reads, readRow{When: londonSeconds(rec.At), Who: who, Role: rec.Role, Referral: rec.Referral, View: viewWords[rec.View], Reason: rec.Reason})
		}
	}
	p := page{Title: "Data protection", Nav: "privacy", C: c, Errors: errs, Data: d}
	if id := q.Get("corrected"); id != "" {
		p.Notice = "Correction recorded on referral " + id + ": it stands over what was recorded, and the history keeps both."
	}
	s.render(w, code, "privacy", p)
}

// subjectAccess makes the export and sends it as the download: nothing is
// kept on the server, so no second copy of the child's record lies about.
func (s *Server) subjectAccess(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.app().ProtectsData() {
		s.forbidden(w, c, "export a child's record")
		return
	}
	id, reason := strings.TrimSpace(r.PostForm.Get("referral")), strings.TrimSpace(r.PostForm.Get("reason"))
	m := engine.Meta{Actor: "console"}
	if c.Signed {
		m.Actor = c.P.Name
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	var errs []fieldError
	code := http.StatusBadRequest
	if id == "" {
		errs = append(errs, fieldError{Field: "referral", Anchor: "referral", Message: "Enter the referral reference"})
	} else {
		x, err := app.SubjectAccess{Engine: s.Engine, Reads: s.Reads, Now: s.Now}.Export(ctx, c.app(), id, reason, m)
		if err == nil {
			w.Header().Set("Content-Type", "application/zip")
			w.Header().Set("Content-Disposition", `attachment; filename="`+x.Filename+`"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(x.Zip)))
			w.WriteHeader(http.StatusOK)
			w.Write(x.Zip)
			return
		}
		var fe []fieldError
		code, fe, _ = errorsFor("", err)
		for _, e := range fe {
			if e.Field == "" {
				e.Field = "referral"
			}
			e.Anchor = e.Field
			errs = append(errs, e)
		}
		if code >= 500 {
			s.log().Error("console: subject access export", "referral", id, "err", err)
		}
	}
	d := privacyData{Export: s.exportFields(id, reason, errs), Correct: correctFinder(),
		Referral: field{Name: "read-referral", Label: "Referral reference", Kind: "text", Optional: true},
		Reader:   field{Name: "read-reader", Label: "Who read: the name they sign in as", Kind: "text", Optional: true}}
	s.render(w, code, "privacy", page{Title: "Data protection", Nav: "privacy", C: c, Errors: errs, Data: d})
}

func correctFinder() field {
	return field{Name: "correct-referral", Label: "Referral reference", Hint: "As shown in the read audit or on the request.", Kind: "text"}
}
