package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// The children in care after the transfer: the list of every child the
// authority has received (package app's Queries.Children, the API's GET
// /v1/children too), one child's journey from referral to leaving care
// (app's Referrals.Journey), the care forms a team leader needs there
// (app's Referrals.Care, as the API's care routes) and the safeguarding
// list (app's Queries.Safeguarding, the API's GET /v1/safeguarding).

// careWords are the care statuses as people say them, with the tag colour
// each gets: a child missing now is red wherever they are listed.
var careWords = map[string][2]string{
	projections.CareMissing:           {"Missing now", "red"},
	projections.CareReturned:          {"Returned, interview to offer", "orange"},
	projections.CareAwaitingPlacement: {"Awaiting placement", "blue"},
	projections.CarePlaced:            {"Placed", "green"},
	projections.CareLeaverStatus:      {"Care leaver", "purple"},
	projections.CareLeftCare:          {"Left care", "grey"},
	projections.CareWithdrawn:         {"Withdrawn", "grey"},
}

func careTag(status string) tag {
	w, ok := careWords[status]
	if !ok {
		return tag{status, status, "grey"}
	}
	return tag{status, w[0], w[1]}
}

var dueNames = map[string]string{
	projections.DuePlacement:      "Placement deadline",
	projections.DueStrategy:       "Strategy discussion",
	projections.DueInterview:      "Return interview",
	projections.DueLeavingCare:    "Leaving-care team at 16",
	projections.DueTriplePlanning: "Triple planning at 17 and a half",
	projections.DueEighteen:       "Care leaver at 18",
}

// workingDaysWords says the view's working days left as people say them.
func workingDaysWords(n int, overdue bool) string {
	switch {
	case overdue && n == 0:
		return "overdue"
	case overdue || n < 0:
		return plural(-n, "working day") + " overdue"
	case n == 0:
		return "due today"
	}
	return plural(n, "working day") + " left"
}

func childLink(child, referral string) string {
	return "/console/children/" + urlPathEscape(child) + "?referral=" + urlQueryEscape(referral)
}

// The list.

type childrenData struct {
	Scope                                scope
	Heading, Child, CareStatus, Problem  string
	Statuses                             []option
	Rows                                 []childRow
	Total, Missing, Overdue, Unallocated int
	Sequence                             uint64
	ShowAuthority                        bool
	Updated                              string
	SearchField                          field
}

type childRow struct {
	ID, Child, Link, Authority, Worker, Received string
	Due, DueWhen, DueLeft                        string
	Overdue, Missing                             bool
	MissingSince                                 string
	Tag                                          tag
}

func (s *Server) childrenPage(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.seesChild() {
		s.forbidden(w, c, "see the children in care")
		return
	}
	asked, problem := s.askedScope(r)
	q := r.URL.Query()
	d := childrenData{Problem: problem, Child: strings.TrimSpace(q.Get("child")), CareStatus: q.Get("status")}
	for _, st := range projections.CareStatuses {
		d.Statuses = append(d.Statuses, option{st, careTag(st).Text})
	}
	if d.CareStatus != "" && !slices.Contains(projections.CareStatuses, d.CareStatus) {
		d.Problem, d.CareStatus = "There is no care status called "+d.CareStatus, ""
	}
	var errs []fieldError
	d.SearchField = field{Name: "child", Label: "Search by child's reference", Hint: "The start of the reference is enough, for example HO-2026.", Widget: "text", Optional: true, Value: d.Child}
	if problem := app.ChildSearchProblem(d.Child); problem != "" {
		errs = []fieldError{{Field: "child", Anchor: "child", Message: capital(problem)}}
		d.SearchField.Error, d.Child = errs[0].Message, ""
	}
	now := s.now()
	rd, sc, err := s.queries().Children(r.Context(), c.app(), app.ChildrenQuery{Scope: asked, Child: d.Child, CareStatus: d.CareStatus, Page: true}, at(now))
	d.Scope = scope(sc)
	if !s.viewRead(w, c, "children", err) {
		return
	}
	rep := rd.Result
	d.Sequence, d.Total, d.Missing, d.Overdue, d.Unallocated = rd.Sequence, rep.Total, rep.MissingNow, rep.OverdueNow, rep.Unallocated
	d.ShowAuthority = sc.Authority == ""
	d.Heading = s.scopeHeading(sc)
	for _, ch := range rep.Children {
		row := childRow{ID: ch.ReferralID, Child: ch.ChildReference, Link: childLink(ch.ChildReference, ch.ReferralID), Authority: authorityName(s.reg(), ch.Authority),
			Worker: ch.SocialWorker, Received: londonDate(ch.ReceivedAt), Tag: careTag(ch.CareStatus), Missing: ch.CareStatus == projections.CareMissing,
			MissingSince: londonTime(ch.MissingSince)}
		if row.Worker == "" {
			row.Worker = "None allocated"
		} else if ch.SocialWorkerLeft {
			row.Worker += " (left: reallocate)"
		}
		if n := ch.NextDue; n != nil {
			row.Due, row.DueWhen, row.DueLeft, row.Overdue = dueNames[n.What], londonTime(n.At), workingDaysWords(n.WorkingDaysLeft, n.Overdue), n.Overdue
		}
		d.Rows = append(d.Rows, row)
	}
	d.Updated = londonSeconds(now)
	if len(errs) > 0 {
		s.render(w, http.StatusBadRequest, "children", page{Title: "Error: Children in our care", Nav: "children", C: c, Errors: errs, Data: d})
		return
	}
	s.render(w, http.StatusOK, "children", page{Title: "Children in our care", Nav: "children", C: c, Data: d})
}

