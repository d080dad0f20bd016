package api

import (
	"net/http"
	"time"

	"github.com/ntsflow/ntsflow/audit"
)

// verifyLog walks the whole log's hash chain (auditors).
func (s *Server) verifyLog(w http.ResponseWriter, r *http.Request) {
	noWriteDeadline(w)
	rep, err := s.ops().Verify(r.Context(), caller(r))
	answerJSON(w, http.StatusOK, rep, err)
}

// exportLog streams every event recorded between since and until as JSON
// lines (auditors).
func (s *Server) exportLog(w http.ResponseWriter, r *http.Request) {
	var since, until time.Time
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", p.name, "%s is an RFC 3339 time", p.name))
				return
			}
			*p.to = t
		}
	}
	noWriteDeadline(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := audit.Export(r.Context(), s.EventStore, since, until, w, nil); err != nil {
		s.log().Error("export failed part way", "err", err) // the status is already sent
	}
}

// noWriteDeadline lifts the server's write timeout for a response that
// takes as long as the log is long (a walk of the whole log, an export);
// the client's own patience bounds it.
func noWriteDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
}
