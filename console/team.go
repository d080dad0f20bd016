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
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

// The receiving authority's team: its social workers in rota order with
// their caseloads (the unaccompanied children allocated here and the
// others), whom the rota gives the next child to and whom it passes over
// (the team's rule run dry by app.Teams.Roster, never worked out here),
// the children waiting for a worker, and the forms of the API's team
// commands over the same use cases.

func (s *Server) teams() app.Teams {
	return app.Teams{Engine: s.Engine, Views: s.Views, Authorities: s.reg()}
}

// chooseData is the page that asks which authority a page is about, for
// the roles that may see more than one.
type chooseData struct {
	Heading, Intro, Action string
	Field                  field
	Problem                string
}

// authorityHome sends an authority's caller to its own page (path is what
// follows /console/authorities/{code}), and asks the others which
// authority, among those ok allows.
func (s *Server) authorityHome(w http.ResponseWriter, r *http.Request, c *call, heading, nav, path string, ok func(code string) bool) {
	if own, mine := c.app().OwnAuthority(); mine {
		http.Redirect(w, r, "/console/authorities/"+own+path, http.StatusSeeOther)
		return
	}
	d := chooseData{Heading: heading, Intro: "Choose the authority.", Action: r.URL.Path}
	if q := r.URL.Query().Get("authority"); q != "" {
		if code, known := s.reg().Canonical(q); known && ok(code) {
			http.Redirect(w, r, "/console/authorities/"+code+path, http.StatusSeeOther)
			return
		}
		d.Problem = "Choose an authority from the list"
	}
	var opts []option
	for _, a := range s.reg().Authorities() {
		if ok(a.Code) {
			opts = append(opts, option{a.Code, a.Name})
		}
	}
	d.Field = field{Name: "authority", Label: "Authority", Widget: "select", Options: append([]option{{"", "Choose an authority"}}, opts...), Error: d.Problem}
	var errs []fieldError
	if d.Problem != "" {
		errs = []fieldError{{Field: "authority", Anchor: "authority", Message: d.Problem}}
	}
	s.render(w, http.StatusOK, "choose", page{Title: heading, Nav: nav, C: c, Errors: errs, Data: d})
}

func (s *Server) teamHome(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.app().SeesTeams() {
		s.forbidden(w, c, "see a team's social workers; the authority does")
		return
	}
	s.authorityHome(w, r, c, "Team and caseloads", "team", "/team", c.app().ReadsTeam)
}

// authorityCode is the authority a page's path names, by its current code;
// ok is false when it has written the answer.
func (s *Server) authorityCode(w http.ResponseWriter, r *http.Request, c *call) (string, bool) {
	code, ok := s.reg().Canonical(r.PathValue("code"))
	if !ok {
		s.fail(w, c, http.StatusNotFound, "There is no authority with this code", "Check the address: an authority is named by its ONS code, such as E08000007.")
		return "", false
	}
	if code != r.PathValue("code") {
		// An earlier code: the page lives at the current one.
		http.Redirect(w, r, strings.Replace(r.URL.Path, r.PathValue("code"), code, 1), http.StatusSeeOther)
		return "", false
	}
	return code, true
}

// cannot answers a use case's failure that leaves nothing to show: the
// role may not, or the store did not answer.
func (s *Server) cannot(w http.ResponseWriter, c *call, err error) {
	var denied *app.Forbidden
	if errors.As(err, &denied) {
		s.forbidden(w, c, denied.What)
		return
	}
	s.unavailable(w, c, err)
}

type caseloadRow struct {
	Position                            int
	StaffID, Name                       string
	Unaccompanied, Other, Caseload, Cap int
	Status                              string
	Tags                                []tag
	Left, MayChange                     bool
}

type waitingRow struct {
	ID, Child, Status, Left string
}

type teamData struct {
	Code, Name string
	Version    int
	Next       string
	Proposal   string
	NoProposal string
	Skipped    []string
	Workers    []caseloadRow
	Children   []waitingRow
	MayChange  bool
	Updated    string
	// Reallocation says what became of a leaver's children.
	Reallocation []string
}