// The journey.

type journeyData struct {
	Child, ID, Authority, Status, Received, Placed, PlacementType string
	Worker, CareStatus                                            string
	Tag                                                           tag
	Missing                                                       *episodeRow
	Choices                                                       []childRow
	Timeline                                                      []timelineItem
	Workers                                                       []workerRow
	Episodes                                                      []episodeRow
	Milestones                                                    []milestoneRow
	DateOfBirth                                                   string
	CareActions                                                   []careAction
	ReferralActions                                               bool
}

type workerRow struct{ Name, From, How string }

type episodeRow struct {
	N                                                      int
	MissingAt, Missed, Told, Strategy, Returned, Interview string
	StrategyTag, InterviewTag                              tag
}

type milestoneRow struct {
	What, When, Left string
	Tag              tag
}

func (s *Server) journey(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.seesChild() {
		s.forbidden(w, c, "see a child's journey")
		return
	}
	child := r.PathValue("child")
	id := r.URL.Query().Get("referral")
	ctx, cancel := s.ctx(r)
	defer cancel()
	now := s.now()
	if id == "" {
		// A reference alone: the children view resolves it, and a
		// reference used for two children is asked about, never guessed.
		rows, err := s.queries().ChildNamed(ctx, c.app(), child, at(now))
		switch {
		case !s.viewRead(w, c, "children", err):
			return
		case len(rows) == 0:
			s.fail(w, c, http.StatusNotFound, "There is no child with this reference", "Check the reference. A child of another authority (or region) is not shown to you, and a child received a moment ago shows here within seconds.")
			return
		case len(rows) > 1:
			d := journeyData{Child: child}
			for _, ch := range rows {
				d.Choices = append(d.Choices, childRow{ID: ch.ReferralID, Child: ch.ChildReference, Link: childLink(ch.ChildReference, ch.ReferralID),
					Authority: authorityName(s.reg(), ch.Authority), Received: londonDate(ch.ReceivedAt), Tag: careTag(ch.CareStatus)})
			}
			s.render(w, http.StatusOK, "journey", page{Title: "More than one child with the reference " + child, Nav: "children", C: c, Data: d})
			return
		}
		id = rows[0].ReferralID
	}
	j, err := s.referrals().Journey(ctx, c.app(), id, app.ReadOf{View: app.ViewJourney, Reason: r.URL.Query().Get("reason")})
	if !s.loaded(w, c, err) {
		return
	}
	ref := j.Referral
	if !strings.EqualFold(ref.ChildReference, child) {
		// The address names a referral of another child: the reference
		// is the page's, so it is no page.
		s.fail(w, c, http.StatusNotFound, "There is no child with this reference", "The referral in the address is not this child's. Go to the children in our care and choose the child again.")
		return
	}
	d := s.journeyOf(c, j, now)
	p := page{Title: "The journey of " + d.Child, Nav: "children", C: c, Data: d}
	if a, ok := findCareAction(r.URL.Query().Get("recorded")); ok {
		p.Notice = a.Notice
	}
	s.render(w, http.StatusOK, "journey", p)
}

