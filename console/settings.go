package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/refdata"
)

// The authority's settings (its pledge and its single point of contact,
// over app.Authorities as the API's POST .../pledge and PUT .../contact),
// and the national view of the regions (app.Queries.National, as GET
// /v1/capacity/national).

func (s *Server) authorities() app.Authorities {
	return app.Authorities{Engine: s.Engine, Registry: s.reg()}
}

func (s *Server) settingsHome(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.app().SeesSettings() {
		s.forbidden(w, c, "see an authority's settings")
		return
	}
	s.authorityHome(w, r, c, "Authority settings", "settings", "/settings", func(code string) bool { return c.app().ReadsSettings(code, s.reg()) })
}

type settingsData struct {
	Code, Name, Region        string
	Version                   int
	Pledge, Contact, Mailbox  string
	MayChange                 bool
	PledgeFields, ContactForm []field
	PledgeKey, ContactKey     string
	Stale                     *stale
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, c *call) {
	code, ok := s.authorityCode(w, r, c)
	if !ok {
		return
	}
	notice := ""
	switch r.URL.Query().Get("recorded") {
	case "pledge":
		notice = "Pledge: recorded. The rota counts it from now."
	case "contact":
		notice = "Single point of contact: recorded."
	}
	s.showSettings(w, r, c, code, http.StatusOK, notice, nil, nil, nil)
}

func (s *Server) showSettings(w http.ResponseWriter, r *http.Request, c *call, code string, status int, notice string, v url.Values, errs []fieldError, st *stale) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	a, err := s.authorities().Settings(ctx, c.app(), code)
	if err != nil {
		s.cannot(w, c, err)
		return
	}
	d := settingsData{Code: code, Name: authorityName(s.reg(), code), Region: s.reg().RegionOf(code), Version: a.Version,
		Pledge: "No pledge recorded", Contact: "No contact recorded", MayChange: c.app().ChangesAuthority(code),
		PledgeKey: newKey(), ContactKey: newKey(), Stale: st}
	pledge := ""
	if a.PledgeSet {
		d.Pledge, pledge = plural(a.Pledge, "child"), strconv.Itoa(a.Pledge)
	}
	if a.Contact.Mailbox != "" {
		d.Contact, d.Mailbox = a.Contact.Name, a.Contact.Mailbox
	}
	d.PledgeFields = []field{{Name: "pledge", Label: "Pledge", Hint: "How many children the authority commits to receive, from 0 to 1,000. For example, 4.", Widget: "number", Value: pledge}}
	d.ContactForm = []field{
		{Name: "name", Label: "Contact's name or team", Hint: "For example, Placements team or Jane Smith.", Widget: "text", Value: a.Contact.Name},
		{Name: "mailbox", Label: "Contact's email address", Hint: "A role mailbox the partnership writes to about allocations, for example nts@council.gov.uk.", Widget: "text", Value: a.Contact.Mailbox, Autocomplete: "email"},
	}
	title := "Authority settings, " + d.Name
	if v != nil {
		switch r.PathValue("change") {
		case "pledge":
			d.PledgeKey = v.Get("key")
			d.PledgeFields = fill(d.PledgeFields, v, errs)
		case "contact":
			d.ContactKey = v.Get("key")
			d.ContactForm = fill(d.ContactForm, v, errs)
		}
		if st != nil {
			d.Version = st.Seen
			st.Reload = "/console/authorities/" + code + "/settings"
		}
		title = "Error: " + title
	}
	s.render(w, status, "settings", page{Title: title, Nav: "settings", C: c, Errors: errs, Notice: notice, Data: d})
}

