package aggregates

import (
	"errors"
	"testing"

	"github.com/ntsflow/ntsflow/events"
)

// Pledge places and the threshold as the rota and the acceptance keep
// them, given/when/then, without I/O.

// Given Stockport (D) pledged one place and one child allocated to it
// awaiting its answer, when the rota allocates the next child, then it
// passes Stockport over: the allocation awaiting an answer holds the place.
func TestAwaitingAnswerHoldsAPledgePlace(t *testing.T) {
	after := region(advanced(3)) // the rota's next slot is D
	held := map[string]AuthorityCapacity{members[3]: {PledgeSet: true, Pledge: 1, AwaitingAnswer: 1}}
	a, _ := allocated(t, after, referred(), Allocate{Capacity: held})
	if a.Authority == members[3] || len(a.Skipped) == 0 || a.Skipped[0] != (events.Skip{Authority: members[3], Reason: events.SkipPledgeMet}) {
		t.Fatalf("allocated %+v, want D passed over with its pledge met", a)
	}
	free := map[string]AuthorityCapacity{members[3]: {PledgeSet: true, Pledge: 2, AwaitingAnswer: 1}}
	if a, _ := allocated(t, after, referred(), Allocate{Capacity: free}); a.Authority != members[3] {
		t.Fatalf("with a place left D is not chosen: %+v", a)
	}
	// A coordinator's choice cannot spend a place the pledge has not got.
	ref := refusedAllocation(t, region(), referred(), Allocate{Authority: members[3], Reason: "a sibling is placed there", Capacity: held})
	if ref.Code != CodePledgeUsedUp || ref.Field != "authority" {
		t.Fatalf("override past the pledge: %v", ref)
	}
	if _, ok := held[members[3]]; !ok || held[members[3]].PledgeRemaining() != 0 || free[members[3]].PledgeRemaining() != 1 {
		t.Fatal("PledgeRemaining does not count the allocations awaiting an answer")
	}
}

// Given A looks after 19 children and has accepted one more not yet
// placed, with a threshold of 20, when the rota allocates, then A is at its
// threshold: an accepted child counts before it is placed; and so does one
// allocated awaiting the answer.
func TestThresholdCountsAcceptedNotYetPlaced(t *testing.T) {
	for name, c := range map[string]AuthorityCapacity{
		"accepted, not placed": {LookedAfter: 19, Accepted: 1, Threshold: 20},
		"awaiting its answer":  {LookedAfter: 19, AwaitingAnswer: 1, Threshold: 20},
	} {
		a, _ := allocated(t, region(), referred(), Allocate{Capacity: map[string]AuthorityCapacity{members[0]: c}})
		if a.Authority != members[1] || a.Skipped[0] != (events.Skip{Authority: members[0], Reason: events.SkipAtThreshold}) {
			t.Errorf("%s: allocated %+v, want A passed over at its threshold", name, a)
		}
	}
	under := map[string]AuthorityCapacity{members[0]: {LookedAfter: 18, Accepted: 1, Threshold: 20}}
	if a, _ := allocated(t, region(), referred(), Allocate{Capacity: under}); a.Authority != members[0] {
		t.Fatalf("under its threshold A is passed over: %+v", a)
	}
}

// awaitingStockport is a referral allocated to Stockport, whose answer is
// awaited.
func awaitingStockport() Referral {
	return Fold([]events.Event{gReferred, ev(events.TypeReferralAllocated, now, events.ReferralAllocated{Region: "north-west", Authority: "E08000007", Position: 4, RespondBy: respondBy})})
}

func pledged(n int) Authority {
	return EvolveAuthority(Authority{}, ev(events.TypeAuthorityPledgeSet, now, events.AuthorityPledgeSet{Authority: "E08000007", Pledge: n}))
}

// Given Stockport pledged one place, when it accepts with none taken, then
// the acceptance takes place 1; when one is already taken (a child received
// meanwhile), then the acceptance is refused, saying what to do.
func TestAcceptanceKeepsThePledge(t *testing.T) {
	au, ref, err := DecideAcceptance(pledged(1), awaitingStockport(), AcceptAllocation{}, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	want := events.PledgePlaceTaken{Authority: "E08000007", ReferralID: "r1", Place: 1, Pledge: 1}
	if len(au) != 1 || au[0].Data != want || len(ref) != 2 || ref[0].Type != events.TypeAllocationAccepted || ref[1].Type != events.TypeReferralReceived {
		t.Fatalf("accepted: authority %v, referral %v", au, ref)
	}
	_, _, err = DecideAcceptance(pledged(1), awaitingStockport(), AcceptAllocation{}, 1, now)
	var refusal *Refusal
	if !errors.As(err, &refusal) || refusal.Code != CodePledgeUsedUp {
		t.Fatalf("second child on a pledge of 1: %v", err)
	}
	// No pledge, no limit: only the referral is written.
	if au, ref, err := DecideAcceptance(Authority{}, awaitingStockport(), AcceptAllocation{}, 7, now); err != nil || len(au) != 0 || len(ref) != 2 {
		t.Fatalf("no pledge: %v %v %v", au, ref, err)
	}
	// The referral's own rules come first.
	if _, _, err := DecideAcceptance(pledged(1), referred(), AcceptAllocation{}, 0, now); !errors.As(err, &refusal) || refusal.Code != CodeNotAwaitingAcceptance {
		t.Fatalf("accepting a referral awaiting allocation: %v", err)
	}
	// Another authority's pledge cannot answer for Stockport.
	other := EvolveAuthority(Authority{}, ev(events.TypeAuthorityPledgeSet, now, events.AuthorityPledgeSet{Authority: "E08000001", Pledge: 5}))
	if _, _, err := DecideAcceptance(other, awaitingStockport(), AcceptAllocation{}, 0, now); !errors.As(err, &refusal) || refusal.Code != CodeNotAllocatedToYou {
		t.Fatalf("decided over the wrong authority: %v", err)
	}
}