func (s *Server) journeyOf(c *call, j app.Journey, now time.Time) journeyData {
	ref, care, reg := j.Referral, j.Care, s.reg()
	d := journeyData{Child: ref.ChildReference, ID: ref.ID, Authority: authorityName(reg, ref.ReceivingAuthority), Status: statusWords[ref.Status],
		Received: londonTime(ref.ReceivedAt), Placed: londonTime(ref.PlacedAt), PlacementType: placementType(ref.PlacementType), Worker: "None allocated"}
	status := careStatusOf(ref, care)
	d.Tag, d.CareStatus = careTag(status), careTag(status).Text
	d.Timeline = s.timeline(ref, j.Stored)
	for _, sp := range j.Workers {
		wr := workerRow{Name: sp.Name, From: londonTime(sp.From), How: "By the rota"}
		if sp.Chosen {
			wr.How = "Chosen by the team leader"
			if sp.Reason != "" {
				wr.How += ": " + sp.Reason
			}
		}
		if sp.Left {
			wr.Name += " (has left)"
		}
		d.Workers = append(d.Workers, wr)
		d.Worker = wr.Name
	}
	for _, ep := range care.Episodes {
		er := s.episodeRow(ep, now)
		d.Episodes = append(d.Episodes, er)
		if !ep.Returned {
			m := er
			d.Missing = &m
		}
	}
	slices.Reverse(d.Episodes)
	if care.DateOfBirth != "" {
		d.DateOfBirth = care.DateOfBirth
		if t, err := time.Parse(time.DateOnly, care.DateOfBirth); err == nil {
			d.DateOfBirth = t.Format("2 January 2006")
		}
		switch care.DOBBasis {
		case events.DOBAssessed:
			d.DateOfBirth += " (assessed)"
		case events.DOBCorrected:
			d.DateOfBirth += " (corrected)"
		}
		d.Milestones = []milestoneRow{
			s.milestone("16: the leaving-care team joins and a pathway plan begins", care.SixteenAt, care.LeavingCareInvolved, now),
			s.milestone("17 and a half: triple planning for each immigration outcome", care.TriplePlanningAt, care.TriplePlanned, now),
			s.milestone("18: a care leaver", care.EighteenAt, care.CareLeaver, now),
		}
		if care.LeavingCareInvolved && !care.PathwayPlanDueAt.IsZero() {
			d.Milestones[0].What += " (pathway plan due " + londonDate(care.PathwayPlanDueAt) + ")"
		}
	}
	offered := c.app().CareActions(ref, care, s.careFacts(), now)
	for _, a := range careActions {
		if slices.Contains(offered, a.Name) {
			d.CareActions = append(d.CareActions, a)
		}
	}
	d.ReferralActions = len(c.app().Actions(ref, now)) > 0
	return d
}

// careStatusOf is the child's care status as the children view gives it,
// from the aggregates themselves: the page reads them, not the view.
func careStatusOf(ref aggregates.Referral, care aggregates.Care) string {
	last, any := care.Episode(0)
	return projections.CareStatus(ref.Status, any && !last.Returned, any && !last.Offered, care.CareLeaver)
}

