// Package console is the web console for the people who run the scheme:
// team leaders and social workers of the receiving authorities, regional
// coordinators, auditors, operators and the data protection officer. It is
// server-rendered HTML (html/template, files embedded in the binary) on
// GOV.UK Frontend's components and styles (static/govuk/, vendored by
// scripts/govuk-frontend.sh), works without JavaScript and by keyboard
// alone, and calls the same engine functions as the API (engine.Handle, engine.Load, the views,
// package audit) with the same role rules (package auth), never HTTP to
// itself.
//
// Pages, each a plain URL:
//
//	/ and /console/at-risk           open referrals by time left
//	/console/referrals/new           receive a referral
//	/console/referrals/{id}          a referral: status, deadline, timeline, actions
//	/console/referrals/{id}/{action} one action's form (notify, search, place ...)
//	/console/allocation              the partnership's referrals to allocate and answers awaited
//	/console/regions/{region}/rota   the rota: order, next, thresholds, pledges, pauses
//	/console/children                children in our care: social worker, care status, next due
//	/console/children/{childRef}     a child's journey from referral to leaving care
//	/console/referrals/{id}/care/{action} a care action's form (missing, return ...)
//	/console/safeguarding            children missing now and returned, overdue first
//	/console/team                    the team: rota, who is passed over, caseloads, children to allocate
//	/console/authorities/{code}/team/workers/...  add a worker, their details, an absence, leaving
//	/console/team/children/{id}      a child's social worker: by the rota or by choice
//	/console/authority               the authority's settings: pledge and single point of contact
//	/console/national                the regions' shares of referrals and of children, by year
//	/console/capacity                thresholds, looked after, pledges; as of a date
//	/console/timeliness              share placed in time, working days, breaches
//	/console/audit                   the whole log's verification (auditors)
//	/console/audit/referrals/{id}    a referral's history with its hash chain
//	/console/planning                the forecast, staff needed, training places (and their CSV)
//	/console/operations              readiness, views (rebuild, void a stop), parked messages and replay, last verification
//	/console/privacy                 the data protection officer's: disposals, holds, subject access, read audit
//	/console/privacy/records/{id}    a child's record: until when it is kept, its legal holds; place or release one
//	/console/sign-in                 the bearer token, for a session kept on the server
//
// Times are shown in Europe/London, durations in working days, shares as
// percentages; the numbers are the views' numbers, as the API serves them.
//
//ntsflow:shell
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/views"
)

//go:embed templates/*.html static/*
var files embed.FS

// Server serves the console. The zero values of the optional fields are
// useful: the shipped calendar, time.Now, a random CSRF key per process.
type Server struct {
	Engine      *engine.Engine
	Views       *views.Set
	Authorities *refdata.Registry
	// Calendar counts working days (default: the shipped calendar).
	Calendar *calendar.Calendar
	// Tokens, if set, turns sign-in on; without it every page says that
	// anyone who can reach the engine can read and change every referral.
	Tokens *auth.Tokens
	Log    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Secure marks the session cookie Secure (and names it __Host-...):
	// set it when serving TLS.
	Secure bool
	// Sessions keeps the signed-in sessions (default: in this process's
	// memory, so a restart signs everyone out). serve gives the event
	// store's session bucket.
	Sessions SessionStore
	// Metrics, if set, counts refused sign-ins.
	Metrics *metrics.Metrics
	// EventStore is the log itself, for the auditors' verify, which reads
	// more of it than the engine's port gives.
	EventStore *eventstore.Store
	// SessionIdle ends a session unused for this long (default
	// DefaultSessionIdle); SessionMaxAge ends any session this long after
	// signing in (default DefaultSessionMaxAge).
	SessionIdle, SessionMaxAge time.Duration
	// Key derives the CSRF key. Instances that share it (the chain key,
	// kept in NATS) accept each other's forms; without it each process
	// makes its own, and a restart asks for forms to be sent again.
	Key []byte
	// AllocationPolicy is the allocated authority's response time (default:
	// the shipped policy), as the API's.
	AllocationPolicy *allocation.Policy
	// SafeguardingPolicy is the missing-episode policy (default: the
	// shipped one), whose times the care forms put in their commands, as
	// the API's.
	SafeguardingPolicy *safeguarding.Policy
	// RefreshEvery is how often the at-risk page refreshes its list with
	// its small script (default 30s; the page works without it).
	RefreshEvery time.Duration
	// Ready says whether the node can serve, as /readyz says it (nil:
	// always ready).
	Ready func(context.Context) error
	// Verifier keeps the log's last verification, shared with the API
	// (nil: one of the console's own).
	Verifier *app.Verifier
	// Reads is the read audit every read of a child's record is recorded
	// in (nil: none).
	Reads *app.ReadAudit

	once    sync.Once
	store   SessionStore
	pages   map[string]*template.Template
	csrfKey []byte
	mux     *http.ServeMux
}

