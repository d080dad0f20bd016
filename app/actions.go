package app

import (
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// The actions a person may take on a referral, named as the console's
// routes name them.
const (
	ActAccept     = "accept"
	ActException  = "exception"
	ActNotify     = "notify"
	ActSearch     = "search"
	ActAgeRequest = "age-request"
	ActAge        = "age"
	ActPlace      = "place"
	ActWithdraw   = "withdraw"
	ActLeftCare   = "left-care"
)

// ActionNames lists every action in the order a page offers them.
var ActionNames = []string{ActAccept, ActException, ActNotify, ActSearch, ActAgeRequest, ActAge, ActPlace, ActWithdraw, ActLeftCare}

// probe is a well-formed command for an action, as a person filling its
// form in correctly would send it. Only the referral's state can make the
// decider refuse it, so a dry run of it says whether the action can be
// taken now. answering is the authority answering an allocation ("" with
// authentication off).
func probe(action string, ref aggregates.Referral, answering string, now time.Time) aggregates.Command {
	switch action {
	case ActAccept:
		return aggregates.AcceptAllocation{Authority: answering}
	case ActException:
		return aggregates.RaiseAllocationException{Authority: answering, Reason: "no placement can meet the child's needs"}
	case ActNotify:
		// Every profession: the decider records those not yet told, and
		// refuses only when none is left.
		return aggregates.NotifyProfessionals{Professions: aggregates.Professions.List(), NotifiedBy: "team leader"}
	case ActSearch:
		none := 0
		return aggregates.RecordPlacementSearch{Track: aggregates.SearchTracks.List()[0], OffersFound: &none}
	case ActAgeRequest:
		return aggregates.RequestAgeAssessment{Method: aggregates.AgeAssessmentMethods.List()[0]}
	case ActAge:
		return aggregates.RecordAgeAssessment{Method: aggregates.AgeAssessmentMethods.List()[0], Outcome: events.AgeOutcomeChild}
	case ActPlace:
		return aggregates.Place{PlacementType: aggregates.PlacementTypes.List()[0], Provider: "a provider", PlacedAt: later(now, ref.ReceivedAt)}
	case ActWithdraw:
		return aggregates.Withdraw{Reason: aggregates.WithdrawalReasons.List()[0]}
	case ActLeftCare:
		return aggregates.RecordLeftCare{LeftAt: later(now, ref.PlacedAt), Reason: aggregates.LeftCareReasons.List()[0]}
	}
	return nil
}

// later is the later of two moments: a probe's date must not fall before
// the referral's own (recorded ahead of the clock, within its skew).
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Accepts says whether the referral decider would accept the action now,
// by dry-running it on the referral's state, as rota.Propose does for an
// allocation: the rules, not a copy of them, say what can be done.
// answering is the authority answering an allocation ("" for any).
func Accepts(action string, ref aggregates.Referral, answering string, now time.Time) bool {
	cmd := probe(action, ref, answering, now)
	if cmd == nil {
		return false
	}
	_, err := aggregates.Decide(ref, cmd, now)
	return err == nil
}

// May says whether the caller's role may take the action on the referral:
// the allocated authority answers an allocation; every other action is a
// change to the referral (ChangesReferral).
func (c Caller) May(action string, ref aggregates.Referral) bool {
	switch action {
	case ActAccept, ActException:
		return c.AnswersAllocation(ref)
	}
	return c.ChangesReferral(ref)
}

// Actions are what the caller may do to the referral now: the actions
// their role allows that the decider would accept in the referral's state.
func (c Caller) Actions(ref aggregates.Referral, now time.Time) []string {
	answering, _ := c.Answering()
	var out []string
	for _, a := range ActionNames {
		if c.May(a, ref) && Accepts(a, ref, answering, now) {
			out = append(out, a)
		}
	}
	return out
}
