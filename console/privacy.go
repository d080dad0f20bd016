package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

// The data protection officer's page: disposals due, legal holds, subject
// access exports and the read audit.

type privacyData struct {
	Referral, Reader field
	Searched         bool
	Searching        string // in words: "the child of referral X", "Jane's team"
	Reads            []readRow
	Export           []field
	Records          *recordsData // nil: the records view could not be read
	// Correct asks for the referral whose child's detail is wrong.
	Correct field
	// Find asks for the referral whose record to open (to place a hold).
	Find field
}

// recordsData is the records view in words: disposals due, legal holds and
// the latest disposals.
type recordsData struct {
	Until                  string // London date
	Within                 int
	Due                    []recordRow
	Holds                  []recordRow
	Disposed               []recordRow
	DisposedTotal, Unknown int
	DisposedShown, Overdue int
	Policy                 string
}

// recordRow is one record in one of the lists; a field a list does not
// show is empty.
type recordRow struct {
	Referral, Link, Authority, Rule, Due string
	Overdue                              bool
	Reason, Since                        string
	At, Policy                           string
}

var ruleWords = map[string]string{
	retention.RuleLookedAfter:        "Looked after",
	retention.RuleDiedBeforeEighteen: "Died before 18",
	retention.RuleNeverLookedAfter:   "Never looked after",
}

// dateWords is a London date written YYYY-MM-DD, as people read it.
func dateWords(d string) string {
	if t, err := calendar.ParseDate(d); err == nil {
		return londonDate(t.Start())
	}
	return d
}

// records reads the records view for the page; on failure the page says
// why beside the lists and goes on with the rest.
func (s *Server) records(r *http.Request, c *call) (*recordsData, []fieldError) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	rd, err := s.queries().Records(ctx, c.app(), app.RecordsQuery{}, app.At{Now: s.now})
	if err != nil {
		_, errs, _ := errorsFor("", err)
		for i := range errs {
			errs[i].Field, errs[i].Anchor = "disposals", "disposals"
			errs[i].Message = "The disposals due and the legal holds could not be read: " + errs[i].Message
		}
		return nil, errs
	}
	rep := rd.Result
	d := &recordsData{Until: dateWords(rep.Until), Within: projections.RecordsWithin, DisposedTotal: rep.DisposedTotal, Unknown: rep.Unknown,
		DisposedShown: len(rep.Disposed), Policy: rep.Policy}
	// Each record opens on its own page, where its holds are placed and
	// released.
	link := recordPath
	var reg *refdata.Registry
	if s.Views != nil {
		reg = s.Views.Registry
	}
	name := func(code string) string {
		if code == "" || reg == nil {
			return code
		}
		return authorityName(reg, code)
	}
	for _, x := range rep.Due {
		d.Due = append(d.Due, recordRow{Referral: x.ReferralID, Link: link(x.ReferralID), Authority: name(x.Authority), Rule: ruleWords[x.Rule], Due: dateWords(x.Due), Overdue: x.Overdue})
		if x.Overdue {
			d.Overdue++
		}
	}
	for _, x := range rep.Holds {
		due := "Not known yet"
		if x.Due != "" {
			due = dateWords(x.Due)
		}
		d.Holds = append(d.Holds, recordRow{Referral: x.ReferralID, Link: link(x.ReferralID), Authority: name(x.Authority), Reason: x.Reason, Since: londonTime(x.Since), Due: due})
	}
	for _, x := range rep.Disposed {
		d.Disposed = append(d.Disposed, recordRow{Referral: x.ReferralID, Link: link(x.ReferralID), Authority: name(x.Authority), At: londonTime(x.At), Rule: ruleWords[x.Rule], Policy: x.Policy, Due: dateWords(x.RetainedUntil)})
	}
	return d, nil
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
		{Name: "referral", Label: "Referral reference", Hint: "As shown on the referral's page or in the read audit.", Widget: "text", Value: referral},
		{Name: "reason", Label: "Why you are exporting this child's record", Hint: "The request it answers: who asked and when. It is recorded with the export.", Widget: "text", Value: reason},
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
	d := privacyData{Export: s.exportFields("", "", nil), Correct: correctFinder(), Find: recordFinder()}
	var errs []fieldError
	d.Records, errs = s.records(r, c)
	q := r.URL.Query()
	d.Referral = field{Name: "read-referral", Label: "Referral reference", Widget: "text", Optional: true, Value: strings.TrimSpace(q.Get("read-referral"))}
	d.Reader = field{Name: "read-reader", Label: "Who read: the name they sign in as", Widget: "text", Optional: true, Value: strings.TrimSpace(q.Get("read-reader"))}
	code := http.StatusOK
	if q.Has(d.Correct.Name) {
		if id := strings.TrimSpace(q.Get(d.Correct.Name)); id != "" {
			http.Redirect(w, r, "/console/referrals/"+url.PathEscape(id)+"/correct", http.StatusSeeOther)
			return
		}
		d.Correct.Error = "Enter the referral reference of the child whose detail is wrong"
		errs = append(errs, fieldError{Field: d.Correct.Name, Anchor: d.Correct.Name, Message: d.Correct.Error})
		code = http.StatusBadRequest
	}
	if q.Has(d.Find.Name) {
		if id := strings.TrimSpace(q.Get(d.Find.Name)); id != "" {
			http.Redirect(w, r, recordPath(id), http.StatusSeeOther)
			return
		}
		d.Find.Error = "Enter the referral reference of the child whose record to open"
		errs = append(errs, fieldError{Field: d.Find.Name, Anchor: d.Find.Name, Message: d.Find.Error})
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
	m := actor(c)
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
	d := privacyData{Export: s.exportFields(id, reason, errs), Correct: correctFinder(), Find: recordFinder(),
		Referral: field{Name: "read-referral", Label: "Referral reference", Widget: "text", Optional: true},
		Reader:   field{Name: "read-reader", Label: "Who read: the name they sign in as", Widget: "text", Optional: true}}
	d.Records, _ = s.records(r, c)
	s.render(w, code, "privacy", page{Title: "Data protection", Nav: "privacy", C: c, Errors: errs, Data: d})
}

func correctFinder() field {
	return field{Name: "correct-referral", Label: "Referral reference", Hint: "As shown in the read audit or on the request.", Widget: "text"}
}

func recordFinder() field {
	return field{Name: "record-referral", Label: "Referral reference", Hint: "The record of the child of this referral opens, to place or release a legal hold.", Widget: "text"}
}
