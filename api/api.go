// Package api is the HTTP face of the engine: JSON commands and queries
// under /v1, health and readiness probes. It decodes strictly, maps every
// failure to a status and an error code, and leaves all decisions to the
// deciders behind the engine. docs/openapi.yaml documents every route.
//
//ntsflow:shell
package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/views"
)

// Server serves the API.
type Server struct {
	Engine *engine.Engine
	Log    *slog.Logger
	// Ready reports whether the engine can serve (the store answers).
	Ready func(ctx context.Context) error
	// Authorities is the reference data: commands naming an authority not in
	// it are refused, and earlier codes of an authority are replaced by its
	// current one.
	Authorities *refdata.Registry
	// Calendar counts working days for the deadline fields (default: the
	// shipped calendar).
	Calendar *calendar.Calendar
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Views, if set, serves the capacity, timeliness and referral list views.
	Views *views.Set
	// EventStore is the log itself, for what is not a command and needs
	// more than the engine's port: the auditors' verify and export, the
	// operators' parked messages.
	EventStore *eventstore.Store
	// MaxWait bounds how long a view read waits for ?minSequence (default
	// DefaultMaxWait).
	MaxWait time.Duration
	// Metrics, if set, is served at /metrics and times every command.
	Metrics *metrics.Metrics
	// AllocationPolicy is the allocated authority's response time (default:
	// the shipped policy); the saga enforces it, the API stamps it on each
	// allocation.
	AllocationPolicy *allocation.Policy
	// SafeguardingPolicy is the missing-episode policy (default: the
	// shipped one); the API puts its times in the commands, the saga
	// enforces them.
	SafeguardingPolicy *safeguarding.Policy
	// Tokens, if set, turns authentication on: every route but the probes
	// needs a bearer token, and each role sees only what it may.
	Tokens *auth.Tokens
	// ReadTokenSecret keys the opaque read tokens authorities and regions
	// get instead of stream sequences; every instance serving one log needs
	// the same (serve gives the chain key). Empty: a key for this process.
	ReadTokenSecret []byte
	// BodyTimeout bounds how long reading a command's body may take
	// (default DefaultBodyTimeout): a client sending a byte a second, or
	// announcing more than it sends, is cut off.
	BodyTimeout time.Duration
	// Verifier keeps the log's last verification, which the console shows
	// too (nil: each verification is answered and not kept).
	Verifier *app.Verifier
	// Reads is the read audit every read of a child's record is recorded
	// in (nil: none).
	Reads *app.ReadAudit

	readTokens readTokens
}

// DefaultBodyTimeout bounds the reading of a command's body.
const DefaultBodyTimeout = 10 * time.Second

