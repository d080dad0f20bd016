package api

import (
	"net/http"

	"github.com/ntsflow/ntsflow/engine"
)

// voidRequest names a message nobody can read on an aggregate's subject.
type voidRequest struct {
	Subject  string `json:"subject" limit:"max=200"`
	Sequence uint64 `json:"sequence" limit:"min=1,max=9007199254740991"`
	Reason   string `json:"reason" limit:"max=500"`
	Force    bool   `json:"force,omitempty"`
}

// voidMessage records an operator's void of one message (engine.Void):
// the way out of a referral that answers 500 for a message that does not
// decode, or of views stopped at an event this build does not read.
func (s *Server) voidMessage(w http.ResponseWriter, r *http.Request, req voidRequest, meta engine.Meta) {
	out, err := s.ops().Void(r.Context(), caller(r), engine.VoidRequest{Subject: req.Subject, Sequence: req.Sequence, Reason: req.Reason, Force: req.Force}, meta)
	answerJSON(w, http.StatusCreated, out, err)
}
