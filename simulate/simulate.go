// Package simulate generates realistic referral histories from a seed: the
// same seed gives the same history. Tests, benchmarks and the `ntsflow
// simulate` command share it.
//
// The shape, from DOMAIN.md's figures: about half of hotel transfers met
// five working days in 2022-23, so placements here take 2 to 8 working days
// for most; some referrals are age-assessed (a few as adults, which closes
// them), some withdrawn, some left open.
package simulate

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Step is one command of one referral's life, at a time in the world.
type Step struct {
	ReferralID string
	Command    aggregates.Command
}

// Lifecycle is one referral's commands, in order.
type Lifecycle struct {
	ReferralID string
	Authority  string
	Steps      []Step
	// Care is what follows the placement on the child's care record
	// (Options.MissingPercent): a missing episode, with its strategy
	// discussion, return and return interview. Each command's facts about
	// the referral and the policy are the shell's to fill in, as the API
	// does.
	Care []aggregates.CareCommand
}

// Options shape a history.
type Options struct {
	Seed        uint64
	Referrals   int
	Start       time.Time // referrals are received from Start over Span
	Span        time.Duration
	Authorities []string // receiving authorities to draw from
	Calendar    *calendar.Calendar
	IDPrefix    string
	// ReferredPercent of the referrals are referred into the scheme for the
	// region of their drawn authority, allocated by the region's rota and
	// accepted (by whichever authority the rota chose), instead of received
	// directly. 0 keeps every referral a direct receipt.
	ReferredPercent int
	// DatesOfBirth: each referral carries a date of birth agreeing with its
	// claimed age, so the leaving-care milestones are armed on placement.
	DatesOfBirth bool
	// MissingPercent of the placed children (who stay in care) go missing
	// after the placement: some within days (early), most return, some
	// are offered a return interview in time and some late. 0: none.
	MissingPercent int
}

var professions = []string{"commissioning", "placements", "fostering", "health", "education", "mash", "police"}
var placementTypes = []string{"U1", "U3", "U4", "U5", "U6", "K2", "H5", "P2"}

// missingEpisode: the child goes missing 6 hours to 12 days after the
// placement (within the shipped policy's 7 days is early); a strategy
// discussion for most; nine in ten return within 2 to 72 hours, and most
// of those are offered a return interview, some after the 72 hours.
func missingEpisode(rng *rand.Rand, id string, placedAt time.Time) []aggregates.CareCommand {
	gone := placedAt.Add(time.Duration(6+rng.IntN(12*24-6)) * time.Hour)
	out := []aggregates.CareCommand{aggregates.ReportMissing{MissingAt: gone, LastSeen: "Simulated place " + fmt.Sprint(rng.IntN(30)), PoliceReference: "SIM-POL-" + id}}
	if rng.IntN(4) != 0 {
		out = append(out, aggregates.RecordStrategyDiscussion{HeldAt: gone.Add(time.Duration(1+rng.IntN(30)) * time.Hour), Attendees: []string{"police", "social-care"}})
	}
	if rng.IntN(10) == 0 {
		return out // still missing
	}
	back := gone.Add(time.Duration(2+rng.IntN(71)) * time.Hour)
	if held, ok := out[len(out)-1].(aggregates.RecordStrategyDiscussion); ok && held.HeldAt.After(back) {
		back = held.HeldAt.Add(time.Hour)
	}
	out = append(out, aggregates.RecordReturn{ReturnedAt: back, WhereFound: "Simulated place " + fmt.Sprint(rng.IntN(30))})
	if rng.IntN(5) != 0 {
		out = append(out, aggregates.RecordReturnInterview{OfferedAt: back.Add(time.Duration(1+rng.IntN(96)) * time.Hour), OfferedBy: "Return interview service", Accepted: rng.IntN(3) != 0})
	}
	return out
}