func (s *Server) episodeRow(ep aggregates.Episode, now time.Time) episodeRow {
	er := episodeRow{N: ep.N, MissingAt: londonTime(ep.MissingAt), Told: "Not yet recorded"}
	if len(ep.Notified) > 0 {
		told := make([]string, len(ep.Notified))
		for i, p := range ep.Notified {
			told[i] = p
			if w, ok := partyWords[p]; ok {
				told[i] = w
			}
		}
		er.Told = capital(strings.Join(told, " and "))
	}
	end := now
	if ep.Returned {
		end = ep.ReturnedAt
		er.Returned = londonTime(ep.ReturnedAt)
	}
	er.Missed = plural(int(end.Sub(ep.MissingAt).Hours()), "hour")
	switch {
	case ep.StrategyHeld:
		er.Strategy, er.StrategyTag = "Held "+londonTime(ep.StrategyHeldAt), tag{"held", "Held", "green"}
	case ep.StrategyOverdue || now.After(ep.StrategyDueAt):
		er.Strategy, er.StrategyTag = "Was due "+londonTime(ep.StrategyDueAt), tag{"overdue", "Overdue", "red"}
	default:
		er.Strategy, er.StrategyTag = "Due by "+londonTime(ep.StrategyDueAt), tag{"due", "Due", "blue"}
	}
	switch {
	case !ep.Returned:
		er.Interview, er.InterviewTag = "Offered within 72 hours of the return", tag{"waiting", "After the return", "grey"}
	case ep.Offered && ep.OfferedInTime:
		er.Interview, er.InterviewTag = "Offered "+londonTime(ep.OfferedAt), tag{"in-time", "Offered in time", "green"}
	case ep.Offered:
		er.Interview, er.InterviewTag = "Offered late, "+londonTime(ep.OfferedAt)+" (was due "+londonTime(ep.InterviewDueAt)+")", tag{"late", "Offered late", "red"}
	case ep.Breached || now.After(ep.InterviewDueAt):
		er.Interview, er.InterviewTag = "Was due "+londonTime(ep.InterviewDueAt), tag{"breached", "Overdue", "red"}
	case !now.Before(ep.InterviewWarnAt):
		er.Interview, er.InterviewTag = "Due by "+londonTime(ep.InterviewDueAt), tag{"at-risk", "Due soon", "orange"}
	default:
		er.Interview, er.InterviewTag = "Due by "+londonTime(ep.InterviewDueAt), tag{"on-track", "Due", "blue"}
	}
	return er
}

func (s *Server) milestone(what string, when time.Time, done bool, now time.Time) milestoneRow {
	m := milestoneRow{What: what, When: londonDate(when)}
	today, day := calendar.DateOf(now), calendar.DateOf(when)
	switch {
	case done:
		m.Tag = tag{"done", "Done", "green"}
	case now.After(when):
		m.Tag, m.Left = tag{"overdue", "Overdue", "red"}, plural(s.cal().WorkingDaysBetween(day, today), "working day")+" overdue"
	default:
		m.Tag, m.Left = tag{"due", "To come", "blue"}, plural(s.cal().WorkingDaysBetween(today, day), "working day")+" left"
	}
	return m
}

// The care forms.

// careAction is one care action's form. Whether it can be taken now is
// package app's to say (Caller.CareActions, a dry run of the care
// decider); the form is served either way and the decider's refusal says
// why not.
type careAction struct {
	Name, Link, Heading, Submit, Notice string
	Fields                              func(now time.Time) []field
	Command                             func(v url.Values) (aggregates.CareCommand, []fieldError)
}

var attendeeOptions = []option{{"police", "Police"}, {"social-care", "Children's social care"}, {"health", "Health"}, {"education", "Education"}, {"safeguarding-hub", "The multi-agency safeguarding hub"}}

