package api

import (
	"net/http"
	"strconv"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The data protection routes: rectification, subject access and the read
// audit (issue 24). The rules are package app's; these parse and render.

func (s *Server) privacyRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"POST /v1/referrals/{id}/corrections":    withCommand(s, s.correct),
		"POST /v1/referrals/{id}/subject-access": withCommand(s, s.subjectAccess),
		"GET /v1/privacy/reads/referrals/{id}": func(w http.ResponseWriter, r *http.Request) {
			s.reads(w, r, app.ReadsQuery{Referral: r.PathValue("id")})
		},
		"GET /v1/privacy/reads/readers/{reader}": func(w http.ResponseWriter, r *http.Request) {
			s.reads(w, r, app.ReadsQuery{Reader: r.PathValue("reader")})
		},
	}
}

// correct: POST /v1/referrals/{id}/corrections {"field","newValue","reason"}.
func (s *Server) correct(w http.ResponseWriter, r *http.Request, c aggregates.CorrectChildDetail, meta engine.Meta) {
	id := r.PathValue("id")
	out, err := s.referrals().Correct(r.Context(), caller(r), id, c, meta)
	s.answer(w, r, id, c, out, err, http.StatusOK)
}

// SubjectAccessRequest is the body of a subject access export.
type SubjectAccessRequest struct {
	Reason string `json:"reason" limit:"max=500"`
}

// subjectAccess: POST /v1/referrals/{id}/subject-access {"reason"}: the
// export, recorded, as a zip download.
func (s *Server) subjectAccess(w http.ResponseWriter, r *http.Request, body SubjectAccessRequest, meta engine.Meta) {
	id := r.PathValue("id")
	x, err := app.SubjectAccess{Engine: s.Engine, Reads: s.Reads, Now: s.Now}.Export(r.Context(), caller(r), id, body.Reason, meta)
	if err != nil {
		e := errorFor(err, noVersion)
		if e.status >= 500 {
			s.log().Error("subject access export failed", "referral", id, "err", err)
		}
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+x.Filename+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(x.Zip)))
	if len(x.Recorded.Events) > 0 {
		w.Header().Set("X-Export-Event", x.Recorded.Events[0].ID)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(x.Zip)
}

// Reads is the read audit's answer.
type Reads struct {
	Reads []eventstore.ReadRecord `json:"reads"`
}

// reads: the read audit of one referral or one reader, ?limit=N.
func (s *Server) reads(w http.ResponseWriter, r *http.Request, q app.ReadsQuery) {
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > app.MaxReads {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "limit", "limit is a whole number from 1 to %d", app.MaxReads))
			return
		}
		q.Limit = n
	}
	recs, err := s.Reads.Reads(r.Context(), caller(r), q)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	if recs == nil {
		recs = []eventstore.ReadRecord{}
	}
	writeJSON(w, http.StatusOK, Reads{Reads: recs})
}