func (s *Server) teamPage(w http.ResponseWriter, r *http.Request, c *call) {
	code, ok := s.authorityCode(w, r, c)
	if !ok {
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	now := s.now()
	ro, err := s.teams().Roster(ctx, c.app(), code, now)
	if err != nil {
		s.cannot(w, c, err)
		return
	}
	d := teamData{Code: code, Name: authorityName(s.reg(), code), Version: ro.Team.Version, MayChange: c.app().ChangesAuthority(code), Updated: londonSeconds(now)}
	names := map[string]string{}
	for _, wk := range ro.Workers {
		names[wk.StaffID] = wk.Name
	}
	if ro.Next != "" {
		d.Next = names[ro.Next]
	}
	if ro.Proposal != nil {
		d.Proposal = names[ro.Proposal.StaffID]
		for _, sk := range ro.Proposal.Skipped {
			d.Skipped = append(d.Skipped, names[sk.StaffID]+": "+workerSkipWords(ro, sk.StaffID, sk.Reason))
		}
	} else {
		d.NoProposal = capital(refusalMessage(ro.NoProposal))
		for _, wk := range ro.Workers {
			if wk.PassedOver != "" {
				d.Skipped = append(d.Skipped, wk.Name+": "+workerSkipWords(ro, wk.StaffID, wk.PassedOver))
			}
		}
	}
	for _, wk := range ro.Workers {
		row := caseloadRow{Position: wk.Position, StaffID: wk.StaffID, Name: wk.Name, Unaccompanied: wk.Unaccompanied, Other: wk.Other,
			Caseload: wk.Caseload, Cap: wk.CaseloadCap, Left: wk.Left, MayChange: d.MayChange && !wk.Left}
		switch {
		case wk.Left:
			row.Status = "Left the team: no longer on the rota"
			row.Tags = append(row.Tags, tag{State: "left", Text: "Left", Colour: "grey"})
		case ro.Proposal != nil && ro.Proposal.StaffID == wk.StaffID:
			row.Status = "Gets the next child"
			row.Tags = append(row.Tags, tag{State: "next", Text: "Next child", Colour: "green"})
		case wk.PassedOver != "":
			row.Status = "Passed over: " + workerSkipWords(ro, wk.StaffID, wk.PassedOver)
		default:
			row.Status = "On the rota"
		}
		if wk.AwayNow && !wk.Left {
			row.Tags = append(row.Tags, tag{State: "away", Text: "Away", Colour: "yellow"})
		}
		if wk.PassedOver == events.SkipWorkerAtCap {
			row.Tags = append(row.Tags, tag{State: "at-cap", Text: "At caseload cap", Colour: "orange"})
		}
		d.Workers = append(d.Workers, row)
	}
	for _, ch := range ro.ToAllocate {
		row := waitingRow{ID: ch.ReferralID, Status: statusWords[ch.Status]}
		if c.seesChild() {
			row.Child = ch.ChildReference
		}
		if ch.LeftWorker != "" {
			row.Left = names[ch.LeftWorker]
		}
		if row.Child == "" {
			row.Child = ch.ReferralID
		}
		d.Children = append(d.Children, row)
	}
	notice := ""
	q := r.URL.Query()
	switch q.Get("recorded") {
	case "worker":
		notice = "Social worker: recorded."
	case "details":
		notice = names[q.Get("staff")] + "'s details: recorded."
	case "away":
		notice = "Absence: recorded. The rota passes over " + names[q.Get("staff")] + " until they are back."
	case "leaving":
		notice = "Leaving: recorded. " + names[q.Get("staff")] + " is no longer on the rota."
		for _, id := range q["moved"] {
			child, to := s.childAndWorker(r, c, id, ro)
			d.Reallocation = append(d.Reallocation, child+" is now with "+to)
		}
		if n := len(q["stuck"]); n > 0 {
			d.Reallocation = append(d.Reallocation, capital(plural(n, "child"))+" could not be reallocated by the rota: see the children waiting for a social worker below")
		}
	case "allocate":
		child, to := s.childAndWorker(r, c, q.Get("child"), ro)
		notice = "Social worker allocated: " + child + " is now with " + to + "."
	}
	s.render(w, http.StatusOK, "team", page{Title: "Team and caseloads, " + d.Name, Nav: "team", C: c, Notice: notice, Data: d})
}

// childAndWorker names a child (its reference) and its social worker now,
// for a notice.
func (s *Server) childAndWorker(r *http.Request, c *call, id string, ro app.Roster) (child, worker string) {
	child, worker = id, "their new social worker"
	if refs := s.childReferences(r, c, []string{id}); len(refs) == 1 {
		child = refs[0]
	}
	if staff, ok := ro.Team.Cases[id]; ok {
		worker = ro.Team.Workers[staff].Name
	}
	return child, worker
}

// workerSkipWords says why the rota passes a worker over, in words.
func workerSkipWords(ro app.Roster, staffID, reason string) string {
	w := ro.Team.Workers[staffID]
	switch reason {
	case events.SkipWorkerAway:
		s := "away until " + londonDate(w.AwayUntil)
		if w.AwayReason != "" {
			s += " (" + w.AwayReason + ")"
		}
		return s
	case events.SkipWorkerAtCap:
		return "at their caseload cap (" + strconv.Itoa(w.Caseload()) + " of " + plural(w.CaseloadCap, "child") + ")"
	}
	return reason
}

// teamForm is a form about the team or the authority's settings: the
// form's own fields and where the stale message sends the person.
type teamForm struct {
	formData
	// About names what changed under a stale form: "team", "authority's
	// settings".
	About string
	// Children lists the children a leaver's form is about.
	Children []string
}

func (s *Server) renderTeamForm(w http.ResponseWriter, c *call, code int, nav string, f teamForm, errs []fieldError) {
	title := f.Heading
	if len(errs) > 0 || f.Stale != nil {
		title = "Error: " + title
	}
	s.render(w, code, "teamform", page{Title: title, Nav: nav, C: c, Errors: errs, Data: f})
}

// showErrors renders f again with what the person sent, each error beside
// its field, or the stale message.
func (s *Server) showErrors(w http.ResponseWriter, r *http.Request, c *call, nav string, f teamForm, v url.Values, code int, errs []fieldError, st *stale) {
	f.Key, f.Version = v.Get("key"), v.Get("version")
	if st != nil {
		f.Stale, st.Reload = st, r.URL.Path
	}
	f.Fields = fill(f.Fields, v, errs)
	s.renderTeamForm(w, c, code, nav, f, errs)
}

// The worker form: add a social worker to the rota.

func workerFields() []field {
	return []field{
		{Name: "staffId", Label: "Staff ID", Hint: "The worker's staff number or another ID your authority uses: letters, numbers, hyphens or underscores.", Widget: "text"},
		{Name: "name", Label: "Name", Hint: "As the team knows them, for example Jo Smith.", Widget: "text", Autocomplete: "off"},
		{Name: "caseloadCap", Label: "Caseload cap", Hint: "The most children this worker should hold, from 1 to 100. The rota passes over a worker at their cap.", Widget: "number"},
		{Name: "otherCases", Label: "Other children on their caseload", Hint: "Children they hold besides the unaccompanied children allocated here. Leave empty for none.", Widget: "number", Optional: true},
	}
}

func (s *Server) workerFormData(code string, version int) teamForm {
	return teamForm{About: "team", formData: formData{Heading: "Add a social worker", Caption: "Team and caseloads, " + authorityName(s.reg(), code),
		Intro: "The worker joins the end of the rota.", Submit: "Add the social worker",
		Action: "/console/authorities/" + code + "/team/workers/new", Back: "/console/authorities/" + code + "/team", BackText: "Back to the team",
		Key: newKey(), Version: strconv.Itoa(version), Fields: workerFields()}}
}

// pathTeam loads, for a form, the team of the authority the path names;
// ok is false when it has written the answer.
func (s *Server) pathTeam(w http.ResponseWriter, r *http.Request, c *call) (string, aggregates.Team, bool) {
	code, ok := s.authorityCode(w, r, c)
	if !ok {
		return "", aggregates.Team{}, false
	}
	t, ok := s.teamFor(w, r, c, code)
	return code, t, ok
}

// teamFor loads the team for a form; ok is false when it has written the
// answer.
func (s *Server) teamFor(w http.ResponseWriter, r *http.Request, c *call, code string) (aggregates.Team, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	if !c.app().ChangesAuthority(code) {
		s.forbidden(w, c, "change the social workers of "+authorityName(s.reg(), code)+"; the authority does")
		return aggregates.Team{}, false
	}
	t, err := s.teams().Team(ctx, c.app(), code)
	if err != nil {
		s.cannot(w, c, err)
		return t, false
	}
	return t, true
}

func (s *Server) workerForm(w http.ResponseWriter, r *http.Request, c *call) {
	code, t, ok := s.pathTeam(w, r, c)
	if !ok {
		return
	}
	s.renderTeamForm(w, c, http.StatusOK, "team", s.workerFormData(code, t.Version), nil)
}

// wholeNumber reads a whole number from a form; blank gives def when
// optional.
func wholeNumber(v url.Values, name string, optional bool, def int, msg string, errs *[]fieldError) int {
	x := strings.TrimSpace(v.Get(name))
	if x == "" && optional {
		return def
	}
	n, err := strconv.Atoi(x)
	if err != nil {
		*errs = append(*errs, fieldError{Field: name, Message: msg})
	}
	return n
}

// required adds an error when the field is empty; what is said is the
// form's own, so that every empty answer is shown at once, before the
// rules are asked about the rest.
func required(v url.Values, name, msg string, errs *[]fieldError) string {
	x := strings.TrimSpace(v.Get(name))
	if x == "" {
		*errs = append(*errs, fieldError{Field: name, Message: msg})
	}
	return x
}

func (s *Server) workerAdd(w http.ResponseWriter, r *http.Request, c *call) {
	code, t, ok := s.pathTeam(w, r, c)
	if !ok {
		return
	}
	v := r.PostForm
	f := s.workerFormData(code, t.Version)
	show := func(status int, errs []fieldError, st *stale) { s.showErrors(w, r, c, "team", f, v, status, errs, st) }
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	var errs []fieldError
	staff := required(v, "staffId", "Enter the worker's staff ID", &errs)
	if wk, known := t.Workers[staff]; known && staff != "" {
		// The API's PUT would change that worker: this form only adds.
		errs = append(errs, fieldError{Field: "staffId", Message: "The team already has a worker with staff ID " + staff + " (" + wk.Name + "): give the new worker their own ID"})
	}
	cmd, more := workerDetails(v)
	if errs = append(errs, more...); len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.teams().Change(ctx, c.app(), code, staff, cmd, m); err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: add a worker failed", "about", code)
		return
	}
	http.Redirect(w, r, "/console/authorities/"+code+"/team?recorded=worker", http.StatusSeeOther)
}

