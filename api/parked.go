package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// listParked lists the messages the sagas and the publisher parked
// (operators and auditors): consumer, stream, subject, sequence,
// deliveries and the last error of each.
func (s *Server) listParked(w http.ResponseWriter, r *http.Request) {
	parked, err := s.EventStore.ListParked(r.Context(), 1000)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"parked": parked})
}

// replayRequest names one parked message by its sequence in NTS_PARKED;
// without one, every parked message is replayed, oldest first.
type replayRequest struct {
	Sequence *uint64 `json:"sequence,omitempty" limit:"min=1,max=9007199254740991"`
}

// replayParked hands parked messages back to their consumers on this
// instance (operators), once the cause is fixed.
func (s *Server) replayParked(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(DefaultBodyTimeout))
	if e := decodeBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	var seq uint64 // 0: every parked message
	if req.Sequence != nil {
		seq = *req.Sequence
	}
	out, err := s.EventStore.ReplayParked(ctx, seq)
	switch {
	case errors.Is(err, eventstore.ErrNotParked):
		writeError(w, apiError(http.StatusNotFound, "not_found", "sequence", "no parked message has sequence %d", seq))
		return
	case errors.Is(err, eventstore.ErrNotHere):
		writeError(w, apiError(http.StatusConflict, "consumer_not_here", "sequence", "%s; replay on an instance that runs the sagas and the publisher", err.Error()))
		return
	case err != nil:
		writeError(w, errorFor(err, noVersion))
		return
	}
	by := "anonymous"
	if p, on := principal(r); on {
		by = p.Name
	}
	for _, o := range out {
		s.log().Info("parked message replay", "consumer", o.Consumer, "sequence", o.StreamSequence, "parked_sequence", o.Sequence, "outcome", o.Outcome, "by", by)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}
