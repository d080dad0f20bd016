package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/views"
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

// readView answers a view read: live, after waiting for ?minSequence if
// asked, or folded from zero as of ?asOf. report runs under the view's read
// lock and must copy what it returns.
func readView[V any](s *Server, w http.ResponseWriter, r *http.Request, runner *views.Runner[V], spec projections.Spec[V], report func(v V, now time.Time) any) {
	q := r.URL.Query()
	if a := q.Get("asOf"); a != "" {
		asOf, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "asOf", "asOf is an RFC 3339 time, e.g. 2025-06-30T23:59:59Z"))
			return
		}
		v, seq, _, err := views.Fold(r.Context(), s.Views.Store, spec, views.FoldOptions{AsOf: asOf})
		if err != nil {
			writeError(w, errorFor(err, noVersion))
			return
		}
		asOf = asOf.UTC()
		resp := ViewResponse{View: spec.Name, AsOf: &asOf, Result: report(v, asOf)}
		resp.Sequence, resp.ReadToken = s.position(r, seq)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	param, m := "minSequence", q.Get("minSequence")
	if t := q.Get("readToken"); t != "" {
		param, m = "readToken", t
	}
	if m != "" {
		var seq uint64
		var err error
		switch {
		case param == "readToken":
			if seq, err = s.openSequence(m); err != nil {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "readToken is a token from an earlier response of this engine"))
				return
			}
		case restricted(r):
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "pass the readToken of an earlier response as ?readToken= (stream sequences are for auditors)"))
			return
		default:
			if seq, err = strconv.ParseUint(m, 10, 64); err != nil {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "minSequence is a stream sequence, a whole number"))
				return
			}
		}
		wait := s.MaxWait
		if wait <= 0 {
			wait = DefaultMaxWait
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		if err := runner.WaitFor(ctx, seq); err != nil {
			e := apiError(http.StatusServiceUnavailable, "view_behind", param, "the %s view has not reached sequence %d within %v (it is at %d); try again", spec.Name, seq, wait, runner.Status().Sequence)
			if restricted(r) {
				e = apiError(http.StatusServiceUnavailable, "view_behind", param, "the %s view has not caught up with that write within %v; try again", spec.Name, wait)
			}
			writeError(w, e)
			return
		}
	}
	now := s.now()
	var resp ViewResponse
	runner.Read(func(v V, seq uint64) {
		resp = ViewResponse{View: spec.Name, Result: report(v, now)}
		resp.Sequence = &seq
	})
	if restricted(r) {
		resp.ReadToken, resp.Sequence = s.sealSequence(*resp.Sequence), nil
	}
	writeJSON(w, http.StatusOK, resp)
}

