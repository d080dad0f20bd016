package aggregates

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The rota's rules, given/when/then, without I/O. A region of four
// authorities A, B, C, D (codes of the North West).
var (
	members = []string{"E08000001", "E08000002", "E08000003", "E08000007"}
	open4   = map[string]AuthorityCapacity{} // no one near a threshold, no pledges
)

func referred(declined ...string) Referral {
	evs := []events.Event{gReferred}
	for _, d := range declined {
		evs = append(evs,
			ev(events.TypeReferralAllocated, now, events.ReferralAllocated{Region: "north-west", Authority: d, RespondBy: respondBy}),
			ev(events.TypeAllocationException, now, events.AllocationException{Authority: d, Reason: "x"}))
	}
	return Fold(evs)
}

func region(evs ...events.Event) Region {
	g := Region{Slug: "north-west"}
	for _, e := range evs {
		g = EvolveRegion(g, e)
	}
	return g
}

func advanced(pos int) events.Event {
	return ev(events.TypeRegionRotaAdvanced, now, events.RegionRotaAdvanced{Region: "north-west", ReferralID: "x", Authority: members[pos-1], Position: pos})
}

func allocated(t *testing.T, g Region, r Referral, c Allocate) (events.ReferralAllocated, []events.Event) {
	t.Helper()
	if c.Members == nil {
		c.Members = members
	}
	regionEvs, refEvs, err := DecideAllocation(g, r, c, now)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(refEvs) != 1 {
		t.Fatalf("referral events %v", refEvs)
	}
	return refEvs[0].Data.(events.ReferralAllocated), regionEvs
}

func refusedAllocation(t *testing.T, g Region, r Referral, c Allocate) *Refusal {
	t.Helper()
	if c.Members == nil {
		c.Members = members
	}
	_, _, err := DecideAllocation(g, r, c, now)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Message == "" {
		t.Fatalf("want a refusal, got %v", err)
	}
	return ref
}

func TestRotaTakesTheNextAndAdvances(t *testing.T) {
	a, regionEvs := allocated(t, region(), referred(), Allocate{Capacity: open4})
	if a.Authority != members[0] || a.Position != 1 || len(a.Skipped) != 0 || len(regionEvs) != 1 {
		t.Fatalf("first allocation: %+v %v", a, regionEvs)
	}
	g := region(regionEvs...)
	if b, _ := allocated(t, g, referred(), Allocate{Capacity: open4}); b.Authority != members[1] || b.Position != 2 {
		t.Fatalf("second allocation: %+v", b)
	}
	// After the last, the rota starts again at the top.
	if c, _ := allocated(t, region(advanced(4)), referred(), Allocate{Capacity: open4}); c.Authority != members[0] {
		t.Fatalf("after the last: %+v", c)
	}
}

func TestRotaSkipsWithReasons(t *testing.T) {
	paused := ev(events.TypeRegionAuthorityPaused, now, events.RegionAuthorityPaused{Region: "north-west", Authority: members[0], Reason: "placements", Until: now.Add(24 * time.Hour)})
	capacity := map[string]AuthorityCapacity{
		members[2]: {LookedAfter: 64, Threshold: 63.903},
		members[3]: {LookedAfter: 63, Threshold: 63.903, PledgeSet: true, Pledge: 2, PledgeTaken: 2},
	}
	// A paused, B declined this child, C at its threshold, D's pledge used up.
	ref := refusedAllocation(t, region(paused), referred(members[1]), Allocate{Capacity: capacity})
	if ref.Code != CodeNoAuthorityAvailable {
		t.Fatalf("all skipped: %v", ref)
	}
	for _, want := range []string{members[0] + " paused", members[1] + " declined-this-child", members[2] + " at-threshold", members[3] + " pledge-met"} {
		if !strings.Contains(ref.Message, want) {
			t.Errorf("the refusal does not name %q: %s", want, ref.Message)
		}
	}
	// With D's pledge topped up, D is chosen, and the skips are recorded.
	capacity[members[3]] = AuthorityCapacity{LookedAfter: 63, Threshold: 63.903, PledgeSet: true, Pledge: 3, PledgeTaken: 2}
	a, regionEvs := allocated(t, region(paused), referred(members[1]), Allocate{Capacity: capacity})
	want := []events.Skip{{Authority: members[0], Reason: events.SkipPaused}, {Authority: members[1], Reason: events.SkipDeclinedThisChild}, {Authority: members[2], Reason: events.SkipAtThreshold}}
	if a.Authority != members[3] || a.Position != 4 || !reflect.DeepEqual(a.Skipped, want) || regionEvs[0].Data.(events.RegionRotaAdvanced).Position != 4 {
		t.Fatalf("allocated %+v", a)
	}
	// A pause that has ended skips no one.
	ended := ev(events.TypeRegionAuthorityPaused, now, events.RegionAuthorityPaused{Region: "north-west", Authority: members[0], Reason: "placements", Until: now.Add(-time.Minute)})
	if a, _ := allocated(t, region(ended), referred(), Allocate{Capacity: open4}); a.Authority != members[0] {
		t.Fatalf("after the pause: %+v", a)
	}
	// Exactly at the threshold (an integer threshold) is "at or above".
	at := map[string]AuthorityCapacity{members[0]: {LookedAfter: 20, Threshold: 20}}
	if a, _ := allocated(t, region(), referred(), Allocate{Capacity: at}); a.Authority != members[1] || a.Skipped[0].Reason != events.SkipAtThreshold {
		t.Fatalf("at the threshold: %+v", a)
	}
}

