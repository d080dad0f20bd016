package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
)

// RecordView is how a child's record is kept (issue 24): whether a legal
// hold is in force, and whether, when and by which rule it was disposed
// of.
type RecordView struct {
	ReferralID string     `json:"referralId"`
	Version    int        `json:"version"`
	LegalHold  bool       `json:"legalHold"`
	HoldReason string     `json:"holdReason,omitempty"`
	Disposed   bool       `json:"disposed"`
	DisposedAt *time.Time `json:"disposedAt,omitempty"`
	Rule       string     `json:"rule,omitempty"`
	Policy     string     `json:"policy,omitempty"`
}

// record: GET /v1/records/{id}.
func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	cr, err := s.records().Record(r.Context(), caller(r), r.PathValue("id"))
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	rec := cr.Record
	v := RecordView{ReferralID: cr.ReferralID, Version: rec.Version, LegalHold: rec.Held, HoldReason: rec.HoldReason,
		Disposed: rec.Disposed, Rule: rec.Rule, Policy: rec.Policy}
	if rec.Disposed {
		at := rec.DisposedAt
		v.DisposedAt = &at
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(rec.Version)))
	writeJSON(w, http.StatusOK, v)
}

// legalHold: POST /v1/records/{id}/legal-hold and .../legal-hold/release,
// {"reason"}.
func (s *Server) legalHold(hold bool) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c aggregates.PlaceLegalHold, meta engine.Meta) {
		out, err := s.records().Hold(r.Context(), caller(r), r.PathValue("id"), hold, c.Reason, meta)
		if err != nil {
			writeError(w, errorFor(err, noVersion))
			return
		}
		writeJSON(w, http.StatusOK, s.commandResult(r, out))
	})
}

// recordsDue: GET /v1/records?within=N&recent=N, the disposals due, the
// legal holds in force and the latest disposals.
func (s *Server) recordsDue(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var rq app.RecordsQuery
	for _, p := range []struct {
		name string
		to   *int
	}{{"within", &rq.Within}, {"recent", &rq.Recent}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				n = -1 // not a count: RecordsProblem words it
			}
			*p.to = n
		}
	}
	if param, problem := app.RecordsProblem(rq); problem != "" {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "%s", problem))
		return
	}
	at, param, ok := s.at(w, r)
	if !ok {
		return
	}
	rd, err := s.queries().Records(r.Context(), caller(r), rq, at)
	answerRead(s, w, r, param, rd, err, same)
}

func (s *Server) records() app.Records { return app.Records{Engine: s.Engine} }
