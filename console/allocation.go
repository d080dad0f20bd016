package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// The regional partnership's pages: the referrals it must allocate (with
// the rota's proposal for each, the rule itself run dry by package rota),
// the answers it awaits with their response clock, and its rota. An
// allocation goes through rota.Facts.Allocate, the API's own path.

type allocRow struct {
	ID, Child, Route, Referred, Elapsed, Due, Left string
	Tag                                            tag
	Declined                                       string
	// The rota's proposal, or why there is none.
	Proposal   string
	Skipped    []string
	NoProposal string
	Version    int
	Key        string
	// Awaiting acceptance.
	AllocatedTo, AllocatedAt, RespondBy, RespondLeft, How string
	Overdue, Reminded, Escalated                          bool
}

type allocationData struct {
	Region, Slug string
	Regions      []option
	Awaiting     []allocRow
	Answers      []allocRow
	MayAllocate  bool
	ShowChild    bool
	RotaVersion  int
	Next         string
	Updated      string
	Problem      string
	// Child is the child's reference searched for.
	Child string
}

// regionFor is the region a partnership page is about: the caller's own
// for a region's role, else the one named in the URL (a name or a slug).
func (s *Server) regionFor(c *call, v string) (name string, ok bool) {
	if own, ok := c.app().OwnRegion(); ok {
		return own, true
	}
	if v == "" {
		return "", false
	}
	return refdata.RegionByName(v)
}

func (s *Server) allocationPage(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.allocator() {
		s.forbidden(w, c, "see the allocation pages; the regional partnership allocates")
		return
	}
	d := allocationData{ShowChild: c.seesChild()}
	if d.ShowChild {
		d.Child = strings.TrimSpace(r.URL.Query().Get("child"))
	}
	for _, name := range refdata.Regions {
		d.Regions = append(d.Regions, option{name, name})
	}
	name, ok := s.regionFor(c, r.URL.Query().Get("region"))
	if !ok {
		if q := r.URL.Query().Get("region"); q != "" {
			d.Problem = "There is no region called " + q
		}
		s.render(w, http.StatusOK, "allocation", page{Title: "Allocation", Nav: "allocation", C: c, Data: d})
		return
	}
	d.Region, d.Slug, d.MayAllocate = name, refdata.Slug(name), c.mayAllocate(name)
	ctx, cancel := s.ctx(r)
	defer cancel()
	g, _, err := engine.Load(ctx, s.Engine.Store, aggregates.Regions, d.Slug)
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	d.RotaVersion = g.Version
	facts := s.rota()
	if order := g.RotaOrder(facts.Members(name)); len(order) > 0 {
		d.Next = authorityName(s.reg(), order[g.Next%len(order)])
	}
	now := s.now()
	caps := s.capacityRows()
	var ids []string
	if s.Views != nil {
		for _, st := range []aggregates.Status{aggregates.StatusAwaitingAllocation, aggregates.StatusAwaitingAcceptance} {
			rd, _, err := s.queries().Referrals(ctx, c.app(), app.ReferralQuery{Scope: app.Scope{Region: name}, Filter: projections.ReferralFilter{Status: string(st), Child: d.Child, Limit: atRiskLimit}, Page: true}, at(now))
			if err != nil {
				s.unavailable(w, c, err)
				return
			}
			for _, row := range rd.Result.Referrals {
				ids = append(ids, row.ReferralID)
			}
		}
	}
	for _, id := range ids {
		// The list says which; the referral itself says where it stands.
		ref, stored, err := s.Engine.Load(ctx, id)
		if err != nil {
			s.unavailable(w, c, err)
			return
		}
		row := allocRow{ID: id, Route: routeWords[ref.Route], Referred: londonTime(ref.ReceivedAt), Version: ref.Version, Key: newKey(),
			Elapsed: plural(s.cal().WorkingDaysBetween(calendar.DateOf(ref.ReceivedAt), calendar.DateOf(now)), "working day"),
			Tag:     stateTag(ref.DeadlineState(now)), Declined: s.names(ref.Declined)}
		if !ref.DueAt.IsZero() {
			row.Due, row.Left = capital(dueWords(ref.DueAt)), timeLeft(s.cal(), ref.DueAt, now)
		}
		if d.ShowChild {
			if rf, ok := firstEvent[events.ReferralReferred](stored); ok {
				row.Child = rf.ChildReference
			}
		}
		switch ref.Status {
		case aggregates.StatusAwaitingAllocation:
			if p, err := facts.Propose(g, ref, name, now); err != nil {
				row.NoProposal = capital(refusalMessage(err))
			} else {
				row.Proposal = authorityName(s.reg(), p.Authority)
				row.Skipped = s.skipWords(g, p.Skipped, caps, now)
			}
			d.Awaiting = append(d.Awaiting, row)
		case aggregates.StatusAwaitingAcceptance:
			row.AllocatedTo, row.AllocatedAt, row.RespondBy = authorityName(s.reg(), ref.AllocatedTo), londonTime(ref.AllocatedAt), capital(dueWords(ref.RespondBy))
			row.RespondLeft, row.Overdue = responseLeft(s.cal(), ref.RespondBy, now), now.After(ref.RespondBy)
			row.Reminded, row.Escalated = ref.Reminded, ref.AllocationEscalated
			row.How = "By the rota, position " + strconv.Itoa(ref.AllocationPosition)
			if a, ok := lastEvent[events.ReferralAllocated](stored); ok && a.OverrideReason != "" {
				row.How = "Chosen by the partnership: " + a.OverrideReason
			}
			d.Answers = append(d.Answers, row)
		}
	}
	// The longest waiting first.
	sort.SliceStable(d.Awaiting, func(i, j int) bool { return d.Awaiting[i].Referred < d.Awaiting[j].Referred })
	d.Updated = londonSeconds(now)
	s.render(w, http.StatusOK, "allocation", page{Title: "Allocation, " + name, Nav: "allocation", C: c, Data: d})
}