// Routes lists every route the server serves, as "METHOD /path". The
// OpenAPI test checks each is documented.
func (s *Server) Routes() map[string]http.HandlerFunc {
	routes := map[string]http.HandlerFunc{
		"POST /v1/referrals":                                          withCommand(s, s.receive),
		"POST /v1/referrals/{id}/notifications":                       actionRoute[aggregates.NotifyProfessionals](s, "notify"),
		"POST /v1/referrals/{id}/placement-searches":                  actionRoute[aggregates.RecordPlacementSearch](s, "search"),
		"POST /v1/referrals/{id}/age-assessment-requests":             actionRoute[aggregates.RequestAgeAssessment](s, "age-request"),
		"POST /v1/referrals/{id}/age-assessments":                     actionRoute[aggregates.RecordAgeAssessment](s, "age"),
		"POST /v1/referrals/{id}/placement":                           actionRoute[aggregates.Place](s, "place"),
		"POST /v1/referrals/{id}/withdrawal":                          actionRoute[aggregates.Withdraw](s, "withdraw"),
		"POST /v1/referrals/{id}/leaving-care":                        actionRoute[aggregates.RecordLeftCare](s, "left-care"),
		"GET /v1/referrals/{id}":                                      s.get,
		"GET /v1/referrals/{id}/history":                              s.history,
		"GET /v1/records":                                             s.recordsDue,
		"GET /v1/records/{id}":                                        s.record,
		"POST /v1/records/{id}/legal-hold":                            s.legalHold(true),
		"POST /v1/records/{id}/legal-hold/release":                    s.legalHold(false),
		"POST /v1/authorities/{code}/pledge":                          withCommand(s, s.setPledge),
		"PUT /v1/authorities/{code}/contact":                          withCommand(s, s.setContact),
		"POST /v1/referrals/{id}/allocation":                          allocationRoute(s, s.allocate),
		"POST /v1/referrals/{id}/acceptance":                          answerAllocation[aggregates.AcceptAllocation](s, app.ActAccept),
		"POST /v1/referrals/{id}/allocation-exception":                answerAllocation[aggregates.RaiseAllocationException](s, app.ActException),
		"GET /v1/regions/{region}/rota":                               s.rotaView,
		"PUT /v1/regions/{region}/rota":                               regionRoute[aggregates.SetRota](s, nil),
		"POST /v1/regions/{region}/pauses":                            regionRoute[aggregates.PauseAuthority](s, nil),
		"POST /v1/regions/{region}/pauses/{authority}/end":            regionRoute(s, pausedAuthority),
		"GET /v1/capacity/national":                                   s.national,
		"GET /v1/planning/forecast":                                   s.forecast,
		"GET /v1/authorities/{code}/team":                             s.team,
		"GET /v1/authorities/{code}":                                  s.authority,
		"PUT /v1/authorities/{code}/team/workers/{staffId}":           teamRoute[aggregates.SetWorker](s),
		"POST /v1/authorities/{code}/team/workers/{staffId}/absences": teamRoute[aggregates.MarkWorkerAway](s),
		"POST /v1/authorities/{code}/team/workers/{staffId}/leaving":  teamRoute[aggregates.RecordWorkerLeft](s),
		"POST /v1/referrals/{id}/social-worker":                       withCommand(s, s.allocateWorker),
		"GET /v1/planning/training-places":                            s.trainingPlaces,
		"GET /v1/capacity":                                            s.capacity,
		"GET /v1/capacity/regions/{region}":                           s.capacity,
		"GET /v1/capacity/authorities/{code}":                         s.capacity,
		"GET /v1/timeliness":                                          s.timeliness,
		"GET /v1/safeguarding":                                        s.safeguarding,
		"GET /v1/children":                                            s.children,
		"GET /v1/referrals":                                           s.listReferrals,
		"GET /v1/views":                                               s.viewStatuses,
		"POST /v1/views/{name}/rebuild":                               s.rebuildView,
		"GET /v1/audit/verify":                                        s.verifyLog,
		"GET /v1/audit/export":                                        s.exportLog,
		"GET /metrics":                                                s.metrics,
		"GET /healthz":                                                s.healthz,
		"GET /readyz":                                                 s.readyz,
		"GET /v1/parked":                                              s.listParked,
		"POST /v1/parked/replay":                                      s.replayParked,
		"POST /v1/voids":                                              withCommand(s, s.voidMessage),
	}
	for k, h := range s.careRoutes() {
		routes[k] = h
	}
	for k, h := range s.privacyRoutes() {
		routes[k] = h
	}
	return routes
}

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range s.Routes() {
		if s.Views == nil && needsViews(pattern) {
			h = func(w http.ResponseWriter, r *http.Request) {
				writeError(w, apiError(http.StatusServiceUnavailable, "views_disabled", "", "this instance serves no views"))
			}
		}
		mux.HandleFunc(pattern, s.authorizeRoute(pattern, h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, apiError(http.StatusMethodNotAllowed, "method_not_allowed", "", "%s is not a method of %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		writeError(w, apiError(http.StatusNotFound, "no_route", "", "no route %s %s; see docs/openapi.yaml", r.Method, r.URL.Path))
	})
	return s.logged(s.authenticate(mux))
}

// allowedMethods lists the methods some route serves at r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if slices.Contains(allow, http.MethodGet) {
		allow = append(allow, http.MethodHead)
	}
	return allow
}

func needsViews(pattern string) bool {
	for _, p := range []string{"GET /v1/capacity", "GET /v1/planning", "GET /v1/timeliness", "GET /v1/safeguarding", "GET /v1/children", "GET /v1/referrals", "GET /v1/views", "POST /v1/views/"} {
		if strings.HasPrefix(pattern, p) && pattern != "GET /v1/referrals/{id}" && pattern != "GET /v1/referrals/{id}/history" {
			return true
		}
	}
	return pattern == "GET /v1/records"
}

// commandName names a command route for metrics: its last path segment
// ("placement", "notifications"...), or "receive" for POST /v1/referrals.
func commandName(pattern string) string {
	if pattern == "POST /v1/referrals" {
		return "receive"
	}
	return pattern[strings.LastIndex(pattern, "/")+1:]
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		writeError(w, apiError(http.StatusNotFound, "no_metrics", "", "metrics are not enabled"))
		return
	}
	s.Metrics.Handler().ServeHTTP(w, r)
}