// Mount serves the console at / and under /console/, and everything else
// with api (the JSON API).
func (s *Server) Mount(api http.Handler) http.Handler {
	s.init()
	m := http.NewServeMux()
	m.Handle("/console/", s.mux)
	m.Handle("GET /{$}", s.mux)
	m.Handle("/", api)
	return m
}

// Handler serves the console alone (at / and /console/).
func (s *Server) Handler() http.Handler { s.init(); return s.mux }

func (s *Server) init() {
	s.once.Do(func() {
		s.pages = parsePages()
		if s.Verifier == nil {
			s.Verifier = &app.Verifier{}
		}
		s.store = s.Sessions
		if s.store == nil {
			s.store = &memorySessions{maxAge: s.sessionMaxAge(), now: s.now, recs: map[string]memoryRecord{}}
		}
		if len(s.Key) > 0 {
			m := hmac.New(sha256.New, s.Key)
			m.Write([]byte("ntsflow console csrf v1"))
			s.csrfKey = m.Sum(nil)
		} else {
			s.csrfKey = make([]byte, 32)
			rand.Read(s.csrfKey)
		}
		mux := http.NewServeMux()
		static, _ := fs.Sub(files, "static")
		mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
		// The pages about children's referrals, and the engine's pages.
		page := func(pattern string, h func(w http.ResponseWriter, r *http.Request, c *call)) {
			mux.Handle(pattern, s.wrap(s.forCases(h)))
		}
		enginePage := func(pattern string, h func(w http.ResponseWriter, r *http.Request, c *call)) {
			mux.Handle(pattern, s.wrap(h))
		}
		page("GET /{$}", s.atRisk)
		page("GET /console/{$}", s.atRisk)
		page("GET /console/at-risk", s.atRisk)
		enginePage("GET /console/sign-in", s.signInPage)
		enginePage("POST /console/sign-in", s.signIn)
		enginePage("POST /console/sign-out", s.signOut)
		page("GET /console/referrals/new", s.receiveForm)
		page("POST /console/referrals/new", s.receive)
		page("GET /console/referrals/{id}", s.referral)
		// The data protection officer corrects on a request without
		// reading referrals otherwise: app.Referrals.Correction says who.
		enginePage("GET /console/referrals/{id}/correct", s.correctForm)
		enginePage("POST /console/referrals/{id}/correct", s.correct)
		page("GET /console/referrals/{id}/{action}", s.actionForm)
		page("POST /console/referrals/{id}/{action}", s.action)
		page("GET /console/allocation", s.allocationPage)
		page("GET /console/regions/{region}/rota", s.rotaPage)
		page("POST /console/regions/{region}/{change}", s.rotaChange)
		page("GET /console/children", s.childrenPage)
		page("GET /console/children/{child}", s.journey)
		page("GET /console/referrals/{id}/care/{action}", s.careForm)
		page("POST /console/referrals/{id}/care/{action}", s.careSend)
		page("GET /console/safeguarding", s.safeguardingPage)
		page("GET /console/team", s.teamHome)
		page("GET /console/authorities/{code}/team", s.teamPage)
		page("GET /console/authorities/{code}/team/workers/new", s.workerForm)
		page("POST /console/authorities/{code}/team/workers/new", s.workerAdd)
		page("GET /console/authorities/{code}/team/workers/{staffId}/{change}", s.workerChangeForm)
		page("POST /console/authorities/{code}/team/workers/{staffId}/{change}", s.workerChange)
		page("GET /console/team/children/{id}", s.childWorkerForm)
		page("POST /console/team/children/{id}", s.childWorker)
		page("GET /console/authority", s.settingsHome)
		page("GET /console/authorities/{code}/settings", s.settingsPage)
		page("POST /console/authorities/{code}/settings/{change}", s.settingsChange)
		page("GET /console/national", s.nationalPage)
		page("GET /console/capacity", s.capacity)
		page("GET /console/timeliness", s.timeliness)
		page("GET /console/audit", s.auditPage)
		enginePage("POST /console/audit/verify", s.runVerify)
		enginePage("GET /console/operations", s.operations)
		enginePage("POST /console/operations/replay", s.replay)
		enginePage("POST /console/operations/rebuild", s.rebuild)
		enginePage("POST /console/operations/void", s.void)
		page("GET /console/planning", s.planning)
		page("GET /console/planning/forecast.csv", s.forecastCSV)
		page("GET /console/planning/training-places.csv", s.trainingPlacesCSV)
		page("GET /console/audit/referrals/{id}", s.history)
		enginePage("GET /console/privacy", s.privacyPage)
		enginePage("POST /console/privacy/subject-access", s.subjectAccess)
		enginePage("GET /console/privacy/records/{id}", s.recordPage)
		enginePage("POST /console/privacy/records/{id}/legal-hold", s.holdSend(true))
		enginePage("POST /console/privacy/records/{id}/legal-hold/release", s.holdSend(false))
		enginePage("/console/", s.notFound)
		s.mux = mux
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// call is one request as the console sees it: who is calling and the
// session that carries the CSRF token.
type call struct {
	// On is true when sign-in is on (the engine has tokens).
	On bool
	// Signed is true when a signed-in principal is calling.
	Signed bool
	P      auth.Principal
	sid    string
	CSRF   string
	r      *http.Request
}

// wrap sets the security headers, reads the session, checks the CSRF token
// of every POST and sends callers who are not signed in to the sign-in page.
func (s *Server) wrap(h func(w http.ResponseWriter, r *http.Request, c *call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		c, serr := s.session(w, r)
		rec := &status{ResponseWriter: w, code: 200}
		defer func() {
			s.log().LogAttrs(r.Context(), slog.LevelInfo, "console", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.code), slog.Duration("took", time.Since(start)))
		}()
		if serr != nil {
			s.log().Error("console: session not read", "err", serr)
			s.fail(rec, c, http.StatusServiceUnavailable, "Sorry, the console cannot check who you are just now",
				"The engine could not read your session. Nothing was changed. Try again in a minute; if it goes on, tell your administrator.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.fail(rec, c, http.StatusBadRequest, "The form could not be read", "Go back, reload the page and send the form again.")
				return
			}
			if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(c.CSRF)) {
				s.fail(rec, c, http.StatusForbidden, "This form has expired", "For your safety, forms are valid only in the session that opened them. Go back, reload the page and send the form again.")
				return
			}
		}
		open := r.URL.Path == "/console/sign-in" || r.URL.Path == "/console/sign-out"
		if c.On && !c.Signed && !open {
			if r.Method == http.MethodGet {
				http.Redirect(rec, r, "/console/sign-in?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(rec, c, http.StatusUnauthorized, "Sign in first", "Your session has ended. Sign in and send the form again.")
			return
		}
		if c.Signed && !c.app().HasPages() && !open {
			s.fail(rec, c, http.StatusForbidden, "No console pages for this role",
				"The console's pages are for the authorities, the regions, auditors and operators.")
			return
		}
		h(rec, r, c)
	})
}

// forCases serves a page about children's referrals to the roles that see
// them; the operator, who watches the engine instead, starts on the
// operations page and is told why any other page is not for them.
func (s *Server) forCases(h func(w http.ResponseWriter, r *http.Request, c *call)) func(w http.ResponseWriter, r *http.Request, c *call) {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		a := c.app()
		switch {
		case a.SeesCases():
			h(w, r, c)
		case r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == "/console/" || r.URL.Path == "/console/at-risk"):
			// Everyone else's first page (the header's link goes there) is
			// the operator's own first page.
			http.Redirect(w, r, a.Landing(), http.StatusSeeOther)
		default:
			s.fail(w, c, http.StatusForbidden, "This page is about children's referrals",
				"You are signed in as "+describeRole(c.P)+": this role watches the engine, not the children's cases. The operations page shows the engine's state.")
		}
	}
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the writer underneath.
func (s *status) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// The session cookie holds only a random session id (HttpOnly,
// SameSite=Strict, Secure under TLS); a signed-in session's record is kept
// on the server (session.go). Before signing in the id is not stored: it
// only keys the CSRF token, an HMAC of the id.
func (s *Server) cookieName() string {
	if s.Secure {
		return "__Host-ntsflow"
	}
	return "ntsflow_session"
}

// session reads the caller's session. An error means the session store did
// not answer: the caller is then neither signed in nor turned away as
// signed out.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*call, error) {
	c := &call{On: s.Tokens != nil, r: r}
	var err error
	// A cookie of an earlier version carried the bearer token after a "~":
	// it does not match, so it is replaced at once.
	if ck, cerr := r.Cookie(s.cookieName()); cerr == nil && len(ck.Value) == 32 && isHex(ck.Value) {
		c.sid = ck.Value
		if c.On {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			c.P, c.Signed, err = s.signedIn(ctx, c.sid)
			cancel()
		}
	}
	if c.sid == "" {
		s.setSession(w, c, newSessionID())
	}
	c.CSRF = s.csrfFor(c.sid)
	return c, err
}

