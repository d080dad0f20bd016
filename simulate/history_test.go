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

// With dates of birth and missing episodes asked for, the histories carry
// them, decided by the real rules: early episodes and later ones, returns,
// return interviews in time and late, children still missing; and a seed's
// referral steps are what they were without them.
func TestMissingEpisodesAndDatesOfBirth(t *testing.T) {
	now := time.Now()
	o := Options{Seed: 3, Referrals: 400, Start: now.AddDate(0, 0, -120), Span: 60 * 24 * time.Hour,
		Authorities: []string{"E08000007", "E09000001"}, IDPrefix: "m-", DatesOfBirth: true, MissingPercent: 30}
	lcs := Generate(o)
	o.DatesOfBirth, o.MissingPercent = false, 0
	plain := Generate(o)
	h := NewHistorian(deadline.DefaultPolicy(), nil, now)
	count := map[string]int{}
	for i, lc := range lcs {
		if len(lc.Steps) != len(plain[i].Steps) || len(plain[i].Care) != 0 {
			t.Fatalf("%s: the additions changed the referral's steps", lc.ReferralID)
		}
		commits, err := h.History(lc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range commits {
			for _, e := range c.Commit.Events {
				switch d := e.Data.(type) {
				case events.ReferralReceived:
					if d.DateOfBirth != "" {
						count["dob"]++
					}
				case events.MissingReported:
					if c.Subject != events.CareSubject(lc.ReferralID) {
						t.Fatalf("missing episode on %s", c.Subject)
					}
					count["missing"]++
					if d.Early {
						count["early"]++
					}
				case events.MissingNotified:
					count["notified"]++
				case events.MissingReturned:
					count["returned"]++
				case events.ReturnInterviewOffered:
					if d.InTime {
						count["in-time"]++
					} else {
						count["late"]++
					}
				}
			}
		}
	}
	t.Log(count)
	for _, k := range []string{"dob", "missing", "early", "returned", "in-time", "late"} {
		if count[k] == 0 {
			t.Errorf("no %s in the histories: %v", k, count)
		}
	}
	if count["notified"] != 2*count["missing"] || count["returned"] >= count["missing"] || count["early"] >= count["missing"] {
		t.Errorf("counts: %v", count)
	}
}
