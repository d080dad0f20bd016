package console

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// scope is what a page covers: the page asks package app's queries for
// the region or authority in its address, and shows the part app narrows
// it to (an authority sees its own, a region its region, auditors, and
// everyone with sign-in off, what they ask for).
type scope struct {
	Region, Authority string
	// Fixed is true when the role fixes the scope (no choice to offer).
	Fixed bool
}

// askedScope reads the scope a page's address asks for; problem says, in
// words, what in it names nothing.
func (s *Server) askedScope(r *http.Request) (asked app.Scope, problem string) {
	q := r.URL.Query()
	if v := q.Get("region"); v != "" {
		name, ok := refdata.RegionByName(v)
		if !ok {
			return asked, "There is no region called " + v
		}
		asked.Region = name
	}
	if v := q.Get("authority"); v != "" {
		code, ok := s.reg().Canonical(v)
		if !ok {
			return asked, v + " is not an authority with children's services"
		}
		asked.Authority = code
	}
	return asked, ""
}

func (s *Server) queries() app.Queries { return app.Queries{Views: s.Views} }

// at is a page's read: the live view, its report made at now.
func at(now time.Time) app.At { return app.At{Now: func() time.Time { return now }} }

// The at-risk list.

type atRiskData struct {
	Scope        scope
	Regions      []option
	Authorities  []option
	States       []option
	State        string
	Rows         []atRiskRow
	Total        int
	Shown        int
	ShowChild    bool
	Sequence     uint64
	RefreshEvery int
	Updated      string
	Query        string
	Problem      string
	// Child is the child's reference searched for.
	Child string
}

type atRiskRow struct {
	ID, Child, Authority, Route, Received, Due, Left, Who string
	Tag                                                   tag
}

const atRiskLimit = 200

func (s *Server) atRisk(w http.ResponseWriter, r *http.Request, c *call) {
	if c.app().OnlyProtectsData() {
		http.Redirect(w, r, "/console/privacy", http.StatusSeeOther)
		return
	}
	d := atRiskData{ShowChild: c.seesChild(), RefreshEvery: int(s.refresh().Seconds()), Query: r.URL.RawQuery}
	asked, problem := s.askedScope(r)
	d.Problem = problem
	d.State = r.URL.Query().Get("state")
	if d.ShowChild {
		d.Child = strings.TrimSpace(r.URL.Query().Get("child"))
	}
	for _, st := range []string{aggregates.StateAtRisk, aggregates.StateBreached, aggregates.StateOnTrack, aggregates.StatePending} {
		d.States = append(d.States, option{st, stateTag(st).Text})
	}
	if d.State != "" && !contains([]string{aggregates.StateAtRisk, aggregates.StateBreached, aggregates.StateOnTrack, aggregates.StatePending}, d.State) {
		d.Problem, d.State = "There is no deadline state called "+d.State, ""
	}
	now := s.now()
	rd, sc, err := s.queries().Referrals(r.Context(), c.app(), app.ReferralQuery{Scope: asked, Filter: projections.ReferralFilter{DeadlineState: d.State, Child: d.Child}, Running: true, Page: true}, at(now))
	d.Scope = scope(sc)
	d.Regions, d.Authorities = s.placeOptions(sc)
	switch {
	case errors.Is(err, app.ErrNoViews):
		d.Problem = "This instance serves no views."
	case err != nil:
		s.unavailable(w, c, err)
		return
	default:
		// Running referrals (open, and those awaiting allocation or the
		// authority's answer), nearest deadline first: app's at-risk list.
		rows := rd.Result.Referrals
		d.Sequence = rd.Sequence
		d.Total = len(rows)
		if len(rows) > atRiskLimit {
			rows = rows[:atRiskLimit]
		}
		d.Shown = len(rows)
		for _, row := range rows {
			ar := atRiskRow{ID: row.ReferralID, Child: row.ChildReference, Authority: authorityName(s.reg(), row.Authority), Route: routeWords[row.Route],
				Received: londonDate(row.ReceivedAt), Due: capital(dueWords(row.DueAt)), Left: timeLeft(s.cal(), row.DueAt, now),
				Tag: stateTag(row.DeadlineState), Who: whoWords(row.EscalatedTo)}
			switch aggregates.Status(row.Status) {
			case aggregates.StatusAwaitingAllocation:
				ar.Authority = "Awaiting allocation (" + row.Region + ")"
			case aggregates.StatusAwaitingAcceptance:
				ar.Authority = "Allocated to " + authorityName(s.reg(), row.AllocatedTo) + ", answer awaited"
			}
			if row.DueAt.IsZero() {
				ar.Due, ar.Left = "", "not set yet"
			}
			if ar.Who == "" {
				ar.Who = "Social worker"
				if row.DeadlineState == aggregates.StateAtRisk {
					ar.Who = "Team leader"
				}
				switch aggregates.Status(row.Status) {
				case aggregates.StatusAwaitingAllocation:
					ar.Who = "The partnership's coordinator"
				case aggregates.StatusAwaitingAcceptance:
					ar.Who = "The authority's single point of contact"
				}
			}
			d.Rows = append(d.Rows, ar)
		}
		d.Updated = londonSeconds(now)
	}
	p := page{Title: "Referrals at risk now", Nav: "at-risk", C: c, Data: d}
	if r.URL.Query().Get("recorded") == "exception" {
		p.Notice, _ = findActionNotice("exception")
	}
	if r.Header.Get("X-Console-Fragment") == "at-risk" {
		s.exec(w, http.StatusOK, "atrisk", "results", p)
		return
	}
	s.render(w, http.StatusOK, "atrisk", p)
}