// setSession gives the browser the session id sid.
func (s *Server) setSession(w http.ResponseWriter, c *call, sid string) {
	c.sid = sid
	c.CSRF = s.csrfFor(c.sid)
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: sid, Path: "/", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) csrfFor(sid string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(sid))
	return hex.EncodeToString(m.Sum(nil))
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) cal() *calendar.Calendar {
	if s.Calendar != nil {
		return s.Calendar
	}
	return defaultCalendar
}

var defaultCalendar = calendar.Default()

func (s *Server) reg() *refdata.Registry {
	if s.Authorities != nil {
		return s.Authorities
	}
	if s.Views != nil && s.Views.Registry != nil {
		return s.Views.Registry
	}
	return defaultRegistry
}

var defaultRegistry = refdata.Default()

// The role rules are package app's, the API's too: the console only asks.

// app is the caller as package app judges it.
func (c *call) app() app.Caller { return app.Caller{P: c.P, On: c.On} }

func (c *call) mayRead(authority string, reg *refdata.Registry) bool {
	return c.app().ReadsAuthority(authority, reg)
}

func (c *call) mayWrite(authority string, reg *refdata.Registry) bool {
	return c.app().WritesAuthority(authority, reg)
}

// mayAllocate: the region's partnership (region is its name).
func (c *call) mayAllocate(region string) bool { return c.app().Allocates(region) }

// allocator: app.Caller.SeesAllocation.
func (c *call) allocator() bool { return c.app().SeesAllocation() }

func (s *Server) rota() rota.Facts {
	return rota.Facts{Authorities: s.reg(), Views: s.Views, Policy: s.AllocationPolicy, Calendar: s.cal()}
}

// referrals are the referral's use cases, the API's too.
func (s *Server) referrals() app.Referrals {
	return app.Referrals{Engine: s.Engine, Authorities: s.reg(), Rota: s.rota(), Reads: s.Reads}
}

// writer: app.Caller.Writes.
func (c *call) writer() bool { return c.app().Writes() }

// auditor: app.Caller.Audits.
func (c *call) auditor() bool { return c.app().Audits() }

// seesChild: app.Caller.SeesChild.
func (c *call) seesChild() bool { return c.app().SeesChild() }

func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