// responseLeft is the response clock: time left to answer, or overdue. The
// answer is due within a working day, so it reads in hours and minutes.
func responseLeft(cal *calendar.Calendar, by, now time.Time) string {
	if by.IsZero() {
		return ""
	}
	if now.After(by) {
		return "overdue by " + span(now.Sub(by))
	}
	if d := calendar.DateOf(by); d != calendar.DateOf(now) {
		return plural(cal.WorkingDaysBetween(calendar.DateOf(now), d), "working day") + " left"
	}
	return span(by.Sub(now)) + " left"
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d/time.Hour), "hour") + " " + plural(int(d%time.Hour/time.Minute), "minute")
}

func (s *Server) names(codes []string) string {
	reg := s.reg()
	return listWords(codes, func(code string) string { return authorityName(reg, code) })
}

func (s *Server) capacityRows() map[string]projections.CapacityRow {
	rows := map[string]projections.CapacityRow{}
	if s.Views != nil {
		s.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
			for _, row := range projections.ReportCapacity(v, s.reg()).Authorities {
				rows[row.Code] = row
			}
		})
	}
	return rows
}

// skipWords says why the rota passed over each authority, in words.
func (s *Server) skipWords(g aggregates.Region, skipped []events.Skip, caps map[string]projections.CapacityRow, now time.Time) []string {
	var out []string
	for _, sk := range skipped {
		out = append(out, authorityName(s.reg(), sk.Authority)+": "+s.skipWord(g, sk, caps[sk.Authority], now))
	}
	return out
}

func (s *Server) skipWord(g aggregates.Region, sk events.Skip, row projections.CapacityRow, now time.Time) string {
	switch sk.Reason {
	case events.SkipPaused:
		if p, ok := g.Paused(sk.Authority, now); ok {
			return fmt.Sprintf("paused until %s (%s)", londonTime(p.Until), p.Reason)
		}
		return "paused"
	case events.SkipDeclinedThisChild:
		return "declined this child"
	case events.SkipAtThreshold:
		if row.Threshold != nil {
			return fmt.Sprintf("at its threshold: looks after %s, threshold %s (0.1%% of its child population, %s)", plural(row.LookedAfter, "child"), plural(thresholdCount(*row.Threshold), "child"), decimal(*row.Threshold))
		}
		return "at its threshold (0.1% of its child population)"
	case events.SkipPledgeMet:
		if row.Pledge != nil {
			return fmt.Sprintf("its pledge of %s is used up", plural(*row.Pledge, "place"))
		}
		return "its pledge is used up"
	}
	return sk.Reason
}

