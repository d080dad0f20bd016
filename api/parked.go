package api

import (
	"net/http"
	"time"
)

// listParked lists the messages the sagas and the publisher parked
// (operators and auditors): consumer, stream, subject, sequence,
// deliveries and the last error of each.
func (s *Server) listParked(w http.ResponseWriter, r *http.Request) {
	parked, err := s.ops().Parked(r.Context(), caller(r))
	answerJSON(w, http.StatusOK, map[string]any{"parked": parked}, err)
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
	var seq uint64 // 0: every parked message
	if req.Sequence != nil {
		seq = *req.Sequence
	}
	out, err := s.ops().Replay(r.Context(), caller(r), seq)
	answerJSON(w, http.StatusOK, map[string]any{"results": out}, err)
}
