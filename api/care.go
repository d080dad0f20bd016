package api

import (
	"net/http"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
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
// value, with finish adding the referral's facts.
func careRoute[C aggregates.CareCommand](s *Server, finish func(c *C, child aggregates.ChildInCare, rules aggregates.MissingRules)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var c C
		meta, ok := s.decodeCommand(w, r, &c)
		if !ok {
			return
		}
		id := r.PathValue("id")
		var complete func(aggregates.Referral, aggregates.CareCommand) aggregates.CareCommand
		if finish != nil {
			complete = func(ref aggregates.Referral, cmd aggregates.CareCommand) aggregates.CareCommand {
				c := cmd.(C)
				finish(&c, aggregates.ChildOf(ref, s.Authorities.RegionOf(ref.ReceivingAuthority)), s.safeguardingPolicy().Rules())
				return c
			}
		}
		out, err := s.referrals().Care(r.Context(), caller(r), id, c, complete, meta)
		s.answer(w, r, id, c, out, err, http.StatusOK)
	}
}

func (s *Server) careRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"POST /v1/referrals/{id}/missing-episodes": careRoute(s, func(c *aggregates.ReportMissing, ch aggregates.ChildInCare, rules aggregates.MissingRules) {
			c.Child, c.Rules = ch, rules
		}),
		"POST /v1/referrals/{id}/missing-episodes/returned": careRoute(s, func(c *aggregates.RecordReturn, _ aggregates.ChildInCare, rules aggregates.MissingRules) {
			c.Rules = rules
		}),
		"POST /v1/referrals/{id}/missing-episodes/strategy-discussion": careRoute[aggregates.RecordStrategyDiscussion](s, nil),
		"POST /v1/referrals/{id}/missing-episodes/return-interview":    careRoute[aggregates.RecordReturnInterview](s, nil),
		"POST /v1/referrals/{id}/leave-to-remain":                      careRoute[aggregates.RecordLeaveToRemain](s, nil),
		"POST /v1/referrals/{id}/date-of-birth": careRoute(s, func(c *aggregates.SetDateOfBirth, ch aggregates.ChildInCare, _ aggregates.MissingRules) {
			c.Child, c.Basis = ch, events.DOBRecorded
		}),
	}
}