var careActions = []careAction{
	{
		Name: app.ActReportMissing, Link: "Record that the child is missing", Heading: "Record that the child is missing", Submit: "Record the child missing",
		Notice: "Missing episode recorded. The police and the safeguarding hub are told at once, and the strategy discussion's time runs.",
		Fields: func(now time.Time) []field {
			return []field{
				datetimeNow("missingAt", "When did the child go missing?", "London time. For example, 27 3 2026 21:30.", now),
				{Name: "lastSeen", Label: "Where and when was the child last seen?", Widget: "textarea"},
				{Name: "policeReference", Label: "Police reference", Hint: "Tell the police at once, and give the reference they gave you.", Widget: "text"},
			}
		},
		Command: func(v url.Values) (aggregates.CareCommand, []fieldError) {
			t, fe := parseDateTime(v, "missingAt", "The time the child went missing")
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			return aggregates.ReportMissing{MissingAt: t, LastSeen: strings.TrimSpace(v.Get("lastSeen")), PoliceReference: strings.TrimSpace(v.Get("policeReference"))}, nil
		},
	},
	{
		Name: app.ActReturned, Link: "Record the child's return", Heading: "Record the child's return", Submit: "Record the return",
		Notice: "Return recorded. Offer an independent return interview within 72 hours.",
		Fields: func(now time.Time) []field {
			return []field{
				datetimeNow("returnedAt", "When did the child return, or when were they found?", "London time. For example, 28 3 2026 09:15.", now),
				{Name: "whereFound", Label: "Where was the child found, or where did they return to?", Widget: "textarea"},
			}
		},
		Command: func(v url.Values) (aggregates.CareCommand, []fieldError) {
			t, fe := parseDateTime(v, "returnedAt", "The time of the return")
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			return aggregates.RecordReturn{ReturnedAt: t, WhereFound: strings.TrimSpace(v.Get("whereFound"))}, nil
		},
	},
	{
		Name: app.ActStrategy, Link: "Record the strategy discussion", Heading: "Record the strategy discussion", Submit: "Record the discussion",
		Notice: "Strategy discussion recorded.",
		Fields: func(now time.Time) []field {
			return []field{
				datetimeNow("heldAt", "When was the strategy discussion held?", "London time. For example, 28 3 2026 10:00.", now),
				{Name: "attendees", Label: "Who took part?", Hint: "Select every profession at the discussion.", Widget: "checkboxes", Options: attendeeOptions},
			}
		},
		Command: func(v url.Values) (aggregates.CareCommand, []fieldError) {
			t, fe := parseDateTime(v, "heldAt", "The time of the discussion")
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			if len(v["attendees"]) == 0 {
				return nil, []fieldError{{Field: "attendees", Message: "Select who took part in the discussion"}}
			}
			return aggregates.RecordStrategyDiscussion{HeldAt: t, Attendees: v["attendees"]}, nil
		},
	},
	{
		Name: app.ActInterview, Link: "Record the return interview offered", Heading: "Record the return interview offered", Submit: "Record the offer",
		Notice: "Return interview offer recorded.",
		Fields: func(now time.Time) []field {
			return []field{
				datetimeNow("offeredAt", "When was the return interview offered?", "London time. For example, 29 3 2026 11:00.", now),
				{Name: "offeredBy", Label: "Who offered it?", Hint: "The guidance asks for an independent person, for example an advocate.", Widget: "text"},
				{Name: "accepted", Label: "Did the child accept the interview?", Widget: "radios", Options: []option{{"yes", "Yes"}, {"no", "No"}}},
			}
		},
		Command: func(v url.Values) (aggregates.CareCommand, []fieldError) {
			t, fe := parseDateTime(v, "offeredAt", "The time of the offer")
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			acc := v.Get("accepted")
			if acc != "yes" && acc != "no" {
				return nil, []fieldError{{Field: "accepted", Message: "Select whether the child accepted the interview"}}
			}
			return aggregates.RecordReturnInterview{OfferedAt: t, OfferedBy: strings.TrimSpace(v.Get("offeredBy")), Accepted: acc == "yes"}, nil
		},
	},
	{
		Name: app.ActDateOfBirth, Link: "Record the date of birth", Heading: "Record the child's date of birth", Submit: "Record the date of birth",
		Notice: "Date of birth recorded: the leaving-care milestones at 16, 17 and a half and 18 are set from it.",
		Fields: func(now time.Time) []field {
			return []field{{Name: "dateOfBirth", Label: "What is the child's date of birth?", Hint: "As the Home Office records it. For example, 27 3 2010. An age assessment's date stands over this one.", Widget: "date"}}
		},
		Command: func(v url.Values) (aggregates.CareCommand, []fieldError) {
			t, fe := parseDate(v, "dateOfBirth", "The date of birth")
			if fe != nil {
				return nil, []fieldError{*fe}
			}
			return aggregates.SetDateOfBirth{DateOfBirth: t.Format(time.DateOnly)}, nil
		},
	},
}

// partyWords are the parties told of a missing child, as people say them.
var partyWords = map[string]string{events.PartyPolice: "the police", events.PartySafeguardingHub: "the safeguarding hub"}

func findCareAction(name string) (careAction, bool) {
	for _, a := range careActions {
		if a.Name == name {
			return a, true
		}
	}
	return careAction{}, false
}

func (s *Server) safeguardingPolicy() safeguarding.Policy {
	if s.SafeguardingPolicy != nil {
		return *s.SafeguardingPolicy
	}
	return safeguarding.DefaultPolicy()
}