func refusalMessage(err error) string {
	if r, ok := err.(*aggregates.Refusal); ok {
		return r.Message
	}
	return err.Error()
}

// The allocation form: by the rota, or another authority with a reason.

func (s *Server) allocateFields(ref aggregates.Referral, region string, proposal string) []field {
	rotaText := "By the rota: " + proposal
	if proposal == "" {
		rotaText = "By the rota (it has no authority to propose now)"
	}
	var auths []option
	for _, code := range s.rota().Members(region) {
		auths = append(auths, option{code, authorityName(s.reg(), code)})
	}
	return []field{
		{Name: "mode", Label: "How do you allocate this child?", Widget: "radios", Value: "rota",
			Options: []option{{"rota", rotaText}, {"choose", "Choose another authority, with a reason"}}},
		{Name: "authority", Label: "Authority", Hint: "Only when you choose another authority. Choosing does not move the rota.", Widget: "select", Optional: true,
			Options: append([]option{{"", "Choose an authority"}}, auths...)},
		{Name: "reason", Label: "Why this authority?", Hint: "Only when you choose. For example, her brother is placed there, or a need it can meet.", Widget: "textarea", Optional: true},
	}
}

// allocationContext loads what the allocation form needs; ok is false when
// it has written the answer.
func (s *Server) allocationContext(w http.ResponseWriter, r *http.Request, c *call) (ref aggregates.Referral, g aggregates.Region, region string, ok bool) {
	ref, _, ok = s.loadReadable(w, r, c, r.PathValue("id"))
	if !ok {
		return
	}
	if ref.Region == "" {
		s.fail(w, c, http.StatusConflict, "This referral is not for allocation", "It was received directly by "+authorityName(s.reg(), ref.ReceivingAuthority)+".")
		return ref, g, "", false
	}
	region, _ = refdata.RegionByName(ref.Region)
	if !c.mayAllocate(region) {
		s.forbidden(w, c, "allocate referrals; the "+region+" partnership does")
		return ref, g, "", false
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	g, _, err := engine.Load(ctx, s.Engine.Store, aggregates.Regions, ref.Region)
	if err != nil {
		s.unavailable(w, c, err)
		return ref, g, "", false
	}
	return ref, g, region, true
}

func (s *Server) allocateData(ref aggregates.Referral, g aggregates.Region, region string) (formData, string) {
	now := s.now()
	f := formData{Heading: "Allocate the referral", Caption: "Referral " + ref.ID + ", " + region, Submit: "Allocate",
		Action: "/console/referrals/" + ref.ID + "/allocate", Back: "/console/allocation", BackText: "Back to allocation",
		Key: newKey(), Version: strconv.Itoa(ref.Version), RotaVersion: strconv.Itoa(g.Version)}
	proposal := ""
	if p, err := s.rota().Propose(g, ref, region, now); err != nil {
		f.Intro = "The rota has no authority to propose: " + refusalMessage(err) + "."
	} else {
		proposal = authorityName(s.reg(), p.Authority)
		f.Intro = "The rota proposes " + proposal + " (position " + strconv.Itoa(p.Position) + ")."
		f.Skipped = s.skipWords(g, p.Skipped, s.capacityRows(), now)
	}
	if len(ref.Declined) > 0 {
		f.Intro += " Declined this child: " + s.names(ref.Declined) + "."
	}
	if ref.Status != aggregates.StatusAwaitingAllocation {
		f.Warning = "This referral is " + strings.ToLower(statusWords[ref.Status]) + ": an allocation will be refused, and the form will say why."
	}
	return f, proposal
}

func (s *Server) allocateForm(w http.ResponseWriter, r *http.Request, c *call) {
	ref, g, region, ok := s.allocationContext(w, r, c)
	if !ok {
		return
	}
	f, proposal := s.allocateData(ref, g, region)
	f.Fields = s.allocateFields(ref, region, proposal)
	s.render(w, http.StatusOK, "form", page{Title: f.Heading, Nav: "allocation", C: c, Data: f})
}

func (s *Server) allocate(w http.ResponseWriter, r *http.Request, c *call) {
	ref, g, region, ok := s.allocationContext(w, r, c)
	if !ok {
		return
	}
	v := r.PostForm
	show := func(code int, errs []fieldError, st *stale) {
		f, proposal := s.allocateData(ref, g, region)
		f.Key, f.Version = v.Get("key"), v.Get("version")
		if st != nil {
			f.Stale, st.Reload = st, r.URL.Path
			f.RotaVersion = v.Get("rotaVersion")
		}
		f.Fields = fill(s.allocateFields(ref, region, proposal), v, errs)
		s.render(w, code, "form", page{Title: "Error: " + f.Heading, Nav: "allocation", C: c, Errors: errs, Data: f})
	}
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	var cmd aggregates.Allocate
	var rotaVersion *int
	// Choosing asks for the authority and the reason; the rota asks for
	// neither.
	fields := s.allocateFields(ref, region, "")
	for i := range fields {
		fields[i].Optional = fields[i].Name != "mode" && v.Get("mode") != "choose"
	}
	if errs := check(cmd.CommandName(), fields, v); len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	switch v.Get("mode") {
	case "rota":
		n, err := strconv.Atoi(v.Get("rotaVersion"))
		if err != nil || n < 0 {
			show(http.StatusBadRequest, []fieldError{{Message: "This form is incomplete. Reload the page and send it again."}}, nil)
			return
		}
		rotaVersion = &n
	case "choose":
		cmd.Authority, cmd.Reason = v.Get("authority"), strings.TrimSpace(v.Get("reason"))
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.referrals().Allocate(ctx, c.app(), ref.ID, cmd, m, rotaVersion, s.now()); err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: allocation failed", "referral", ref.ID)
		return
	}
	http.Redirect(w, r, "/console/referrals/"+ref.ID+"?recorded=allocate", http.StatusSeeOther)
}

// The rota page.

type rotaRow struct {
	Position                                                                 int
	Code, Name, Population, Year, Threshold, Pledge, PledgeRemaining, Paused string
	// ThresholdExact is 0.1% of the child population unrounded.
	ThresholdExact        string
	LookedAfter, InFlight int
	Next, Above           bool
	Value, Error          string
	// AwaitingAnswer: allocations awaiting its answer, each holding a
	// pledge place and counting towards its threshold.
	AwaitingAnswer int
}

type rotaData struct {
	Region, Slug string
	Rows         []rotaRow
	Version      int
	Next         string
	Proposal     string
	Skipped      []string
	NoProposal   string
	MayChange    bool
	PauseFields  []field
	PauseKey     string
	OrderKey     string
	OrderError   string
	Stale        *stale
	Notice       string
	// EndFields is the form to end a pause early, when one is running.
	EndFields []field
	EndKey    string
}

func (s *Server) rotaRegion(w http.ResponseWriter, c *call, slug string) (string, bool) {
	name, ok := refdata.RegionByName(slug)
	if !ok || refdata.Slug(name) != slug {
		s.notFound(w, nil, c)
		return "", false
	}
	if !c.app().ReadsRota(name) {
		s.forbidden(w, c, "see the "+name+" rota")
		return "", false
	}
	return name, true
}

func (s *Server) pauseFields(name string, now time.Time) []field {
	var auths []option
	for _, code := range s.rota().Members(name) {
		auths = append(auths, option{code, authorityName(s.reg(), code)})
	}
	until := calendar.DateOf(now).End().AddDate(0, 1, 0)
	l := until.In(calendar.London)
	return []field{
		{Name: "authority", Label: "Authority to pause", Widget: "select", Options: append([]option{{"", "Choose an authority"}}, auths...)},
		{Name: "reason", Label: "Why is it paused?", Hint: "As agreed by the partnership: placement pressures, health or education places, another migration programme.", Widget: "textarea"},
		{Name: "until", Label: "Paused until the end of", Hint: "For example, 31 1 2030.", Widget: "date", Day: strconv.Itoa(l.Day()), Month: strconv.Itoa(int(l.Month())), Year: strconv.Itoa(l.Year())},
	}
}

// endPauseFields is the form to end a pause early: the authorities paused
// now, and why the pause ends. None when no authority is paused.
func (s *Server) endPauseFields(g aggregates.Region, name string, now time.Time) []field {
	var paused []option
	for _, code := range s.rota().Members(name) {
		if p, on := g.Paused(code, now); on {
			paused = append(paused, option{code, authorityName(s.reg(), code) + " (paused until " + londonTime(p.Until) + ")"})
		}
	}
	if len(paused) == 0 {
		return nil
	}
	return []field{
		// Named apart from the pause form's fields, which share the page
		// (ids are unique on a page).
		{Name: "endAuthority", Of: "authority", Label: "Authority whose pause ends now", Widget: "select", Options: append([]option{{"", "Choose an authority"}}, paused...)},
		{Name: "endReason", Of: "reason", Label: "Why does the pause end early?", Hint: "As agreed by the partnership: for example, placements found or the pressure eased.", Widget: "textarea"},
	}
}

func (s *Server) rotaPage(w http.ResponseWriter, r *http.Request, c *call) {
	name, ok := s.rotaRegion(w, c, r.PathValue("region"))
	if !ok {
		return
	}
	s.showRota(w, r, c, name, http.StatusOK, nil, nil, nil)
}

func (s *Server) showRota(w http.ResponseWriter, r *http.Request, c *call, name string, code int, v url.Values, errs []fieldError, st *stale) {
	slug := refdata.Slug(name)
	ctx, cancel := s.ctx(r)
	defer cancel()
	now := s.now()
	rd, err := app.Regions{Engine: s.Engine, Authorities: s.reg()}.Rota(ctx, c.app(), name, s.rota(), now)
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	g, order, caps := rd.Region, rd.Order, rd.Capacity
	d := rotaData{Region: name, Slug: slug, Version: g.Version, MayChange: c.mayAllocate(name), PauseKey: newKey(), OrderKey: newKey(), Stale: st,
		PauseFields: s.pauseFields(name, now), EndFields: s.endPauseFields(g, name, now), EndKey: newKey()}
	for i, code := range order {
		a := caps[code]
		row := rotaRow{Position: i + 1, Code: code, Name: authorityName(s.reg(), code), Year: a.PopulationYear, LookedAfter: a.LookedAfter, InFlight: a.InFlight,
			Pledge: "none", PledgeRemaining: "none", Next: i == g.Next%len(order), Value: strconv.Itoa(i + 1), AwaitingAnswer: a.AwaitingAnswer}
		if a.ChildPopulation != nil {
			row.Population, row.Threshold, row.ThresholdExact, row.Above = thousands(*a.ChildPopulation), thousands(thresholdCount(*a.Threshold)), decimal(*a.Threshold), *a.AtOrAboveThreshold
		}
		if a.Pledge != nil {
			row.Pledge, row.PledgeRemaining = strconv.Itoa(*a.Pledge), strconv.Itoa(*a.PledgeRemaining)
		}
		if p, on := g.Paused(code, now); on {
			row.Paused = "Until " + londonTime(p.Until) + ": " + p.Reason
		}
		if row.Next {
			d.Next = row.Name
		}
		d.Rows = append(d.Rows, row)
	}
	if rd.NoProposal != nil {
		d.NoProposal = capital(refusalMessage(rd.NoProposal))
	} else {
		d.Proposal = authorityName(s.reg(), rd.Proposal.Authority)
		d.Skipped = s.skipWords(g, rd.Proposal.Skipped, caps, now)
	}
	title := "Rota, " + name
	if v != nil {
		switch r.PathValue("change") {
		case "pause":
			d.PauseKey = v.Get("key")
			d.PauseFields = fill(d.PauseFields, v, errs)
		case "end-pause":
			d.EndKey = v.Get("key")
			for j := range errs {
				if errs[j].Field == "authority" || errs[j].Field == "reason" {
					errs[j].Field = "end" + capital(errs[j].Field)
				}
			}
			d.EndFields = fill(d.EndFields, v, errs)
		case "order":
			d.OrderKey = v.Get("key")
			for i := range d.Rows {
				d.Rows[i].Value = v.Get("pos-" + d.Rows[i].Code)
			}
			for j := range errs {
				if errs[j].Field == "order" && len(d.Rows) > 0 {
					errs[j].Anchor = "pos-" + d.Rows[0].Code
					d.OrderError = errs[j].Message
				}
			}
		}
		if st != nil {
			d.Version = st.Seen
			st.Reload = "/console/regions/" + slug + "/rota"
		}
		title = "Error: " + title
	}
	if rec := r.URL.Query().Get("recorded"); rec == "pause" {
		d.Notice = "Pause: recorded."
	} else if rec == "end-pause" {
		d.Notice = "Pause ended: the rota offers the authority children again from now."
	} else if rec == "order" {
		d.Notice = "Rota order: recorded. The next child goes to the top of the new order."
	}
	s.render(w, code, "rota", page{Title: title, Nav: "allocation", C: c, Errors: errs, Notice: d.Notice, Data: d})
}

func (s *Server) rotaChange(w http.ResponseWriter, r *http.Request, c *call) {
	name, ok := s.rotaRegion(w, c, r.PathValue("region"))
	if !ok {
		return
	}
	if !c.mayAllocate(name) {
		s.forbidden(w, c, "change the "+name+" rota; its partnership does")
		return
	}
	v := r.PostForm
	show := func(code int, errs []fieldError, st *stale) { s.showRota(w, r, c, name, code, v, errs, st) }
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	members := s.rota().Members(name)
	var cmd aggregates.RegionCommand
	switch r.PathValue("change") {
	case "pause":
		p := aggregates.PauseAuthority{Authority: v.Get("authority"), Reason: strings.TrimSpace(v.Get("reason")), Members: members}
		if errs := check(p.CommandName(), s.pauseFields(name, s.now()), v); len(errs) > 0 {
			show(http.StatusUnprocessableEntity, errs, nil)
			return
		}
		day, _ := parseDate(v, "until", "") // check has read it as a date
		p.Until = calendar.DateOf(day).End().UTC()
		cmd = p
	case "end-pause":
		e := aggregates.EndPause{Authority: v.Get("endAuthority"), Reason: strings.TrimSpace(v.Get("endReason")), Members: members}
		g, _, err := s.region(r, name)
		if err != nil {
			s.unavailable(w, c, err)
			return
		}
		if errs := check(e.CommandName(), s.endPauseFields(g, name, s.now()), v); len(errs) > 0 {
			show(http.StatusUnprocessableEntity, errs, nil)
			return
		}
		cmd = e
	case "order":
		g, _, err := s.region(r, name)
		if err != nil {
			s.unavailable(w, c, err)
			return
		}
		cur := g.RotaOrder(members)
		type pos struct {
			code   string
			n, was int
		}
		var ps []pos
		for i, code := range cur {
			n, err := strconv.Atoi(strings.TrimSpace(v.Get("pos-" + code)))
			if err != nil {
				show(http.StatusUnprocessableEntity, []fieldError{{Field: "order", Message: app.Ask(aggregates.SetRota{}.CommandName(), "order") + " (" + authorityName(s.reg(), code) + " has none)"}}, nil)
				return
			}
			ps = append(ps, pos{code, n, i})
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].n < ps[j].n })
		order := make([]string, len(ps))
		for i, p := range ps {
			order[i] = p.code
		}
		cmd = aggregates.SetRota{Order: order, Members: members}
	default:
		s.notFound(w, r, c)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := (app.Regions{Engine: s.Engine, Authorities: s.reg()}).Change(ctx, c.app(), name, cmd, m); err != nil {
		code, errs, st := errorsFor(cmd.CommandName(), err)
		if r.PathValue("change") == "end-pause" {
			// The end-pause form names its questions apart from the pause
			// form's on the same page.
			for i := range errs {
				if errs[i].Field != "" {
					errs[i].Field = "end" + capital(errs[i].Field)
				}
			}
		}
		if code >= 500 {
			s.log().Error("console: rota change failed", "region", name, "err", err)
		}
		show(code, errs, st)
		return
	}
	http.Redirect(w, r, "/console/regions/"+refdata.Slug(name)+"/rota?recorded="+r.PathValue("change"), http.StatusSeeOther)
}

// region loads the region's rota as it stands.
func (s *Server) region(r *http.Request, name string) (aggregates.Region, []eventstore.Stored, error) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	return engine.Load(ctx, s.Engine.Store, aggregates.Regions, refdata.Slug(name))
}