func noVersion() (int, bool) { return 0, false }

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request) {
	region, code := r.PathValue("region"), r.PathValue("code")
	if region != "" {
		name, ok := refdata.RegionByName(region)
		if !ok {
			writeError(w, apiError(http.StatusNotFound, "not_found", "region", "no region %q; regions: %v", region, refdata.Regions))
			return
		}
		region = name
	}
	if code != "" {
		cur, ok := s.Views.Registry.Canonical(code)
		if !ok {
			writeError(w, apiError(http.StatusNotFound, "not_found", "code", "%s is not an authority with children's services", code))
			return
		}
		code = cur
	}
	if c := caller(r); !c.ReadsCapacity(region, code, s.Views.Registry) {
		writeError(w, forbidden(c.P, "read this capacity view; ask for your own authority or region"))
		return
	}
	readView(s, w, r, s.Views.Capacity, projections.CapacitySpec(), func(v *projections.Capacity, _ time.Time) any {
		rep := projections.ReportCapacity(v, s.Views.Registry)
		switch {
		case code != "":
			for _, a := range rep.Authorities {
				if a.Code == code {
					return a
				}
			}
		case region != "":
			out := struct {
				Region      projections.CapacityRow   `json:"region"`
				Authorities []projections.CapacityRow `json:"authorities"`
				Note        string                    `json:"note,omitempty"`
			}{Note: rep.Note}
			for _, reg := range rep.Regions {
				if reg.Name == region {
					out.Region = reg
				}
			}
			for _, a := range rep.Authorities {
				if a.Region == region {
					out.Authorities = append(out.Authorities, a)
				}
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
	if e := s.placeFilter(r, q.Get("region"), q.Get("authority"), &f.Region, &f.Authority); e != nil {
		writeError(w, e)
		return
	}
	readView(s, w, r, s.Views.Timeliness, projections.TimelinessSpec(s.Views.Calendar), func(v *projections.Timeliness, now time.Time) any {
		return projections.ReportTimeliness(v, s.Views.Registry, f, now)
	})
}

// safeguarding reads the safeguarding view: children missing now, return
// interviews due, and each authority's and region's figures, narrowed as
// the timeliness view is to what the caller may read.
func (s *Server) safeguarding(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f projections.SafeguardingFilter
	if e := s.placeFilter(r, q.Get("region"), q.Get("authority"), &f.Region, &f.Authority); e != nil {
		writeError(w, e)
		return
	}
	readView(s, w, r, s.Views.Safeguarding, projections.SafeguardingSpec(), func(v *projections.Safeguarding, now time.Time) any {
		return projections.ReportSafeguarding(v, s.Views.Registry, f, now, s.Views.MissingAlertAfter)
	})
}

// placeFilter checks region and authority query parameters, and narrows
// them to what the caller may read.
func (s *Server) placeFilter(r *http.Request, region, authority string, regionOut, authorityOut *string) *Error {
	if e := s.placeFilterParams(region, authority, regionOut, authorityOut); e != nil {
		return e
	}
	c := caller(r)
	sc, beyond := c.Narrow(app.Scope{Region: *regionOut, Authority: *authorityOut}, s.Views.Registry)
	if beyond != "" {
		return forbidden(c.P, "read "+beyond+" referrals")
	}
	*regionOut, *authorityOut = sc.Region, sc.Authority
	return nil
}

func (s *Server) placeFilterParams(region, authority string, regionOut, authorityOut *string) *Error {
	if region != "" {
		name, ok := refdata.RegionByName(region)
		if !ok {
			return apiError(http.StatusBadRequest, "invalid_query", "region", "no region %q; regions: %v", region, refdata.Regions)
		}
		*regionOut = name
	}
	if authority != "" {
		cur, ok := s.Views.Registry.Canonical(authority)
		if !ok {
			return apiError(http.StatusBadRequest, "invalid_query", "authority", "%s is not an authority with children's services", authority)
		}
		*authorityOut = cur
	}
	return nil
}

var (
	statuses       = map[string]bool{"awaiting-allocation": true, "awaiting-acceptance": true, "open": true, "placed": true, "withdrawn": true, "left-care": true}
	deadlineStates = map[string]bool{"pending": true, "on-track": true, "at-risk": true, "breached": true, "met": true, "missed": true, "closed": true}
)

func (s *Server) listReferrals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := projections.ReferralFilter{Status: q.Get("status"), DeadlineState: q.Get("deadlineState"), Limit: 50}
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
	if e := s.placeFilter(r, q.Get("region"), q.Get("authority"), &f.Region, &f.Authority); e != nil {
		writeError(w, e)
		return
	}
	readView(s, w, r, s.Views.Referrals, projections.ReferralListSpec(), func(v *projections.ReferralList, now time.Time) any {
		return projections.ListReferrals(v, s.Views.Registry, f, now)
	})
}

func (s *Server) viewStatuses(w http.ResponseWriter, r *http.Request) {
	last, err := s.Engine.Store.LastSequence(r.Context())
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"streamSequence": last, "views": s.Views.Statuses()})
}

// rebuildView starts a rebuild beside the live view; the view keeps
// answering meanwhile. GET /v1/views shows progress and the outcome.
func (s *Server) rebuildView(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !views.Known(name) {
		writeError(w, apiError(http.StatusNotFound, "not_found", "name", "no view %q (views: %s)", name, strings.Join(views.Names(), ", ")))
		return
	}
	for _, st := range s.Views.Statuses() {
		if st.Name == name && st.Rebuilding != nil {
			writeError(w, apiError(http.StatusConflict, "already_rebuilding", "name", "the %s view is already rebuilding", name))
			return
		}
	}
	started := time.Now().UTC()
	go func() {
		if err := s.Views.Rebuild(context.WithoutCancel(r.Context()), name, nil); err != nil {
			s.log().Error("view rebuild failed", "view", name, "err", err)
		}
	}()
	writeJSON(w, http.StatusAccepted, map[string]any{"view": name, "started": started, "status": "/v1/views"})
}

func (s *Server) setPledge(w http.ResponseWriter, r *http.Request) {
	var c aggregates.SetPledge
	meta, ok := s.decodeCommand(w, r, &c)
	if !ok {
		return
	}
	code := r.PathValue("code")
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