// workerDetails reads a worker's name, caseload cap and other children,
// with every empty or malformed answer at once.
func workerDetails(v url.Values) (aggregates.SetWorker, []fieldError) {
	var errs []fieldError
	cmd := aggregates.SetWorker{Name: required(v, "name", "Enter the worker's name", &errs)}
	if strings.TrimSpace(v.Get("caseloadCap")) == "" {
		errs = append(errs, fieldError{Field: "caseloadCap", Message: "Enter the caseload cap, as a whole number such as 12"})
	} else {
		cp := wholeNumber(v, "caseloadCap", false, 0, "Enter the caseload cap as a whole number, such as 12", &errs)
		cmd.CaseloadCap = &cp
	}
	cmd.OtherCases = wholeNumber(v, "otherCases", true, 0, "Enter the other children as a whole number, such as 0 or 5", &errs)
	return cmd, errs
}

// The worker's own forms: an absence, and leaving.

func (s *Server) workerChangeData(code string, t aggregates.Team, wk aggregates.Worker, change string, now time.Time) (teamForm, bool) {
	base := "/console/authorities/" + code + "/team"
	f := teamForm{About: "team", formData: formData{Caption: wk.Name + ", " + authorityName(s.reg(), code),
		Action: base + "/workers/" + url.PathEscape(wk.StaffID) + "/" + change, Back: base, BackText: "Back to the team",
		Key: newKey(), Version: strconv.Itoa(t.Version)}}
	switch change {
	case "details":
		f.Heading, f.Submit = "Change "+wk.Name+"'s details", "Save the details"
		f.Intro = "The rota passes over a worker at their caseload cap: the children allocated here and the other children on their caseload together."
		f.Fields = workerFields()[1:]
		f.Fields[0].Value, f.Fields[1].Value, f.Fields[2].Value = wk.Name, strconv.Itoa(wk.CaseloadCap), strconv.Itoa(wk.OtherCases)
	case "away":
		f.Heading, f.Submit = "Record an absence", "Record the absence"
		f.Intro = "While " + wk.Name + " is away the rota passes them over; their children stay with them."
		f.Fields = []field{
			{Name: "until", Label: "Away until the end of", Hint: "The last day they are away. For example, " + exampleDate(now) + ".", Widget: "date"},
			{Name: "reason", Label: "Why are they away?", Hint: "For example, annual leave, training or sickness.", Widget: "textarea"},
		}
	case "leaving":
		f.Heading, f.Submit = "Record that "+wk.Name+" left the team", "Record the leaving"
		f.Intro = wk.Name + " comes off the rota for good."
		for _, id := range wk.Children {
			f.Children = append(f.Children, id)
		}
		if len(wk.Children) > 0 {
			need := " need"
			if len(wk.Children) == 1 {
				need = " needs"
			}
			f.Intro += " " + capital(plural(len(wk.Children), "child")) + " on their caseload" + need + " another social worker."
			f.Fields = []field{{Name: "reallocate", Label: "How should their children be reallocated?", Widget: "radios", Value: "rota",
				Options: []option{{"rota", "Now, each to the rota's next social worker"}, {"later", "Later, one by one from the team page"}}}}
		}
	default:
		return f, false
	}
	return f, true
}

