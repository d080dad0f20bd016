package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// ViewResponse wraps every view read: which view, the stream sequence it
// reflects (everything up to it, nothing after), and the moment it was
// read as of (null: now).
type ViewResponse struct {
	View string `json:"view"`
	// Sequence for callers that see the whole log; ReadToken, opaque, for
	// authorities and regions (pass it back as ?readToken= to read your
	// writes).
	Sequence  *uint64    `json:"sequence,omitempty"`
	ReadToken string     `json:"readToken,omitempty"`
	AsOf      *time.Time `json:"asOf"`
	Result    any        `json:"result"`
}

// DefaultMaxWait bounds how long a read waits for ?minSequence.
const DefaultMaxWait = 10 * time.Second

// at is when a view read is asked for: as of ?asOf (folded from zero), or
// live after waiting for ?minSequence (or ?readToken), or live now. param
// names the parameter a wait came from; ok is false once an error has been
// written.
func (s *Server) at(w http.ResponseWriter, r *http.Request) (at app.At, param string, ok bool) {
	q := r.URL.Query()
	if a := q.Get("asOf"); a != "" {
		asOf, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "asOf", "asOf is an RFC 3339 time, e.g. 2025-06-30T23:59:59Z"))
			return at, "", false
		}
		return app.At{AsOf: asOf}, "", true
	}
	at.Now = s.now
	param, m := "minSequence", q.Get("minSequence")
	if t := q.Get("readToken"); t != "" {
		param, m = "readToken", t
	}
	if m == "" {
		return at, "", true
	}
	var err error
	switch {
	case param == "readToken":
		if at.Min, err = s.openSequence(m); err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "readToken is a token from an earlier response of this engine"))
			return at, param, false
		}
	case restricted(r):
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "pass the readToken of an earlier response as ?readToken= (stream sequences are for auditors)"))
		return at, param, false
	default:
		if at.Min, err = strconv.ParseUint(m, 10, 64); err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "minSequence is a stream sequence, a whole number"))
			return at, param, false
		}
	}
	at.Wait = s.MaxWait
	if at.Wait <= 0 {
		at.Wait = DefaultMaxWait
	}
	return at, param, true
}

// answerRead writes what a query read (result shapes it for the API), or
// why it could not: sequences are named only to callers that see the
// whole log.
func answerRead[T any](s *Server, w http.ResponseWriter, r *http.Request, param string, rd app.Read[T], err error, result func(T) any) {
	var behind *app.Behind
	switch {
	case errors.As(err, &behind):
		e := apiError(http.StatusServiceUnavailable, "view_behind", param, "%s", behind.Error())
		if !restricted(r) {
			e = apiError(http.StatusServiceUnavailable, "view_behind", param, "the %s view has not reached sequence %d within %v (it is at %d); try again", behind.View, behind.Want, behind.Wait, behind.Has)
		}
		writeError(w, e)
		return
	case err != nil:
		writeError(w, errorFor(err, noVersion))
		return
	}
	resp := ViewResponse{View: rd.View, Result: result(rd.Result)}
	if !rd.AsOf.IsZero() {
		asOf := rd.AsOf
		resp.AsOf = &asOf
	}
	resp.Sequence, resp.ReadToken = s.position(r, rd.Sequence)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) queries() app.Queries { return app.Queries{Views: s.Views} }

func same[T any](v T) any { return v }

func noVersion() (int, bool) { return 0, false }

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request) {
	// The path names the region or authority: one that names none is not
	// found, where a query parameter would be invalid.
	asked, e := s.scopeOf(r.PathValue("region"), r.PathValue("code"), http.StatusNotFound, "not_found", "code")
	if e != nil {
		writeError(w, e)
		return
	}
	region, code := asked.Region, asked.Authority
	at, param, ok := s.at(w, r)
	if !ok {
		return
	}
	rd, _, err := s.queries().Capacity(r.Context(), caller(r), app.CapacityQuery{Scope: asked}, at)
	answerRead(s, w, r, param, rd, err, func(rep projections.CapacityReport) any {
		switch {
		case code != "":
			if len(rep.Authorities) > 0 {
				return rep.Authorities[0]
			}
		case region != "":
			out := struct {
				Region      projections.CapacityRow   `json:"region"`
				Authorities []projections.CapacityRow `json:"authorities"`
				Note        string                    `json:"note,omitempty"`
			}{Authorities: rep.Authorities, Note: rep.Note}
			if len(rep.Regions) > 0 {
				out.Region = rep.Regions[0]
			}
			return out
		}
		return rep
	})
}