// firstEvent is the first event of type T in a stream's history.
func firstEvent[T any](stored []eventstore.Stored) (T, bool) {
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			if d, ok := e.Data.(T); ok {
				return d, true
			}
		}
	}
	var none T
	return none, false
}

// lastEvent is the last event of type T in a stream's history: the one
// that stands.
func lastEvent[T any](stored []eventstore.Stored) (T, bool) {
	var out T
	found := false
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			if d, ok := e.Data.(T); ok {
				out, found = d, true
			}
		}
	}
	return out, found
}

func (s *Server) refresh() time.Duration {
	if s.RefreshEvery > 0 {
		return s.RefreshEvery
	}
	return 30 * time.Second
}

// A referral.

type referralData struct {
	ID, Status, Authority, Route, From, Child, ClaimedAge string
	Received, Due, Warning, Left, Who, Policy, Elapsed    string
	Placed, PlacementType, Withdrawn, AgeAssessment       string
	DateOfBirth, Sex, Nationality, Corrections            string
	Professions                                           string
	Searches                                              string
	// Allocation, for a referral referred into the scheme.
	Region, Allocation, AllocatedTo, RespondBy, RespondLeft, Declined string
	Tag                                                               tag
	Version                                                           int
	Timeline                                                          []timelineItem
	Actions                                                           []action
	MayWrite, Auditor, MayAllocate                                    bool
	// MayCorrect: the caller may correct a detail about the child.
	MayCorrect bool
	// Steps are the receiving authority's steps to a placement, as a task
	// list; Others are the actions that are not one of those steps.
	Steps  []step
	Others []action
}

// cameFrom fills in the child and where they come from, as the referral's
// first event tells it: a referral to a region and a referral received
// directly carry the same facts.
func (d *referralData) cameFrom(c *call, reg *refdata.Registry, child string, claimedAge int, route, hotel, transferring string) {
	if c.seesChild() {
		d.Child = child
		if claimedAge > 0 {
			d.ClaimedAge = strconv.Itoa(claimedAge)
		}
	}
	d.From = hotel
	if route == events.RouteEntryAuthority {
		d.From = authorityName(reg, transferring)
	}
}

// step is one step of a referral's way to a placement, with where it
// stands and, when it can be taken now, its form.
type step struct {
	Name, Text, Status, Colour string
	// Href is the step's form when the role may take it now.
	Href string
}