func exampleDate(now time.Time) string {
	return now.In(calendar.London).AddDate(0, 0, 14).Format("2 1 2006")
}

// workerFor loads the team and the worker a path names; ok is false when
// it has written the answer.
func (s *Server) workerFor(w http.ResponseWriter, r *http.Request, c *call) (code string, t aggregates.Team, wk aggregates.Worker, ok bool) {
	if code, t, ok = s.pathTeam(w, r, c); !ok {
		return
	}
	wk, known := t.Workers[r.PathValue("staffId")]
	if !known {
		s.fail(w, c, http.StatusNotFound, "There is no social worker with this staff ID", "Check the address, or go back to the team page: the worker may not have been added yet.")
		return code, t, wk, false
	}
	return code, t, wk, true
}

func (s *Server) workerChangeForm(w http.ResponseWriter, r *http.Request, c *call) {
	code, t, wk, ok := s.workerFor(w, r, c)
	if !ok {
		return
	}
	f, ok := s.workerChangeData(code, t, wk, r.PathValue("change"), s.now())
	if !ok {
		s.notFound(w, r, c)
		return
	}
	if wk.Left {
		f.Warning = wk.Name + " left the team: this will be refused, and the form will say why."
	}
	f.Children = s.childReferences(r, c, f.Children)
	s.renderTeamForm(w, c, http.StatusOK, "team", f, nil)
}

