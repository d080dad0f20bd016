package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
)

// page is what every template gets: the layout's fields and the page's own
// data in Data.
type page struct {
	Title string
	// Nav names the navigation item of this page.
	Nav    string
	C      *call
	Errors []fieldError
	// Notice is a success message ("Placement recorded").
	Notice string
	Data   any
}

// fieldError is one error: the field it concerns ("" for the whole form)
// and what to do about it.
type fieldError struct {
	Field   string
	Anchor  string // id of the control the summary links to
	Message string
}

// Role says who is signed in, for the header.
func (p page) Role() string {
	if !p.C.On || !p.C.Signed {
		return ""
	}
	return describeRole(p.C.P)
}

// Links lists the navigation the caller's role may use.
func (p page) Links() []navLink {
	c := p.C
	if c.On && !c.Signed {
		return nil
	}
	var out []navLink
	add := func(key, href, text string) {
		out = append(out, navLink{Href: href, Text: text, Current: p.Nav == key})
	}
	if c.app().OnlyProtectsData() {
		add("privacy", "/console/privacy", "Data protection")
		return out
	}
	a := c.app()
	if !a.SeesCases() {
		add("operations", "/console/operations", "Operations")
		return out
	}
	add("at-risk", "/console/at-risk", "At risk now")
	if c.writer() {
		add("new", "/console/referrals/new", "New referral")
	}
	if c.seesChild() {
		add("children", "/console/children", "Children in our care")
	}
	add("safeguarding", "/console/safeguarding", "Safeguarding")
	if c.allocator() {
		add("allocation", "/console/allocation", "Allocation")
	}
	if c.app().SeesTeams() {
		add("team", "/console/team", "Team and caseloads")
	}
	if c.app().SeesSettings() {
		add("settings", "/console/authority", "Authority settings")
	}
	add("capacity", "/console/capacity", "Capacity")
	add("timeliness", "/console/timeliness", "Timeliness")
	if c.app().ReadsNational() {
		add("national", "/console/national", "National view")
	}
	add("planning", "/console/planning", "Planning")
	if c.auditor() {
		add("audit", "/console/audit", "Audit")
	}
	if a.WatchesEngine() {
		add("operations", "/console/operations", "Operations")
	}
	if c.app().ProtectsData() {
		add("privacy", "/console/privacy", "Data protection")
	}
	return out
}

type navLink struct {
	Href, Text string
	Current    bool
}

// ErrorFor returns the message about field, if any.
func (p page) ErrorFor(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

func describeRole(p auth.Principal) string { return app.Describe(p, defaultRegistry) }

var funcs = template.FuncMap{
	"join":       strings.Join,
	"add":        func(a, b int) int { return a + b },
	"changeForm": newChangeForm,
}

// changeForm is one of a page's small forms that each record one change to
// what the page shows (a rota's pause, an authority's pledge): sent with
// the page's CSRF token, its own idempotency key and the version the page
// showed, so a change made meanwhile is refused, not overwritten.
type changeForm struct {
	CSRF, Action, Key string
	Version           int
	Fields            []field
	Submit, ID        string
}

func newChangeForm(csrf, action, key string, version int, fields []field, submit, id string) changeForm {
	return changeForm{CSRF: csrf, Action: action, Key: key, Version: version, Fields: fields, Submit: submit, ID: id}
}

var pageFiles = []string{"atrisk", "referral", "form", "capacity", "timeliness", "audit", "history", "signin", "message", "allocation", "rota", "children", "journey", "safeguarding", "team", "teamform", "choose", "settings", "national", "operations", "planning", "privacy", "record"}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range pageFiles {
		out[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// render writes a whole page.
func (s *Server) render(w http.ResponseWriter, code int, name string, p page) {
	s.exec(w, code, name, "layout.html", p)
}

// exec writes one template of a page's set (the whole page, or a fragment
// such as the at-risk list's results).
func (s *Server) exec(w http.ResponseWriter, code int, name, tmpl string, p page) {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, tmpl, p); err != nil {
		s.log().Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// message is a page that says one thing.
type message struct {
	Heading string
	Body    string
	Link    string
	LinkTo  string
}

func (s *Server) fail(w http.ResponseWriter, c *call, code int, heading, body string) {
	m := message{Heading: heading, Body: body}
	if code == http.StatusUnauthorized {
		m.Link, m.LinkTo = "Sign in", "/console/sign-in"
	} else if c.app().SeesCases() {
		m.Link, m.LinkTo = "Go to the referrals at risk now", "/console/at-risk"
	} else {
		m.Link, m.LinkTo = "Go to the operations page", c.app().Landing()
	}
	s.render(w, code, "message", page{Title: heading, C: c, Data: m})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, c *call) {
	s.fail(w, c, http.StatusNotFound, "Page not found", "If you typed the web address, check it is correct. If you followed a link to a referral, it may belong to another authority, or the address may be incomplete.")
}

func (s *Server) noReferral(w http.ResponseWriter, c *call) {
	s.fail(w, c, http.StatusNotFound, "There is no referral with this reference", "Check the address. A referral of another authority (or region) is not shown to you.")
}

func (s *Server) unavailable(w http.ResponseWriter, c *call, err error) {
	s.log().Error("console: store", "err", err)
	s.fail(w, c, http.StatusServiceUnavailable, "Sorry, there is a problem with the service", "The event store did not answer. Nothing was changed. Try again in a moment.")
}

func (s *Server) forbidden(w http.ResponseWriter, c *call, what string) {
	s.fail(w, c, http.StatusForbidden, "You cannot "+what, fmt.Sprintf("You are signed in as %s, and this role may not %s.", describeRole(c.P), what))
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