func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		if s.Metrics != nil && r.Method == http.MethodPost && strings.HasPrefix(r.Pattern, "POST /v1/") {
			s.Metrics.ObserveCommand(commandName(r.Pattern), rec.status, time.Since(start))
		}
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return
		}
		s.log().LogAttrs(r.Context(), slog.LevelInfo, "http", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Float64("took_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// CommandResult is the body of a successful command.
type CommandResult struct {
	// The aggregate the command changed: a referral, an authority (pledge,
	// contact) or a region (rota, pauses).
	ReferralID  string `json:"referralId,omitempty"`
	AuthorityID string `json:"authority,omitempty"`
	RegionID    string `json:"region,omitempty"`
	// Allocation, on an allocation: the authority chosen, its rota
	// position, every authority passed over and why, and when its contact
	// must answer.
	Allocation *events.ReferralAllocated `json:"allocation,omitempty"`
	Version    int                       `json:"version"`
	// Sequence is the commit's stream sequence, for callers that see the
	// whole log; authorities and regions get ReadToken instead.
	Sequence  *uint64        `json:"sequence,omitempty"`
	ReadToken string         `json:"readToken,omitempty"`
	Events    []EventSummary `json:"events"`
}

// EventSummary names an event a command recorded.
type EventSummary struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request, c aggregates.ReceiveReferral, meta engine.Meta) {
	out, err := s.referrals().Receive(r.Context(), caller(r), c, meta)
	if err == nil {
		w.Header().Set("Location", "/v1/referrals/"+out.AggregateID)
	}
	s.answer(w, r, out.AggregateID, c, out, err, http.StatusCreated)
}

// actionRoute serves one of a referral's actions (app.ActionNames), whose
// body decodes into C.
func actionRoute[C aggregates.Command](s *Server, action string) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta) {
		id := r.PathValue("id")
		out, err := s.referrals().Act(r.Context(), caller(r), id, action, c, meta)
		s.answer(w, r, id, c, out, err, http.StatusOK)
	})
}

// referrals are the referral's use cases, on this server's engine and facts.
func (s *Server) referrals() app.Referrals {
	return app.Referrals{Engine: s.Engine, Authorities: s.Authorities, Rota: s.rota(), Reads: s.Reads}
}

// withCommand serves a request whose body is a command of type C: serve
// gets it, with the request's Meta, once it has decoded; a body or
// headers refused are answered by decodeCommand.
func withCommand[C any](s *Server, serve func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var c C
		if meta, ok := s.decodeCommand(w, r, &c); ok {
			serve(w, r, c, meta)
		}
	}
}

// decodeCommand reads a command: its body into v and its headers into a
// Meta. On failure it has written the error response.
func (s *Server) decodeCommand(w http.ResponseWriter, r *http.Request, v any) (engine.Meta, bool) {
	timeout := s.BodyTimeout
	if timeout <= 0 {
		timeout = DefaultBodyTimeout
	}
	// Errors here mean the connection cannot take a deadline (HTTP/2 before
	// Go supported it, a test recorder): the server's ReadTimeout still holds.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
	if e := decodeBody(r, v); e != nil {
		writeError(w, e)
		return engine.Meta{}, false
	}
	meta, e := metaFrom(r)
	if e != nil {
		writeError(w, e)
		return engine.Meta{}, false
	}
	return meta, true
}

// MaxPersonLength bounds the X-Actor header, in characters.
const MaxPersonLength = 100

// metaFrom reads the headers that come with a command. Every header that
// is recorded is bounded. With tokens on, the actor recorded is the
// token's name; X-Actor may only name a person within it ("Stockport
// placements team / Jane Smith"), never replace it.
func metaFrom(r *http.Request) (engine.Meta, *Error) {
	m := engine.Meta{Actor: "anonymous"}
	if c := r.Header.Get("X-Correlation-Id"); c != "" {
		if len(c) > 128 || strings.IndexFunc(c, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
			return m, apiError(http.StatusBadRequest, "invalid_header", "X-Correlation-Id", "a correlation id is 1 to 128 visible ASCII characters")
		}
		m.CorrelationID = c
	}
	person := r.Header.Get("X-Actor")
	if person != "" {
		if p := aggregates.TextProblem(person, MaxPersonLength); p != "" || len(r.Header.Values("X-Actor")) > 1 {
			return m, apiError(http.StatusBadRequest, "invalid_header", "X-Actor", "X-Actor names one person, in at most %d characters without control characters", MaxPersonLength)
		}
	}
	switch p, on := principal(r); {
	case on && person != "":
		m.Actor, m.Person = p.Name, person
	case on:
		m.Actor = p.Name
	case person != "":
		m.Actor = person
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(k) > 255 || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
			return m, apiError(http.StatusBadRequest, "invalid_header", "Idempotency-Key", "an idempotency key is 1 to 255 visible ASCII characters")
		}
		m.IdempotencyKey = k
	}
	if im := r.Header.Get("If-Match"); im != "" {
		v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(im, "W/"), `"`))
		if err != nil || v < 0 {
			return m, apiError(http.StatusBadRequest, "invalid_header", "If-Match", "If-Match is the referral's version, a whole number (got %q)", im)
		}
		m.ExpectedVersion = &v
	}
	return m, nil
}