func (s *Server) timeliness(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := projections.TimelinessFilter{From: q.Get("from"), To: q.Get("to")}
	for _, m := range []struct{ name, v string }{{"from", f.From}, {"to", f.To}} {
		if m.v != "" {
			if _, err := time.Parse("2006-01", m.v); err != nil {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", m.name, "%s is a month, YYYY-MM", m.name))
				return
			}
		}
	}
	asked, at, param, ok := s.scopedAt(w, r)
	if !ok {
		return
	}
	rd, _, err := s.queries().Timeliness(r.Context(), caller(r), app.TimelinessQuery{Scope: asked, From: f.From, To: f.To}, at)
	answerRead(s, w, r, param, rd, err, same)
}

// safeguarding reads the safeguarding view: children missing now, return
// interviews due, and each authority's and region's figures, narrowed as
// the timeliness view is to what the caller may read.
func (s *Server) safeguarding(w http.ResponseWriter, r *http.Request) {
	asked, at, param, ok := s.scopedAt(w, r)
	if !ok {
		return
	}
	rd, err := s.queries().Safeguarding(r.Context(), caller(r), asked, at)
	answerRead(s, w, r, param, rd, err, same)
}

// children lists the children in care: the same use case as the
// console's page.
func (s *Server) children(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cq := app.ChildrenQuery{Child: strings.TrimSpace(q.Get("child")), CareStatus: q.Get("careStatus")}
	var e *Error
	if cq.Scope, e = s.scopeQuery(q); e != nil {
		writeError(w, e)
		return
	}
	if cq.CareStatus != "" && !slices.Contains(projections.CareStatuses, cq.CareStatus) {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "careStatus", "no care status %q; care statuses: %v", cq.CareStatus, projections.CareStatuses))
		return
	}
	if problem := app.ChildSearchProblem(cq.Child); problem != "" {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "child", "%s", problem))
		return
	}
	at, param, ok := s.at(w, r)
	if !ok {
		return
	}
	rd, _, err := s.queries().Children(r.Context(), caller(r), cq, at)
	answerRead(s, w, r, param, rd, err, same)
}

// scopeQuery checks the region and authority query parameters: the scope
// asked for, which package app narrows to what the caller may read.
func (s *Server) scopeQuery(q url.Values) (app.Scope, *Error) {
	return s.scopeOf(q.Get("region"), q.Get("authority"), http.StatusBadRequest, "invalid_query", "authority")
}

// scopeOf resolves a region's name and an authority's code as asked: one
// that names none is answered with status and code, the authority's field
// named authorityField.
func (s *Server) scopeOf(region, authority string, status int, code, authorityField string) (app.Scope, *Error) {
	var asked app.Scope
	if region != "" {
		name, ok := refdata.RegionByName(region)
		if !ok {
			return app.Scope{}, apiError(status, code, "region", "no region %q; regions: %v", region, refdata.Regions)
		}
		asked.Region = name
	}
	if authority != "" {
		cur, ok := s.Views.Registry.Canonical(authority)
		if !ok {
			return app.Scope{}, apiError(status, code, authorityField, "%s is not an authority with children's services", authority)
		}
		asked.Authority = cur
	}
	return asked, nil
}

// scopedAt reads what a view read narrowed to a region or an authority
// asks for: the scope (scopeQuery) and when (at). ok is false once an
// error has been written.
func (s *Server) scopedAt(w http.ResponseWriter, r *http.Request) (asked app.Scope, at app.At, param string, ok bool) {
	asked, e := s.scopeQuery(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return asked, at, "", false
	}
	at, param, ok = s.at(w, r)
	return asked, at, param, ok
}