func (s *Server) careFacts() app.CareFacts {
	return app.CareFacts{Authorities: s.reg(), Rules: s.safeguardingPolicy().Rules()}
}

func (s *Server) careFormData(a careAction, j app.Journey) formData {
	f := formData{Heading: a.Heading, Caption: "Child " + j.Referral.ChildReference, Submit: a.Submit,
		Action: "/console/referrals/" + j.Referral.ID + "/care/" + a.Name, Back: childLink(j.Referral.ChildReference, j.Referral.ID), BackText: "Back to the child's journey",
		Key: newKey(), Version: strconv.Itoa(j.Care.Version)}
	if !app.AcceptsCare(a.Name, j.Referral, j.Care, s.careFacts(), s.now()) {
		f.Warning = "This action may be refused now, and the form will say why."
	}
	return f
}

// careForm and careSend serve one care action's form: the caller must read
// the child (app's Journey) and may change the child's care (app decides
// when the command is sent).
func (s *Server) careForm(w http.ResponseWriter, r *http.Request, c *call) {
	a, j, ok := s.careRequest(w, r, c)
	if !ok {
		return
	}
	f := s.careFormData(a, j)
	f.Fields = a.Fields(s.now())
	s.render(w, http.StatusOK, "form", page{Title: a.Heading, Nav: "children", C: c, Data: f})
}

func (s *Server) careSend(w http.ResponseWriter, r *http.Request, c *call) {
	a, j, ok := s.careRequest(w, r, c)
	if !ok {
		return
	}
	v := r.PostForm
	show := func(code int, errs []fieldError, st *stale) {
		f := s.careFormData(a, j)
		f.resent(r, st)
		f.Fields = fill(a.Fields(s.now()), v, errs)
		s.render(w, code, "form", page{Title: "Error: " + a.Heading, Nav: "children", C: c, Errors: errs, Data: f})
	}
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	cmd, errs := a.Command(v)
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.referrals().Care(ctx, c.app(), j.Referral.ID, cmd, s.careFacts().Complete, m); err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: care command failed", "command", cmd.CommandName(), "referral", j.Referral.ID)
		return
	}
	http.Redirect(w, r, childLink(j.Referral.ChildReference, j.Referral.ID)+"&recorded="+a.Name, http.StatusSeeOther)
}