// childReferences are the children's references, for a person to read,
// where the role sees them (else their referral ids); a child the caller
// may not read keeps its id.
func (s *Server) childReferences(r *http.Request, c *call, ids []string) []string {
	ctx, cancel := s.ctx(r)
	defer cancel()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if !c.seesChild() {
			continue
		}
		if ref, _, err := s.referrals().Referral(ctx, c.app(), id); err == nil && ref.ChildReference != "" {
			out[i] = ref.ChildReference
		}
	}
	return out
}

func (s *Server) workerChange(w http.ResponseWriter, r *http.Request, c *call) {
	code, t, wk, ok := s.workerFor(w, r, c)
	if !ok {
		return
	}
	change := r.PathValue("change")
	now := s.now()
	f, ok := s.workerChangeData(code, t, wk, change, now)
	if !ok {
		s.notFound(w, r, c)
		return
	}
	f.Children = s.childReferences(r, c, f.Children)
	v := r.PostForm
	show := func(status int, errs []fieldError, st *stale) { s.showErrors(w, r, c, "team", f, v, status, errs, st) }
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	back := "/console/authorities/" + code + "/team?staff=" + url.QueryEscape(wk.StaffID) + "&recorded=" + change
	switch change {
	case "details":
		cmd, errs := workerDetails(v)
		if len(errs) > 0 {
			show(http.StatusUnprocessableEntity, errs, nil)
			return
		}
		if _, err := s.teams().Change(ctx, c.app(), code, wk.StaffID, cmd, m); err != nil {
			s.notRecorded(show, cmd.CommandName(), err, "console: change a worker failed", "about", code)
			return
		}
	case "away":
		var errs []fieldError
		day, dfe := parseDate(v, "until", "The last day away")
		if dfe != nil {
			errs = append(errs, *dfe)
		}
		reason := required(v, "reason", "Say why they are away, for example annual leave", &errs)
		if len(errs) > 0 {
			show(http.StatusUnprocessableEntity, errs, nil)
			return
		}
		cmd := aggregates.MarkWorkerAway{Until: calendar.DateOf(day).End().UTC(), Reason: reason}
		if _, err := s.teams().Change(ctx, c.app(), code, wk.StaffID, cmd, m); err != nil {
			s.notRecorded(show, cmd.CommandName(), err, "console: record an absence failed", "about", code)
			return
		}
	case "leaving":
		how := v.Get("reallocate")
		if len(wk.Children) > 0 && how != "rota" && how != "later" {
			show(http.StatusUnprocessableEntity, []fieldError{{Field: "reallocate", Message: "Choose when their children are reallocated: now by the rota, or later one by one"}}, nil)
			return
		}
		_, moved, err := s.teams().Leave(ctx, c.app(), code, wk.StaffID, how == "rota", m)
		if err != nil {
			s.notRecorded(show, "", err, "console: record a leaver failed", "about", code)
			return
		}
		for _, mv := range moved {
			if mv.Err != nil {
				back += "&stuck=" + url.QueryEscape(mv.ReferralID)
				continue
			}
			back += "&moved=" + url.QueryEscape(mv.ReferralID)
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// The child's social worker: by the rota, or a worker the team leader
// chooses with a reason.

func (s *Server) childWorkerData(ref aggregates.Referral, ro app.Roster, now time.Time) teamForm {
	code := ref.ReceivingAuthority
	child := ref.ChildReference
	if child == "" {
		child = ref.ID
	}
	f := teamForm{About: "team", formData: formData{Heading: "Allocate a social worker", Caption: "Child " + child + ", " + authorityName(s.reg(), code),
		Submit: "Allocate the social worker", Action: "/console/team/children/" + ref.ID,
		Back: "/console/authorities/" + code + "/team", BackText: "Back to the team", Key: newKey(), Version: strconv.Itoa(ro.Team.Version)}}
	names := map[string]string{}
	var workers []option
	for _, wk := range ro.Workers {
		names[wk.StaffID] = wk.Name
		if !wk.Left {
			workers = append(workers, option{wk.StaffID, wk.Name + " (" + strconv.Itoa(wk.Caseload) + " of " + plural(wk.CaseloadCap, "child") + ")"})
		}
	}
	rotaText := "By the rota (it has no social worker to give the child to now)"
	if ro.Proposal != nil {
		rotaText = "By the rota: " + names[ro.Proposal.StaffID]
		f.Intro = "The rota gives the next child to " + names[ro.Proposal.StaffID] + "."
		for _, sk := range ro.Proposal.Skipped {
			f.Skipped = append(f.Skipped, names[sk.StaffID]+": "+workerSkipWords(ro, sk.StaffID, sk.Reason))
		}
	} else {
		f.Intro = capital(refusalMessage(ro.NoProposal)) + "."
	}
	reasonHint := "Only when you choose a worker. For example, an experienced practitioner for these needs, or a shared language."
	reasonOptional := true
	if prev, ok := ro.Team.Cases[ref.ID]; ok {
		f.Warning = "The child's social worker is " + names[prev] + ". Reallocating needs a reason."
		if ro.Team.Workers[prev].Left {
			f.Warning = names[prev] + ", the child's social worker, left the team. Reallocating needs a reason."
		}
		reasonHint, reasonOptional = "For example, their social worker left the team.", false
	}
	f.Fields = []field{
		{Name: "mode", Label: "How do you allocate this child?", Widget: "radios", Value: "rota",
			Options: []option{{"rota", rotaText}, {"choose", "Choose a social worker, with a reason"}}},
		{Name: "staffId", Label: "Social worker", Hint: "Only when you choose. Choosing does not move the rota.", Widget: "select", Optional: true,
			Options: append([]option{{"", "Choose a social worker"}}, workers...)},
		{Name: "reason", Label: "Why?", Hint: reasonHint, Widget: "textarea", Optional: reasonOptional},
	}
	return f
}

// childWorkerContext loads the child and its authority's roster; ok is
// false when it has written the answer.
func (s *Server) childWorkerContext(w http.ResponseWriter, r *http.Request, c *call) (aggregates.Referral, app.Roster, bool) {
	ref, _, ok := s.loadReadable(w, r, c, r.PathValue("id"))
	if !ok {
		return ref, app.Roster{}, false
	}
	if ref.ReceivingAuthority == "" {
		s.fail(w, c, http.StatusConflict, "No authority has received this child yet", "A social worker is allocated once an authority has received or accepted the child.")
		return ref, app.Roster{}, false
	}
	if !c.app().ChangesAuthority(ref.ReceivingAuthority) {
		s.forbidden(w, c, "allocate a social worker; the receiving authority's team leader does")
		return ref, app.Roster{}, false
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ro, err := s.teams().Roster(ctx, c.app(), ref.ReceivingAuthority, s.now())
	if err != nil {
		s.cannot(w, c, err)
		return ref, ro, false
	}
	return ref, ro, true
}

func (s *Server) childWorkerForm(w http.ResponseWriter, r *http.Request, c *call) {
	ref, ro, ok := s.childWorkerContext(w, r, c)
	if !ok {
		return
	}
	s.renderTeamForm(w, c, http.StatusOK, "team", s.childWorkerData(ref, ro, s.now()), nil)
}

func (s *Server) childWorker(w http.ResponseWriter, r *http.Request, c *call) {
	ref, ro, ok := s.childWorkerContext(w, r, c)
	if !ok {
		return
	}
	v := r.PostForm
	f := s.childWorkerData(ref, ro, s.now())
	show := func(status int, errs []fieldError, st *stale) { s.showErrors(w, r, c, "team", f, v, status, errs, st) }
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	cmd := aggregates.AllocateWorker{Reason: strings.TrimSpace(v.Get("reason"))}
	var errs []fieldError
	switch v.Get("mode") {
	case "rota":
	case "choose":
		cmd.StaffID = required(v, "staffId", "Choose the social worker, or allocate by the rota", &errs)
		required(v, "reason", "Say why you choose this social worker", &errs)
	default:
		errs = append(errs, fieldError{Field: "mode", Message: "Choose how to allocate the child: by the rota, or a social worker you choose"})
	}
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.referrals().AllocateWorker(ctx, c.app(), ref.ID, cmd, m); err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: allocate a social worker failed", "about", ref.ID)
		return
	}
	http.Redirect(w, r, "/console/authorities/"+ref.ReceivingAuthority+"/team?recorded=allocate&child="+url.QueryEscape(ref.ID), http.StatusSeeOther)
}