func TestOverride(t *testing.T) {
	a, regionEvs := allocated(t, region(), referred(), Allocate{Authority: members[2], Reason: "a sibling is placed there", Capacity: open4})
	if a.Authority != members[2] || a.Position != 3 || a.OverrideReason == "" || len(regionEvs) != 0 {
		t.Fatalf("override: %+v, region %v (an override does not move the rota)", a, regionEvs)
	}
	if ref := refusedAllocation(t, region(), referred(), Allocate{Authority: members[2]}); ref.Code != CodeInvalidValue || ref.Field != "reason" {
		t.Fatalf("override without a reason: %v", ref)
	}
	if ref := refusedAllocation(t, region(), referred(), Allocate{Authority: "E09000001", Reason: "r"}); ref.Field != "authority" {
		t.Fatalf("override outside the region: %v", ref)
	}
	if ref := refusedAllocation(t, region(), referred(), Allocate{Reason: "because"}); ref.Field != "reason" {
		t.Fatalf("a reason without a choice: %v", ref)
	}
}

func TestAllocateOnlyWhatAwaitsAllocation(t *testing.T) {
	allocatedRef := Fold([]events.Event{gReferred, gAllocated})
	if ref := refusedAllocation(t, region(), allocatedRef, Allocate{}); ref.Code != CodeNotAwaitingAllocation {
		t.Fatalf("allocate twice: %v", ref)
	}
	if ref := refusedAllocation(t, region(), Fold([]events.Event{gReceived}), Allocate{}); ref.Code != CodeNotAwaitingAllocation {
		t.Fatalf("allocate a received referral: %v", ref)
	}
	if ref := refusedAllocation(t, region(), Referral{}, Allocate{}); ref.Code != CodeNotFound {
		t.Fatalf("allocate nothing: %v", ref)
	}
	if ref := refusedAllocation(t, Region{Slug: "london"}, referred(), Allocate{}); ref.Code != CodeNotAwaitingAllocation {
		t.Fatalf("another region's referral: %v", ref)
	}
	// Exception then re-allocation: the rota moves on past the decliner.
	r := referred(members[0])
	if a, _ := allocated(t, region(), r, Allocate{Capacity: open4}); a.Authority != members[1] || a.Skipped[0] != (events.Skip{Authority: members[0], Reason: events.SkipDeclinedThisChild}) {
		t.Fatalf("re-allocation: %+v", a)
	}
}