// careRequest reads a care form's action and the child's journey; ok is
// false when it has written the answer. The role's refusal comes first, so
// a form the role may not send is not shown; whether the child's state
// allows it is the decider's to say when it is sent.
func (s *Server) careRequest(w http.ResponseWriter, r *http.Request, c *call) (careAction, app.Journey, bool) {
	a, ok := findCareAction(r.PathValue("action"))
	if !ok {
		s.notFound(w, r, c)
		return a, app.Journey{}, false
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	j, err := s.referrals().Journey(ctx, c.app(), r.PathValue("id"), app.ReadOf{View: app.ViewJourney})
	if !s.loaded(w, c, err) {
		return a, j, false
	}
	if !c.app().ChangesReferral(j.Referral) {
		s.forbidden(w, c, strings.ToLower(a.Link[:1])+a.Link[1:])
		return a, j, false
	}
	return a, j, true
}

// Safeguarding.

type safeguardingData struct {
	Heading                        string
	Missing                        []missingRow
	Returned                       []returnedRow
	Total                          projections.SafeguardingRow
	Share, MedianHours, AlertHours string
	Sequence                       uint64
	Updated                        string
}

type missingRow struct {
	Child, Link, Authority, Since, Hours, StrategyDue string
	OverAlert, Early                                  bool
	Strategy                                          tag
}

type returnedRow struct {
	Child, Link, Authority, Returned, Due, Left string
	State                                       tag
}

func (s *Server) safeguardingPage(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	ctx, cancel := s.ctx(r)
	defer cancel()
	rd, err := s.queries().Safeguarding(ctx, c.app(), app.Scope{}, at(now))
	if !s.viewRead(w, c, "safeguarding", err) {
		return
	}
	rep := rd.Result
	// The child's reference is the link for those who see it; auditors
	// follow the referral.
	refs := map[string]string{}
	if c.seesChild() {
		if ch, _, err := s.queries().Children(ctx, c.app(), app.ChildrenQuery{Page: true}, at(now)); err == nil {
			for _, row := range ch.Result.Children {
				refs[row.ReferralID] = row.ChildReference
			}
		}
	}
	link := func(id string) (string, string) {
		if ref := refs[id]; ref != "" {
			return ref, childLink(ref, id)
		}
		return "Referral " + id, "/console/referrals/" + id
	}
	d := safeguardingData{Total: rep.Total, Share: percent(rep.Total.ShareInTime), Sequence: rd.Sequence, Updated: londonSeconds(now),
		AlertHours: plural(int(rep.AlertAfterHours), "hour")}
	d.MedianHours = "none returned yet"
	if m := rep.Total.MedianHoursMissing; m != nil {
		d.MedianHours = plural(int(*m), "hour")
	}
	// Overdue clocks first: the strategy discussion overdue, then missing
	// past the alert time, then the view's order (longest missing); the
	// return interviews overdue, then due soon, then the view's order
	// (due soonest).
	rank := func(m projections.MissingNow) int {
		switch {
		case m.StrategyDiscussion == projections.StrategyOverdue:
			return 0
		case m.OverAlert:
			return 1
		}
		return 2
	}
	missing := slices.Clone(rep.MissingNow)
	sort.SliceStable(missing, func(a, b int) bool { return rank(missing[a]) < rank(missing[b]) })
	for _, m := range missing {
		row := missingRow{Authority: authorityName(s.reg(), m.Authority), Since: londonTime(m.MissingAt), Hours: plural(int(m.HoursMissing), "hour"),
			StrategyDue: londonTime(m.StrategyDueAt), OverAlert: m.OverAlert, Early: m.Early, Strategy: clockTags[m.StrategyDiscussion]}
		row.Child, row.Link = link(m.ReferralID)
		d.Missing = append(d.Missing, row)
	}
	states := map[string]int{projections.InterviewBreached: 0, projections.InterviewAtRisk: 1, projections.InterviewOnTrack: 2}
	due := slices.Clone(rep.InterviewsDue)
	sort.SliceStable(due, func(a, b int) bool { return states[due[a].State] < states[due[b].State] })
	for _, i := range due {
		row := returnedRow{Authority: authorityName(s.reg(), i.Authority), Returned: londonTime(i.ReturnedAt), Due: londonTime(i.DueAt), Left: timeLeft(s.cal(), i.DueAt, now),
			State: clockTags[i.State]}
		row.Child, row.Link = link(i.ReferralID)
		d.Returned = append(d.Returned, row)
	}
	d.Heading = s.scopeHeading(c.app().PageScope(app.Scope{}, s.reg()))
	s.render(w, http.StatusOK, "safeguarding", page{Title: "Safeguarding", Nav: "safeguarding", C: c, Data: d})
}

// clockTags are the safeguarding view's states of a clock as tags.
var clockTags = map[string]tag{
	projections.StrategyHeld:      {projections.StrategyHeld, "Held", "green"},
	projections.StrategyDue:       {projections.StrategyDue, "Due", "blue"},
	projections.StrategyOverdue:   {projections.StrategyOverdue, "Overdue", "red"},
	projections.InterviewOnTrack:  {projections.InterviewOnTrack, "Due", "blue"},
	projections.InterviewAtRisk:   {projections.InterviewAtRisk, "Due soon", "orange"},
	projections.InterviewBreached: {projections.InterviewBreached, "Overdue", "red"},
}

// scopeHeading names what a page covers.
func (s *Server) scopeHeading(sc app.Scope) string {
	switch {
	case sc.Authority != "":
		return authorityName(s.reg(), sc.Authority)
	case sc.Region != "":
		return sc.Region + " region"
	}
	return "England"
}

// viewRead answers a failed read of a view (none on this instance, or the
// store's failure) and reports whether the read succeeded.
func (s *Server) viewRead(w http.ResponseWriter, c *call, view string, err error) bool {
	switch {
	case errors.Is(err, app.ErrNoViews):
		s.fail(w, c, http.StatusServiceUnavailable, "No "+view+" view here", "This instance serves no views.")
		return false
	case err != nil:
		s.unavailable(w, c, err)
		return false
	}
	return true
}