var (
	statuses       = map[string]bool{"awaiting-allocation": true, "awaiting-acceptance": true, "open": true, "placed": true, "withdrawn": true, "left-care": true}
	deadlineStates = map[string]bool{"pending": true, "on-track": true, "at-risk": true, "breached": true, "met": true, "missed": true, "closed": true}
)

func (s *Server) listReferrals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := projections.ReferralFilter{Status: q.Get("status"), DeadlineState: q.Get("deadlineState"), Child: q.Get("child"), Limit: 50}
	if f.Child != "" {
		if p := aggregates.TextProblem(f.Child, 64); p != "" {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "child", "child (a child's reference, or part of one) %s", p))
			return
		}
	}
	if f.Status != "" && !statuses[f.Status] {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "status", "status is one of awaiting-allocation, awaiting-acceptance, open, placed, withdrawn, left-care"))
		return
	}
	if f.DeadlineState != "" && !deadlineStates[f.DeadlineState] {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "deadlineState", "deadlineState is one of pending, on-track, at-risk, breached, met, missed, closed"))
		return
	}
	for _, p := range []struct {
		name string
		to   *int
		max  int
	}{{"offset", &f.Offset, 1 << 30}, {"limit", &f.Limit, 500}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max || (p.name == "limit" && n == 0) {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", p.name, "%s is a whole number up to %d", p.name, p.max))
				return
			}
			*p.to = n
		}
	}
	asked, at, param, ok := s.scopedAt(w, r)
	if !ok {
		return
	}
	rd, _, err := s.queries().Referrals(r.Context(), caller(r), app.ReferralQuery{Scope: asked, Filter: f}, at)
	answerRead(s, w, r, param, rd, err, same)
}

func (s *Server) viewStatuses(w http.ResponseWriter, r *http.Request) {
	rep, err := s.ops().ViewStatuses(r.Context(), caller(r))
	answerJSON(w, http.StatusOK, rep, err)
}

// rebuildView starts a rebuild beside the live view; the view keeps
// answering meanwhile. GET /v1/views shows progress and the outcome.
func (s *Server) rebuildView(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	started, err := s.ops().Rebuild(r.Context(), caller(r), name)
	answerJSON(w, http.StatusAccepted, map[string]any{"view": name, "started": started, "status": "/v1/views"}, err)
}

func (s *Server) setPledge(w http.ResponseWriter, r *http.Request, c aggregates.SetPledge, meta engine.Meta) {
	code, ok := r.PathValue("code"), true
	if s.Authorities != nil {
		code, ok = s.Authorities.Canonical(code)
	}
	if !ok || !aggregates.ValidAuthorityCode(code) {
		writeError(w, apiError(http.StatusNotFound, "not_found", "code", "%s is not an authority with children's services", r.PathValue("code")))
		return
	}
	out, err := app.Authorities{Engine: s.Engine}.Change(r.Context(), caller(r), code, c, meta)
	s.answerAggregate(w, r, authorityResult, out, err)
}

// What a command on an authority (pledge, contact, team) or a region (rota,
// pause) returns is named by that aggregate, not as a referral.
const (
	authorityResult = "authority"
	regionResult    = "region"
)

// answerAggregate writes the outcome of a command on an authority or a
// region: errors as for any command, the result named by kind.
func (s *Server) answerAggregate(w http.ResponseWriter, r *http.Request, kind string, out engine.Outcome, err error) {
	if err != nil {
		e := errorFor(err, noVersion)
		if e.status >= 500 {
			s.log().Error("command failed", "route", r.Pattern, "err", err)
		}
		writeError(w, e)
		return
	}
	res := s.commandResult(r, out)
	res.ReferralID = ""
	if kind == regionResult {
		res.RegionID = out.AggregateID
	} else {
		res.AuthorityID = out.AggregateID
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) commandResult(r *http.Request, out engine.Outcome) CommandResult {
	res := CommandResult{ReferralID: out.AggregateID, Version: out.Version}
	res.Sequence, res.ReadToken = s.position(r, out.Sequence)
	for _, ev := range out.Events {
		res.Events = append(res.Events, EventSummary{ID: ev.ID, Type: ev.Type})
		if d, ok := ev.Data.(events.ReferralAllocated); ok {
			res.Allocation = &d
		}
	}
	return res
}