// ReferralView is a referral's current state as the API shows it.
type ReferralView struct {
	ReferralID          string      `json:"referralId"`
	Version             int         `json:"version"`
	Sequence            *uint64     `json:"sequence,omitempty"`
	ReadToken           string      `json:"readToken,omitempty"`
	Status              string      `json:"status"`
	ReceivingAuthority  string      `json:"receivingAuthority,omitempty"`
	Region              string      `json:"region,omitempty"`
	Allocation          *Allocation `json:"allocation,omitempty"`
	DeclinedBy          []string    `json:"declinedBy,omitempty"`
	Route               string      `json:"route"`
	ReceivedAt          time.Time   `json:"receivedAt"`
	ProfessionsNotified []string    `json:"professionsNotified"`
	PlacementSearches   int         `json:"placementSearches"`
	OffersFound         int         `json:"offersFound"`
	AgeAssessment       string      `json:"ageAssessment,omitempty"`
	PlacedAt            *time.Time  `json:"placedAt,omitempty"`
	PlacementType       string      `json:"placementType,omitempty"`
	WithdrawnReason     string      `json:"withdrawnReason,omitempty"`
	LeftCareAt          *time.Time  `json:"leftCareAt,omitempty"`
	Deadline            Deadline    `json:"deadline"`
	// Child is what the referral says of the child, as last corrected, for
	// the roles that work with the child.
	Child *ChildView `json:"child,omitempty"`
}

// ChildView is what the referral says of the child, corrections applied.
type ChildView struct {
	ChildReference string `json:"childReference"`
	DateOfBirth    string `json:"dateOfBirth,omitempty"`
	Sex            string `json:"sex,omitempty"`
	Nationality    string `json:"nationality,omitempty"`
	Corrections    int    `json:"corrections"`
}

// Allocation is a referral into the scheme awaiting an authority's answer.
type Allocation struct {
	Authority   string    `json:"authority"`
	Position    int       `json:"position"`
	AllocatedAt time.Time `json:"allocatedAt"`
	RespondBy   time.Time `json:"respondBy"`
}

// Deadline is where the referral stands against its deadline.
type Deadline struct {
	DueAt              *time.Time `json:"dueAt"`
	WarningAt          *time.Time `json:"warningAt"`
	WorkingDaysElapsed int        `json:"workingDaysElapsed"`
	State              string     `json:"state"`
	Policy             string     `json:"policy,omitempty"`
	EscalatedTo        string     `json:"escalatedTo,omitempty"`
}

func (s *Server) deadline(ref aggregates.Referral) Deadline {
	now, cal := s.now(), s.cal()
	return Deadline{
		DueAt: timePtr(ref.DueAt), WarningAt: timePtr(ref.WarningAt), Policy: ref.DeadlinePolicy, EscalatedTo: ref.EscalatedTo,
		WorkingDaysElapsed: deadline.WorkingDaysElapsed(cal, ref, now), State: ref.DeadlineState(now),
	}
}

var defaultCalendar = calendar.Default()

