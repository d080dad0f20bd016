package api

import (
	"net/http"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// The child's care after the transfer (the care aggregate): missing
// episodes, and the date of birth and leave to remain the leaving-care
// milestones weigh. Each route reads the referral to check it is the
// caller's (the authority that placed the child) and puts what the rules
// weigh of it in the command; the rules are aggregates/care.go's.

func (s *Server) safeguardingPolicy() safeguarding.Policy {
	if s.SafeguardingPolicy != nil {
		return *s.SafeguardingPolicy
	}
	return safeguarding.DefaultPolicy()
}

// careRoute serves one care command: body decodes into the command's
// value; app.CareFacts adds the referral's facts, as for the console.
func careRoute[C aggregates.CareCommand](s *Server) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta) {
		id := r.PathValue("id")
		facts := app.CareFacts{Authorities: s.Authorities, Rules: s.safeguardingPolicy().Rules()}
		out, err := s.referrals().Care(r.Context(), caller(r), id, c, facts.Complete, meta)
		s.answer(w, r, id, c, out, err, http.StatusOK)
	})
}

func (s *Server) careRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"POST /v1/referrals/{id}/missing-episodes":                     careRoute[aggregates.ReportMissing](s),
		"POST /v1/referrals/{id}/missing-episodes/returned":            careRoute[aggregates.RecordReturn](s),
		"POST /v1/referrals/{id}/missing-episodes/strategy-discussion": careRoute[aggregates.RecordStrategyDiscussion](s),
		"POST /v1/referrals/{id}/missing-episodes/return-interview":    careRoute[aggregates.RecordReturnInterview](s),
		"POST /v1/referrals/{id}/leave-to-remain":                      careRoute[aggregates.RecordLeaveToRemain](s),
		"POST /v1/referrals/{id}/date-of-birth":                        careRoute[aggregates.SetDateOfBirth](s),
	}
}