// steps lists the receiving authority's steps (the referral form, the
// searches, the placement) once it has the child; others are what is
// offered besides.
func steps(ref aggregates.Referral, offered []action) (out []step, others []action) {
	may := map[string]bool{}
	for _, a := range offered {
		may[a.Name] = true
		if a.Name != "notify" && a.Name != "search" && a.Name != "place" {
			others = append(others, a)
		}
	}
	if ref.Status == aggregates.StatusAwaitingAllocation || ref.Status == aggregates.StatusAwaitingAcceptance {
		return nil, others
	}
	add := func(name, text, status, colour string) {
		st := step{Name: name, Text: text, Status: status, Colour: colour}
		if may[name] {
			st.Href = "/console/referrals/" + ref.ID + "/" + name
		}
		out = append(out, st)
	}
	placed := ref.Status == aggregates.StatusPlaced || ref.Status == aggregates.StatusLeftCare
	switch {
	case len(ref.Professions) > 0:
		add("notify", "Send the referral form to the professionals", "Sent to "+plural(len(ref.Professions), "profession"), "")
	case placed:
		add("notify", "Send the referral form to the professionals", "Not recorded", "grey")
	default:
		add("notify", "Send the referral form to the professionals", "Not yet started", "blue")
	}
	switch {
	case ref.Searches > 0:
		add("search", "Search for a placement", plural(ref.Searches, "search")+", "+plural(ref.OffersFound, "offer")+" found", "")
	case placed:
		add("search", "Search for a placement", "None recorded", "grey")
	default:
		add("search", "Search for a placement", "Not yet started", "blue")
	}
	switch {
	case placed:
		add("place", "Record the placement", "Completed", "")
	case ref.Status == aggregates.StatusWithdrawn:
		add("place", "Record the placement", "Withdrawn", "grey")
	default:
		add("place", "Record the placement", "Not yet placed", "blue")
	}
	return out, others
}

type timelineItem struct {
	Title, Detail, When, Recorded, Actor, Day string
}

func (s *Server) referral(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	ref, stored, ok := s.readRecord(w, r, c, id, app.ViewReferral)
	if !ok {
		return
	}
	now := s.now()
	reg := s.reg()
	d := referralData{ID: ref.ID, Status: statusWords[ref.Status], Authority: authorityName(reg, ref.ReceivingAuthority), Route: routeWords[ref.Route],
		Received: londonTime(ref.ReceivedAt), Tag: stateTag(ref.DeadlineState(now)), Version: ref.Version, Policy: ref.DeadlinePolicy,
		Who: whoWords(ref.EscalatedTo), Professions: wordList(ref.Professions), PlacementType: placementType(ref.PlacementType),
		Auditor: c.auditor()}
	if ref.Region != "" {
		d.Region, _ = refdata.RegionByName(ref.Region)
		d.Declined = s.names(ref.Declined)
		switch ref.Status {
		case aggregates.StatusAwaitingAllocation:
			d.Allocation = "Awaiting allocation by the " + d.Region + " partnership"
			if len(ref.Declined) > 0 {
				d.Allocation += " (again)"
			}
		case aggregates.StatusAwaitingAcceptance:
			d.Allocation = "Allocated, awaiting the authority's answer"
			d.AllocatedTo = authorityName(reg, ref.AllocatedTo)
			d.RespondBy, d.RespondLeft = capital(dueWords(ref.RespondBy)), responseLeft(s.cal(), ref.RespondBy, now)
		default:
			d.Allocation = "Accepted"
		}
		d.MayAllocate = ref.Status == aggregates.StatusAwaitingAllocation && c.mayAllocate(d.Region)
	}
	if rf, ok := firstEvent[events.ReferralReferred](stored); ok {
		d.cameFrom(c, reg, rf.ChildReference, rf.ClaimedAge, rf.Route, rf.Hotel, rf.TransferringAuthority)
	}
	if rec, ok := firstEvent[events.ReferralReceived](stored); ok {
		d.cameFrom(c, reg, rec.ChildReference, rec.ClaimedAge, rec.Route, rec.Hotel, rec.TransferringAuthority)
	}
	if c.seesChild() {
		// The fold's values: a correction stands over the receipt.
		d.Child = ref.ChildReference
		d.DateOfBirth, d.Sex, d.Nationality = ref.DateOfBirth, word(ref.Sex), ref.Nationality
		if ref.Corrections > 0 {
			d.Corrections = plural(ref.Corrections, "correction") + " on record; the timeline shows each"
		}
	}
	if !ref.DueAt.IsZero() {
		d.Due = capital(dueWords(ref.DueAt))
		d.Warning = londonSeconds(ref.WarningAt)
		if ref.Open() {
			d.Left = timeLeft(s.cal(), ref.DueAt, now)
		}
	}
	end := now
	if !ref.PlacedAt.IsZero() {
		end = ref.PlacedAt
		d.Placed = londonTime(ref.PlacedAt)
	}
	d.Elapsed = plural(s.cal().WorkingDaysBetween(calendar.DateOf(ref.ReceivedAt), calendar.DateOf(end)), "working day")
	if ref.Status == aggregates.StatusWithdrawn {
		d.Withdrawn = word(ref.WithdrawnReason)
	}
	switch ref.AgeAssessment {
	case aggregates.AgeRequested:
		d.AgeAssessment = "Requested, outcome awaited"
	case aggregates.AgeChild:
		d.AgeAssessment = "Assessed as a child"
	case aggregates.AgeAdult:
		d.AgeAssessment = "Assessed as an adult"
	}
	d.Searches = plural(ref.Searches, "search") + ", " + plural(ref.OffersFound, "offer") + " found"
	d.Timeline = s.timeline(ref, stored)
	// What the decider would accept now, of what the role allows: never an
	// action the decider then refuses.
	offered := c.app().Actions(ref, s.now())
	for _, a := range actions {
		if slices.Contains(offered, a.Name) {
			d.Actions = append(d.Actions, a)
		}
	}
	d.MayWrite = len(d.Actions) > 0
	_, d.MayCorrect = c.app().Corrector(ref)
	d.Steps, d.Others = steps(ref, d.Actions)
	p := page{Title: "Referral " + ref.ID, C: c, Data: d}
	if a, ok := findAction(r.URL.Query().Get("recorded")); ok {
		p.Notice = a.Notice
	} else if r.URL.Query().Get("recorded") == "allocate" && ref.AllocatedTo != "" {
		p.Notice = "Allocated to " + authorityName(reg, ref.AllocatedTo) + ": recorded. Its single point of contact must answer by " + dueWords(ref.RespondBy) + "."
	} else if r.URL.Query().Get("recorded") == "correct" {
		p.Notice = "Correction: recorded. The summary shows the right value, and the timeline keeps both."
	} else if r.URL.Query().Get("recorded") == "receive" {
		p.Notice = "Referral received: recorded. The deadline is being set."
	}
	s.render(w, http.StatusOK, "referral", p)
}