func (s *Server) cal() *calendar.Calendar {
	if s.Calendar != nil {
		return s.Calendar
	}
	return defaultCalendar
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ref, stored, ok := s.read(w, r, id, app.ViewReferral)
	if !ok {
		return
	}
	v := ReferralView{
		ReferralID: ref.ID, Version: ref.Version, Status: string(ref.Status),
		ReceivingAuthority: ref.ReceivingAuthority, Route: ref.Route, ReceivedAt: ref.ReceivedAt,
		ProfessionsNotified: append([]string{}, ref.Professions...), PlacementSearches: ref.Searches, OffersFound: ref.OffersFound,
		AgeAssessment: ref.AgeAssessment, PlacementType: ref.PlacementType, WithdrawnReason: ref.WithdrawnReason,
		PlacedAt: timePtr(ref.PlacedAt), LeftCareAt: timePtr(ref.LeftCareAt), Deadline: s.deadline(ref),
	}
	v.Region, v.DeclinedBy = ref.Region, ref.Declined
	if caller(r).SeesChild() {
		v.Child = &ChildView{ChildReference: ref.ChildReference, DateOfBirth: ref.DateOfBirth, Sex: ref.Sex, Nationality: ref.Nationality, Corrections: ref.Corrections}
	}
	if ref.Status == aggregates.StatusAwaitingAcceptance {
		v.Allocation = &Allocation{Authority: ref.AllocatedTo, Position: ref.AllocationPosition, AllocatedAt: ref.AllocatedAt, RespondBy: ref.RespondBy}
	}
	v.Sequence, v.ReadToken = s.position(r, eventstore.LastSequenceOf(stored))
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(ref.Version)))
	writeJSON(w, http.StatusOK, v)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// HistoryEntry is one event of a referral's story.
type HistoryEntry struct {
	// Sequence is left out for authorities and regions (see readtoken.go).
	Sequence uint64 `json:"sequence,omitempty"`
	events.Event
}

// History is a referral's whole story, oldest first.
type History struct {
	ReferralID string         `json:"referralId"`
	Version    int            `json:"version"`
	Events     []HistoryEntry `json:"events"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ref, stored, ok := s.read(w, r, id, app.ViewHistory)
	if !ok {
		return
	}
	h := History{ReferralID: id, Version: ref.Version}
	hide := restricted(r)
	for _, st := range stored {
		for _, ev := range st.Commit.Events {
			e := HistoryEntry{Sequence: st.Sequence, Event: ev}
			if hide {
				e.Sequence = 0
			}
			h.Events = append(h.Events, e)
		}
	}
	writeJSON(w, http.StatusOK, h)
}

// load reads a referral the caller may see (app.Referrals.Referral); ok
// is false when it has written the answer.
func (s *Server) load(w http.ResponseWriter, r *http.Request, id string) (aggregates.Referral, []eventstore.Stored, bool) {
	ref, stored, err := s.referrals().Referral(r.Context(), caller(r), id)
	return s.loaded(w, id, ref, stored, err)
}

// loaded answers a failed read of a referral; ok is false when it has.
func (s *Server) loaded(w http.ResponseWriter, id string, ref aggregates.Referral, stored []eventstore.Stored, err error) (aggregates.Referral, []eventstore.Stored, bool) {
	if err != nil {
		e := errorFor(err, noVersion)
		if e.status >= 500 {
			s.log().Error("load failed", "referral", id, "err", err)
		}
		writeError(w, e)
		return ref, nil, false
	}
	return ref, stored, true
}

// read reads a child's record, as load does, and records the read in the
// read audit with the reader's reason (X-Read-Reason) and the person named in
// X-Actor; ok is false when it has written the answer.
func (s *Server) read(w http.ResponseWriter, r *http.Request, id, view string) (aggregates.Referral, []eventstore.Stored, bool) {
	meta, e := metaFrom(r)
	if e != nil {
		writeError(w, e)
		return aggregates.Referral{}, nil, false
	}
	of := app.ReadOf{View: view, Reason: r.Header.Get("X-Read-Reason"), Person: meta.Person}
	if _, on := principal(r); !on && meta.Actor != "anonymous" {
		of.Person = meta.Actor
	}
	ref, stored, err := s.referrals().Read(r.Context(), caller(r), id, of)
	return s.loaded(w, id, ref, stored, err)
}

// position is what a response says of where in the log it stands: the
// stream sequence for callers that see everything, an opaque read token
// for authorities and regions.
func (s *Server) position(r *http.Request, seq uint64) (*uint64, string) {
	if restricted(r) {
		return nil, s.sealSequence(seq)
	}
	return &seq, ""
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if rd := s.ops().Readiness(r.Context()); !rd.Ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": rd.Reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ops are the operators' use cases, the console's operations page's too.
func (s *Server) ops() app.Operations {
	var chainKey []byte
	if s.Engine != nil {
		chainKey = s.Engine.ChainKey
	}
	return app.Operations{Store: s.EventStore, Views: s.Views, Ready: s.Ready, Verifier: s.Verifier, ChainKey: chainKey, Engine: s.Engine, Log: s.log()}
}