func TestRotaAndPauses(t *testing.T) {
	order := []string{members[3], members[2], members[1], members[0]}
	evs, err := DecideRegion(region(), SetRota{Order: order, Members: members}, now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("set rota: %v %v", evs, err)
	}
	g := region(advanced(2), evs[0])
	if g.Next != 0 || !reflect.DeepEqual(g.RotaOrder(members), order) {
		t.Fatalf("a new order starts at its top: %+v", g)
	}
	if a, _ := allocated(t, g, referred(), Allocate{Capacity: open4}); a.Authority != members[3] {
		t.Fatalf("allocated by the new order: %+v", a)
	}
	for name, c := range map[string]SetRota{
		"missing one": {Order: order[:3], Members: members},
		"twice":       {Order: []string{members[0], members[0], members[1], members[2]}, Members: members},
		"outsider":    {Order: []string{members[0], members[1], members[2], "E09000001"}, Members: members},
	} {
		var ref *Refusal
		if _, err := DecideRegion(region(), c, now); !errors.As(err, &ref) || ref.Field != "order" {
			t.Errorf("%s: %v", name, err)
		}
	}
	var ref *Refusal
	if _, err := DecideRegion(g, SetRota{Order: order, Members: members}, now); !errors.As(err, &ref) || ref.Code != CodeRotaUnchanged {
		t.Errorf("unchanged: %v", err)
	}
	if _, err := DecideRegion(region(), PauseAuthority{Authority: members[0], Reason: "health places", Until: now.Add(time.Hour), Members: members}, now); err != nil {
		t.Errorf("pause: %v", err)
	}
	for name, c := range map[string]PauseAuthority{
		"no reason": {Authority: members[0], Until: now.Add(time.Hour), Members: members},
		"past":      {Authority: members[0], Reason: "r", Until: now.Add(-time.Hour), Members: members},
		"outsider":  {Authority: "E09000001", Reason: "r", Until: now.Add(time.Hour), Members: members},
	} {
		if _, err := DecideRegion(region(), c, now); !errors.As(err, &ref) || ref.Kind != Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestContact(t *testing.T) {
	a := Authority{Code: "E08000007"}
	evs, err := DecideAuthority(a, SetContact{Mailbox: "nts@stockport.gov.uk", Name: "NTS contact"}, now)
	if err != nil || len(evs) != 1 || evs[0].Data.(events.AuthorityContactSet).Authority != "E08000007" {
		t.Fatalf("set contact: %v %v", evs, err)
	}
	a = EvolveAuthority(a, evs[0])
	var ref *Refusal
	if _, err := DecideAuthority(a, SetContact{Mailbox: "nts@stockport.gov.uk", Name: "NTS contact"}, now); !errors.As(err, &ref) || ref.Code != CodeContactUnchanged {
		t.Fatalf("unchanged: %v", err)
	}
	for _, c := range []SetContact{{Mailbox: "not a mailbox", Name: "n"}, {Mailbox: "a@b.gov.uk", Name: " "}} {
		if _, err := DecideAuthority(a, c, now); !errors.As(err, &ref) || ref.Kind != Invalid {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// Given A paused for a month, when the partnership ends the pause early
// with a reason, then the rota offers A children again at once; ending it
// again, or ending a pause that was never set, is refused saying so.
func TestEndPauseEarly(t *testing.T) {
	paused := ev(events.TypeRegionAuthorityPaused, now.Add(-time.Hour), events.RegionAuthorityPaused{Region: "north-west", Authority: members[0], Reason: "placements", Until: now.Add(30 * 24 * time.Hour)})
	g := region(paused)
	if a, _ := allocated(t, g, referred(), Allocate{Capacity: open4}); a.Authority != members[1] {
		t.Fatalf("while paused: %+v", a)
	}
	end := EndPause{Authority: members[0], Reason: "placements found", Members: members}
	evs, err := DecideRegion(g, end, now)
	if err != nil {
		t.Fatal(err)
	}
	want := events.RegionPauseEnded{Region: "north-west", Authority: members[0], Reason: "placements found", WasUntil: now.Add(30 * 24 * time.Hour)}
	if len(evs) != 1 || evs[0].Data != want {
		t.Fatalf("ended: %v", evs)
	}
	ended := region(paused, evs[0])
	if a, _ := allocated(t, ended, referred(), Allocate{Capacity: open4}); a.Authority != members[0] || len(a.Skipped) != 0 {
		t.Fatalf("after the pause ended: %+v", a)
	}
	var refusal *Refusal
	if _, err := DecideRegion(ended, end, now.Add(time.Minute)); !errors.As(err, &refusal) || refusal.Code != CodeNotPaused || !strings.Contains(refusal.Message, "already ended") {
		t.Fatalf("ending it twice: %v", err)
	}
	if _, err := DecideRegion(g, EndPause{Authority: members[1], Reason: "x", Members: members}, now); !errors.As(err, &refusal) || refusal.Code != CodeNotPaused {
		t.Fatalf("ending a pause never set: %v", err)
	}
	for name, c := range map[string]EndPause{
		"no reason":      {Authority: members[0], Members: members},
		"a NUL":          {Authority: members[0], Reason: "eased\x00", Members: members},
		"too long":       {Authority: members[0], Reason: strings.Repeat("x", MaxPauseReasonLength+1), Members: members},
		"not the region": {Authority: "E06000001", Reason: "eased", Members: members},
	} {
		if _, err := DecideRegion(g, c, now); !errors.As(err, &refusal) || refusal.Kind != Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