// timeline tells a referral's story, newest first: each event in words,
// when it happened in London, who recorded it, and on which working day of
// the deadline.
func (s *Server) timeline(ref aggregates.Referral, stored []eventstore.Stored) []timelineItem {
	var out []timelineItem
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			title, detail := describe(s.reg(), e)
			it := timelineItem{Title: title, Detail: detail, When: londonTime(e.OccurredAt), Actor: actorWords(e.Who())}
			if e.RecordedAt.Sub(e.OccurredAt) > time.Minute {
				it.Recorded = londonTime(e.RecordedAt)
			}
			n := s.cal().WorkingDaysBetween(calendar.DateOf(ref.ReceivedAt), calendar.DateOf(e.OccurredAt))
			switch {
			case e.Type == events.TypeReferralReceived && ref.Region == "":
				it.Day = "Day of receipt"
			case e.Type == events.TypeReferralReferred:
				it.Day = "Day of referral"
			default:
				it.Day = "Working day " + strconv.Itoa(n)
				if set, ok := firstEvent[events.DeadlineSet](stored); ok && set.WorkingDays > 0 {
					it.Day += " of " + strconv.Itoa(set.WorkingDays)
				}
			}
			out = append(out, it)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Capacity.

type capacityData struct {
	Scope        scope
	Heading      string
	Rows         []capRow
	Total        *capRow
	Chart        chart
	Note         string
	AsOf         string
	AsOfDay      field
	Sequence     uint64
	Problem      string
	Regions      []option
	ShowRegions  bool
	ChartCaption string
}

type capRow struct {
	Code, Name, Link, Population, Year, Threshold, Headroom, Pledge, PledgeRemaining string
	// ThresholdExact is 0.1% of the child population unrounded; Threshold
	// is it in children.
	ThresholdExact        string
	thresholdAt           float64
	LookedAfter, InFlight int
	Above                 bool
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request, c *call) {
	asked, problem := s.askedScope(r)
	d := capacityData{Problem: problem, AsOfDay: field{Name: "asOf", Label: "Show it as it stood at the end of", Hint: "For audit. For example, 30 6 2025.", Widget: "date", Optional: true}}
	d.Scope = scope(c.app().PageScope(asked, s.reg()))
	for _, name := range refdata.Regions {
		d.Regions = append(d.Regions, option{name, name})
	}
	if s.Views == nil {
		s.fail(w, c, http.StatusServiceUnavailable, "No capacity view here", "This instance serves no views.")
		return
	}
	q := r.URL.Query()
	when := at(s.now())
	if q.Get("asOf-day")+q.Get("asOf-month")+q.Get("asOf-year") != "" {
		day, fe := parseDate(q, "asOf", "The date")
		d.AsOfDay.Day, d.AsOfDay.Month, d.AsOfDay.Year = q.Get("asOf-day"), q.Get("asOf-month"), q.Get("asOf-year")
		if fe != nil {
			d.AsOfDay.Error = fe.Message
			s.render(w, http.StatusBadRequest, "capacity", page{Title: "Error: Capacity", Nav: "capacity", C: c, Errors: []fieldError{{Field: "asOf", Anchor: "asOf-day", Message: fe.Message}}, Data: d})
			return
		}
		when = app.At{AsOf: calendar.DateOf(day).End()}
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	rd, sc, err := s.queries().Capacity(ctx, c.app(), app.CapacityQuery{Scope: asked, Page: true}, when)
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	rep := rd.Result
	d.Scope, d.Sequence = scope(sc), rd.Sequence
	if !rd.AsOf.IsZero() {
		d.AsOf = londonSeconds(rd.AsOf)
	}
	d.Note = rep.Note
	row := func(a projections.CapacityRow) capRow {
		cr := capRow{Code: a.Code, Name: a.Name, LookedAfter: a.LookedAfter, InFlight: a.InFlight, Year: a.PopulationYear, Pledge: "none", PledgeRemaining: "none"}
		if a.ChildPopulation != nil {
			cr.Population, cr.Threshold, cr.ThresholdExact, cr.Headroom, cr.Above = thousands(*a.ChildPopulation), thousands(thresholdCount(*a.Threshold)), decimal(*a.Threshold), thousands(*a.Headroom), *a.AtOrAboveThreshold
			cr.thresholdAt = *a.Threshold
		}
		if a.Pledge != nil {
			cr.Pledge, cr.PledgeRemaining = strconv.Itoa(*a.Pledge), strconv.Itoa(*a.PledgeRemaining)
		}
		return cr
	}
	var bars []bar
	switch {
	case sc.Authority != "":
		for _, a := range rep.Authorities {
			d.Rows = append(d.Rows, row(a))
		}
		d.Heading = authorityName(s.reg(), sc.Authority)
	case sc.Region != "":
		for _, a := range rep.Authorities {
			d.Rows = append(d.Rows, row(a))
		}
		for _, rg := range rep.Regions {
			t := row(rg)
			t.Name = "All of " + rg.Name
			d.Total = &t
		}
		d.Heading = sc.Region + " region"
	default:
		d.ShowRegions = true
		for _, rg := range rep.Regions {
			cr := row(rg)
			cr.Link = "/console/capacity?region=" + urlQueryEscape(rg.Name)
			d.Rows = append(d.Rows, cr)
		}
		d.Heading = "England, by region"
	}
	for _, cr := range d.Rows {
		b := bar{Label: cr.Name, Value: float64(cr.LookedAfter), Text: strconv.Itoa(cr.LookedAfter) + " looked after"}
		if cr.Threshold != "" {
			b.Mark, b.HasMark = cr.thresholdAt, true
			b.Text += " of " + cr.Threshold
		}
		bars = append(bars, b)
	}
	d.ChartCaption = "Children looked after against the threshold (0.1% of the child population), " + d.Heading
	d.Chart = hbarChart("capacity-chart", d.ChartCaption, bars, "threshold")
	s.render(w, http.StatusOK, "capacity", page{Title: "Capacity", Nav: "capacity", C: c, Data: d})
}

// Timeliness.

type timelinessData struct {
	Scope                    scope
	Heading                  string
	From, To                 string
	Months, Regions          []tRow
	Total                    tRow
	Chart, DaysChart         chart
	Distribution             []distRow
	Breached                 []breachRow
	Problem                  string
	Sequence                 uint64
	RegionOptions, AuthorOpt []option
	FromError, ToError       string
}

type tRow struct {
	Month, MonthName, Region, Share, Median, P90 string
	Received, Placed, PlacedWithin, Breaches     int
	Withdrawn                                    int
}

type distRow struct {
	Days   string
	Count  int
	Placed string
}

type breachRow struct {
	ID, Authority, Due, Elapsed string
	Tag                         tag
}

func monthName(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return t.Format("January 2006")
}

func (s *Server) timeliness(w http.ResponseWriter, r *http.Request, c *call) {
	asked, problem := s.askedScope(r)
	q := r.URL.Query()
	d := timelinessData{Scope: scope(c.app().PageScope(asked, s.reg())), Problem: problem, From: q.Get("from"), To: q.Get("to")}
	for _, name := range refdata.Regions {
		d.RegionOptions = append(d.RegionOptions, option{name, name})
	}
	var errs []fieldError
	for _, m := range []struct {
		name, v string
		msg     *string
	}{{"from", d.From, &d.FromError}, {"to", d.To, &d.ToError}} {
		if m.v != "" {
			if _, err := time.Parse("2006-01", m.v); err != nil {
				*m.msg = "Enter a month as year and month, such as 2025-06"
				errs = append(errs, fieldError{Field: m.name, Anchor: m.name, Message: *m.msg})
			}
		}
	}
	if s.Views == nil {
		s.fail(w, c, http.StatusServiceUnavailable, "No timeliness view here", "This instance serves no views.")
		return
	}
	if len(errs) > 0 {
		s.render(w, http.StatusBadRequest, "timeliness", page{Title: "Error: Timeliness", Nav: "timeliness", C: c, Errors: errs, Data: d})
		return
	}
	rd, sc, err := s.queries().Timeliness(r.Context(), c.app(), app.TimelinessQuery{Scope: asked, From: d.From, To: d.To, Page: true}, at(s.now()))
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	rep := rd.Result
	d.Scope, d.Sequence = scope(sc), rd.Sequence
	conv := func(t projections.TimelinessRow) tRow {
		return tRow{Month: t.Month, MonthName: monthName(t.Month), Region: t.Region, Share: percent(t.ShareWithin), Median: days(t.MedianDays), P90: days(t.P90Days),
			Received: t.Received, Placed: t.Placed, PlacedWithin: t.PlacedWithin, Breaches: t.Breaches, Withdrawn: t.Withdrawn}
	}
	var bars []bar
	for _, m := range rep.ByMonth {
		row := conv(m)
		d.Months = append(d.Months, row)
		b := bar{Label: row.MonthName, Text: row.Share}
		if m.ShareWithin != nil {
			b.Value = *m.ShareWithin * 100
		}
		bars = append(bars, b)
	}
	for _, m := range rep.ByRegionMonth {
		d.Regions = append(d.Regions, conv(m))
	}
	d.Total = conv(rep.Total)
	switch {
	case sc.Authority != "":
		d.Heading = authorityName(s.reg(), sc.Authority)
	case sc.Region != "":
		d.Heading = sc.Region + " region"
	default:
		d.Heading = "England"
	}
	d.Chart = hbarChartMax("timeliness-chart", "Share of placements made within the deadline, by month of referral, "+d.Heading, bars, 100)
	hist := rep.Total.DaysHistogram()
	var keys []int
	total := 0
	for k, n := range hist {
		keys = append(keys, k)
		total += n
	}
	sort.Ints(keys)
	var dbars []bar
	for _, k := range keys {
		share := float64(hist[k]) / float64(total)
		d.Distribution = append(d.Distribution, distRow{Days: plural(k, "working day"), Count: hist[k], Placed: percent(&share)})
		dbars = append(dbars, bar{Label: plural(k, "working day"), Value: float64(hist[k]), Text: plural(hist[k], "placement")})
	}
	d.DaysChart = hbarChart("days-chart", "Working days from referral to placement, "+d.Heading, dbars, "")
	for _, a := range rep.AtRiskNow {
		if a.State != aggregates.StateBreached {
			continue
		}
		d.Breached = append(d.Breached, breachRow{ID: a.ReferralID, Authority: authorityName(s.reg(), a.Authority), Due: capital(dueWords(a.DueAt)),
			Elapsed: plural(a.WorkingDaysElapsed, "working day"), Tag: stateTag(a.State)})
	}
	s.render(w, http.StatusOK, "timeliness", page{Title: "Timeliness", Nav: "timeliness", C: c, Data: d})
}

// Audit.

type auditData struct {
	Running  string
	Report   *audit.Report
	Checked  string
	Error    string
	Problems []audit.Problem
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.auditor() {
		s.forbidden(w, c, "see the audit pages")
		return
	}
	if id := strings.TrimSpace(r.URL.Query().Get("referral")); id != "" {
		http.Redirect(w, r, "/console/audit/referrals/"+urlPathEscape(id), http.StatusSeeOther)
		return
	}
	d := s.auditData(c)
	s.render(w, http.StatusOK, "audit", page{Title: "Audit", Nav: "audit", C: c, Data: d})
}

// auditData is the log's verification as the audit and operations pages
// show it: app's, the API's too.
func (s *Server) auditData(c *call) auditData {
	v, err := s.ops().LastVerification(c.app())
	if err != nil {
		return auditData{}
	}
	d := auditData{Error: v.Failed}
	if v.Running != nil {
		d.Running = londonSeconds(*v.Running)
	}
	if v.Report != nil {
		d.Report, d.Checked, d.Problems = v.Report, londonSeconds(v.Report.Checked), v.Report.Problems
	}
	return d
}

// runVerify starts a walk of the whole log (app's, as GET /v1/audit/verify
// and `ntsflow verify` run it), in the background: a long log takes a
// while. It waits a moment, so a short log's result is on the page it
// returns to: the page it came from (the audit or operations page).
func (s *Server) runVerify(w http.ResponseWriter, r *http.Request, c *call) {
	done, err := s.ops().StartVerify(r.Context(), c.app())
	if err != nil {
		s.forbidden(w, c, "verify the log")
		return
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
	}
	back := "/console/audit"
	if r.PostForm.Get("from") == "operations" {
		back = "/console/operations"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type historyData struct {
	ID      string
	Rows    []historyRow
	Intact  bool
	Problem int
}

type historyRow struct {
	Sequence                                   uint64
	Type, Title, Detail, When, Recorded, Actor string
	Hash, Chain                                string
	OK                                         bool
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.auditor() {
		s.forbidden(w, c, "see the audit pages")
		return
	}
	id := r.PathValue("id")
	_, stored, ok := s.readRecord(w, r, c, id, app.ViewHistory)
	if !ok {
		return
	}
	d := historyData{ID: id, Intact: true}
	prev := ""
	for _, st := range stored {
		raws, err := events.RawEvents(st.Raw)
		for i, e := range st.Commit.Events {
			title, detail := describe(s.reg(), e)
			row := historyRow{Sequence: st.Sequence, Type: e.Type, Title: title, Detail: detail, When: londonSeconds(e.OccurredAt), Recorded: londonSeconds(e.RecordedAt),
				Actor: actorWords(e.Who()), Hash: short(e.Hash), Chain: "Intact", OK: true}
			switch {
			case err != nil || i >= len(raws):
				row.Chain, row.OK = "Cannot be read", false
			default:
				h, verr := events.VerifyStored(s.Engine.ChainKey, raws[i], prev)
				prev = h
				switch verr {
				case nil:
				case events.ErrChainHash:
					row.Chain, row.OK = "Altered: the hash does not match", false
				case events.ErrChainLink:
					row.Chain, row.OK = "Broken link: an event is missing or out of order", false
				default:
					row.Chain, row.OK = "Cannot be checked", false
				}
			}
			if !row.OK {
				d.Intact = false
				d.Problem++
			}
			d.Rows = append(d.Rows, row)
		}
	}
	s.render(w, http.StatusOK, "history", page{Title: "History of referral " + id, Nav: "audit", C: c, Data: d})
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

func findActionNotice(name string) (string, bool) {
	a, ok := findAction(name)
	return a.Notice, ok
}