// Generate returns every referral's lifecycle. Times never pass now (the
// deciders refuse the future), so choose Start+Span in the past.
func Generate(o Options) []Lifecycle {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	cal := o.Calendar
	if cal == nil {
		cal = calendar.Default()
	}
	out := make([]Lifecycle, o.Referrals)
	for i := range out {
		id := fmt.Sprintf("%s%06d", o.IDPrefix, i)
		auth := o.Authorities[rng.IntN(len(o.Authorities))]
		recv := o.Start.Add(time.Duration(rng.Int64N(int64(o.Span)))).Truncate(time.Second).UTC()
		lc := Lifecycle{ReferralID: id, Authority: auth}
		add := func(c aggregates.Command) { lc.Steps = append(lc.Steps, Step{ReferralID: id, Command: c}) }
		route := events.RouteHotel
		rc := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: auth, Route: route, Hotel: fmt.Sprint("Hotel ", 1+rng.IntN(20)), ChildReference: "SIM-" + id, ReceivedAt: recv, Sex: "male"}
		if rng.IntN(5) == 0 {
			rc.Route, rc.Hotel = events.RouteEntryAuthority, ""
			rc.TransferringAuthority = "E10000016" // Kent, the main entry authority
			if auth == rc.TransferringAuthority {
				rc.TransferringAuthority = "E06000035" // Medway
			}
		}
		age := 14 + rng.IntN(4)
		rc.ClaimedAge = &age
		// Its own generator, so these additions leave every other draw
		// (and every history a seed gave before) as it was.
		extra := rand.New(rand.NewPCG(o.Seed^0xca7e, uint64(i)))
		if o.DatesOfBirth {
			rc.DateOfBirth = recv.AddDate(-age, 0, -extra.IntN(365)).Format(time.DateOnly)
		}
		if rng.IntN(100) < o.ReferredPercent {
			// Into the scheme: the rota decides the authority.
			region := refdata.Default().RegionOf(auth)
			rc.Region, rc.ReceivingAuthority, lc.Authority = refdata.Slug(region), "", ""
			if rc.TransferringAuthority != "" && refdata.Default().RegionOf(rc.TransferringAuthority) == region {
				rc.Route, rc.Hotel, rc.TransferringAuthority = events.RouteHotel, "Hotel 1", ""
			}
			add(rc)
			add(aggregates.Allocate{})
			add(aggregates.AcceptAllocation{})
		} else {
			add(rc)
		}
		add(aggregates.NotifyProfessionals{Professions: professions[:3+rng.IntN(len(professions)-2)], NotifiedBy: "team leader"})
		offers := rng.IntN(3)
		search := aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &offers}
		if offers > 0 {
			search.PlacementTypes = []string{placementTypes[rng.IntN(len(placementTypes))]}
		}
		add(search)
		roll := rng.IntN(100)
		if roll < 10 { // age disputed
			add(aggregates.RequestAgeAssessment{Method: "merton-compliant"})
			outcome := events.AgeOutcomeChild
			if rng.IntN(4) == 0 {
				outcome = events.AgeOutcomeAdult
			}
			add(aggregates.RecordAgeAssessment{Method: "merton-compliant", Outcome: outcome})
			if outcome == events.AgeOutcomeAdult {
				out[i] = lc
				continue
			}
		}
		switch {
		case roll >= 10 && roll < 16: // withdrawn: missing, reallocated, family reunion
			add(aggregates.Withdraw{Reason: []string{"missing", "reallocated", "family-reunion"}[rng.IntN(3)]})
		case roll >= 16 && roll < 21: // still open
		default:
			// Placed after 2 to 8 working days mostly, some much later.
			days := 2 + rng.IntN(7)
			if rng.IntN(10) == 0 {
				days = 9 + rng.IntN(8)
			}
			day := cal.AddWorkingDays(calendar.DateOf(recv), days)
			placedAt := day.Start().Add(time.Duration(9+rng.IntN(8)) * time.Hour).UTC()
			if placedAt.Before(recv) {
				placedAt = recv.Add(time.Hour)
			}
			add(aggregates.Place{PlacementType: placementTypes[rng.IntN(len(placementTypes))], Provider: "Provider " + fmt.Sprint(rng.IntN(50)), PlacedAt: placedAt})
			if rng.IntN(20) == 0 {
				add(aggregates.RecordLeftCare{LeftAt: placedAt.Add(time.Duration(24*(1+rng.IntN(30))) * time.Hour), Reason: "moved"})
			} else if extra.IntN(100) < o.MissingPercent {
				lc.Care = missingEpisode(extra, id, placedAt)
			}
		}
		out[i] = lc
	}
	return out
}
