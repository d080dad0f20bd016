package simulate

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// Referrals into the scheme are allocated by the region's rota one after
// another: each takes the next slot, and each is then received by the
// authority the rota chose.
func TestHistorianAllocatesByTheRota(t *testing.T) {
	now := time.Now()
	lcs := Generate(Options{Seed: 7, Referrals: 6, Start: now.AddDate(0, 0, -40), Span: 10 * 24 * time.Hour,
		Authorities: []string{"E08000007"}, ReferredPercent: 100, IDPrefix: "t-"})
	h := NewHistorian(deadline.DefaultPolicy(), nil, now)
	var positions []int
	for _, lc := range lcs {
		commits, err := h.History(lc)
		if err != nil {
			t.Fatal(err)
		}
		var allocated, received bool
		for _, c := range commits {
			for _, e := range c.Commit.Events {
				switch d := e.Data.(type) {
				case events.RegionRotaAdvanced:
					if c.Subject != events.RegionSubject("north-west") {
						t.Fatalf("rota commit on %s", c.Subject)
					}
					positions = append(positions, d.Position)
				case events.ReferralAllocated:
					allocated = true
				case events.ReferralReceived:
					received = d.ReceivingAuthority != ""
				}
			}
		}
		if !allocated || !received {
			t.Fatalf("%s: allocated %v, received %v", lc.ReferralID, allocated, received)
		}
	}
	for i, p := range positions {
		if p != i+1 {
			t.Fatalf("rota positions %v: want 1, 2, 3 ...", positions)
		}
	}
	if len(positions) != len(lcs) {
		t.Fatalf("%d rota slots for %d referrals", len(positions), len(lcs))
	}
}
