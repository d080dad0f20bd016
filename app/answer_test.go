package app

import (
	"testing"

	"github.com/ntsflow/ntsflow/aggregates"
)

// An answer to an allocation carries the caller's authority, whatever the
// body said, so the decider can refuse an answer for an allocation that
// went to another authority meanwhile.
func TestAnswerIsGivenForTheCallersAuthority(t *testing.T) {
	if got := answeredBy(aggregates.AcceptAllocation{Authority: "E08000003"}, "E08000007"); got != (aggregates.AcceptAllocation{Authority: "E08000007"}) {
		t.Errorf("acceptance answered by %+v; want Stockport's", got)
	}
	got, ok := answeredBy(aggregates.RaiseAllocationException{Reason: "no placement"}, "E08000007").(aggregates.RaiseAllocationException)
	if !ok || got.Authority != "E08000007" || got.Reason != "no placement" {
		t.Errorf("exception answered by %+v; want Stockport's, with its reason", got)
	}
	notify := aggregates.NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "x"}
	if got, ok := answeredBy(notify, "E08000007").(aggregates.NotifyProfessionals); !ok || got.NotifiedBy != "x" {
		t.Errorf("a command that answers nothing was changed: %+v", got)
	}
}