func (s *Server) settingsChange(w http.ResponseWriter, r *http.Request, c *call) {
	code, ok := s.authorityCode(w, r, c)
	if !ok {
		return
	}
	if !c.app().ChangesAuthority(code) {
		s.forbidden(w, c, "change the settings of "+authorityName(s.reg(), code)+"; the authority does")
		return
	}
	v := r.PostForm
	show := func(status int, errs []fieldError, st *stale) { s.showSettings(w, r, c, code, status, "", v, errs, st) }
	m, ok := sent(c, v, show)
	if !ok {
		return
	}
	var cmd aggregates.AuthorityCommand
	var errs []fieldError
	switch r.PathValue("change") {
	case "pledge":
		x := strings.TrimSpace(v.Get("pledge"))
		if x == "" {
			errs = append(errs, fieldError{Field: "pledge", Message: "Enter the pledge, as a number of children such as 4"})
			break
		}
		n := wholeNumber(v, "pledge", false, 0, "Enter the pledge as a whole number of children, such as 4", &errs)
		cmd = aggregates.SetPledge{Pledge: &n}
	case "contact":
		cmd = aggregates.SetContact{Name: required(v, "name", "Enter the contact's name or team", &errs),
			Mailbox: required(v, "mailbox", "Enter the contact's email address, such as nts@council.gov.uk", &errs)}
	default:
		s.notFound(w, r, c)
		return
	}
	if len(errs) > 0 {
		show(http.StatusUnprocessableEntity, errs, nil)
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	if _, err := s.authorities().Change(ctx, c.app(), code, cmd, m); err != nil {
		s.notRecorded(show, cmd.CommandName(), err, "console: change the settings failed", "about", code)
		return
	}
	http.Redirect(w, r, "/console/authorities/"+code+"/settings?recorded="+r.PathValue("change"), http.StatusSeeOther)
}

// The national view.

type nationalRow struct {
	Region, Slug                                       string
	Population, Threshold, LookedAfter, Received, Rate string
	ShareOfReceived, ShareOfChildren, Pledged          string
}

type nationalData struct {
	Year     string
	Years    field
	Rows     []nationalRow
	Sequence uint64
	Updated  string
	Problem  string
}

func (s *Server) nationalPage(w http.ResponseWriter, r *http.Request, c *call) {
	if !c.app().ReadsNational() {
		s.forbidden(w, c, "see the national view")
		return
	}
	now := s.now()
	this := now.Year()
	d := nationalData{Year: strconv.Itoa(this), Updated: londonSeconds(now)}
	var errs []fieldError
	if q := strings.TrimSpace(r.URL.Query().Get("year")); q != "" {
		// The years the scheme has run, as the API accepts them.
		if y, err := strconv.Atoi(q); err != nil || y < 2016 || y > this {
			d.Problem = "Choose a year from 2016 to " + strconv.Itoa(this)
			errs = []fieldError{{Field: "year", Anchor: "year", Message: d.Problem}}
		} else {
			d.Year = q
		}
	}
	var years []option
	for y := this; y >= 2016; y-- {
		years = append(years, option{strconv.Itoa(y), strconv.Itoa(y)})
	}
	d.Years = field{Name: "year", Label: "Year", Hint: "Referrals received are counted from January to December of the year.", Widget: "select", Options: years, Value: d.Year, Error: d.Problem}
	rd, err := s.queries().National(d.Year, now)
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	d.Sequence = rd.Sequence
	rows := rd.Result.Regions
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Region < rows[j].Region })
	for _, e := range rows {
		d.Rows = append(d.Rows, nationalRow{Region: e.Region, Slug: refdata.Slug(e.Region), Population: thousands(e.ChildPopulation),
			Threshold: plural(roundPeople(e.ThresholdTotal), "child"), LookedAfter: thousands(e.LookedAfter), Received: thousands(e.ReceivedInYear),
			Rate: strconv.FormatFloat(e.ReceivedPer10k, 'f', 2, 64), ShareOfReceived: share(e.ShareOfReceived), ShareOfChildren: share(e.ShareOfChildren),
			Pledged: thousands(e.Pledged)})
	}
	s.render(w, http.StatusOK, "national", page{Title: "National view, " + d.Year, Nav: "national", C: c, Errors: errs, Data: d})
}

// roundPeople is a count of people from a sum of thresholds: 28.845 is 29.
func roundPeople(f float64) int { return int(f + 0.5) }

func share(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
