package projections

import (
	"math"
	"sort"

	"github.com/ntsflow/ntsflow/aggregates"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Capacity is the capacity view's state: per authority, the children it
// looks after now and the referrals it has in flight, and its pledge.
type Capacity struct {
	Authorities map[string]*AuthorityCount `json:"authorities"`
	Referrals   map[string]capRef          `json:"referrals"`
}

// AuthorityCount is one authority's counts.
type AuthorityCount struct {
	LookedAfter int  `json:"lookedAfter"` // placed and not left care
	InFlight    int  `json:"inFlight"`    // received, not yet placed or withdrawn
	Pledge      int  `json:"pledge"`
	PledgeSet   bool `json:"pledgeSet"`
	// PledgeTaken: referrals received since the pledge was set and not
	// withdrawn; they use up the pledge.
	PledgeTaken int `json:"pledgeTaken"`
}

type capRef struct {
	Authority string            `json:"a"`
	Status    aggregates.Status `json:"s"`
	Pledged   bool              `json:"p,omitempty"`
}

// NewCapacity is the empty view.
func NewCapacity() *Capacity {
	return &Capacity{Authorities: map[string]*AuthorityCount{}, Referrals: map[string]capRef{}}
}

func (v *Capacity) count(code string) *AuthorityCount {
	c := v.Authorities[code]
	if c == nil {
		c = &AuthorityCount{}
		v.Authorities[code] = c
	}
	return c
}

// ApplyCapacity folds one event into the capacity view.
func ApplyCapacity(v *Capacity, e events.Event) *Capacity {
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		c := v.count(d.ReceivingAuthority)
		c.InFlight++
		r := capRef{Authority: d.ReceivingAuthority, Status: aggregates.NextStatus(aggregates.StatusNone, e)}
		if c.PledgeSet {
			c.PledgeTaken++
			r.Pledged = true
		}
		v.Referrals[e.AggregateID] = r
	case events.ReferralPlaced, events.ReferralWithdrawn, events.ChildLeftCare:
		r, ok := v.Referrals[e.AggregateID]
		if !ok {
			break
		}
		next := aggregates.NextStatus(r.Status, e)
		if next == r.Status {
			break
		}
		c := v.count(r.Authority)
		c.InFlight += delta(r.Status.Open(), next.Open())
		c.LookedAfter += delta(r.Status.LookedAfter(), next.LookedAfter())
		if r.Pledged && next == aggregates.StatusWithdrawn {
			// A withdrawn referral no longer uses up the pledge.
			c.PledgeTaken--
		}
		r.Status = next
		v.Referrals[e.AggregateID] = r
	case events.AuthorityPledgeSet:
		c := v.count(d.Authority)
		c.Pledge, c.PledgeSet, c.PledgeTaken = d.Pledge, true, 0
		for id, r := range v.Referrals {
			if r.Authority == d.Authority && r.Pledged {
				r.Pledged = false
				v.Referrals[id] = r
			}
		}
	}
	return v
}

// delta is how a count moves when a referral's status moves: +1 as it
// starts counting, -1 as it stops.
func delta(before, after bool) int {
	switch {
	case after && !before:
		return 1
	case before && !after:
		return -1
	}
	return 0
}

// CapacityRow is one authority's or region's capacity as people read it.
type CapacityRow struct {
	Code        string `json:"code,omitempty"`
	Name        string `json:"name"`
	Region      string `json:"region,omitempty"`
	LookedAfter int    `json:"lookedAfter"`
	InFlight    int    `json:"inFlight"`
	// ChildPopulation and the threshold are absent when no population file
	// was loaded.
	ChildPopulation *int `json:"childPopulation,omitempty"`
	// Threshold is 0.1% of the child population, unrounded (57.3 means the
	// authority reaches it at its 58th child).
	Threshold *float64 `json:"threshold,omitempty"`
	// Headroom is how many more children the authority can look after
	// before it reaches the threshold: ceil(threshold) - lookedAfter, at
	// least 0.
	Headroom           *int   `json:"headroom,omitempty"`
	AtOrAboveThreshold *bool  `json:"atOrAboveThreshold,omitempty"`
	Pledge             *int   `json:"pledge,omitempty"`
	PledgeRemaining    *int   `json:"pledgeRemaining,omitempty"`
	PopulationYear     string `json:"populationYear,omitempty"`
	// PopulationSource names the estimate the threshold is computed from.
	PopulationSource string `json:"populationSource,omitempty"`
}

// ThresholdPerThousand is the NTS threshold: 0.1% of the child population,
// one child per thousand (NTS protocol; the earlier voluntary scheme used
// 0.07%). Dividing by 1000, rather than multiplying by 0.001, keeps
// 57,300 children at exactly 57.3.
const ThresholdPerThousand = 1000.0

// CapacityReport is the capacity view for every authority and region.
type CapacityReport struct {
	Authorities []CapacityRow `json:"authorities"`
	Regions     []CapacityRow `json:"regions"`
	// Note explains missing thresholds, if any.
	Note string `json:"note,omitempty"`
}

// ReportCapacity reads the view against the reference data. Thresholds are
// not rounded: rounding 57.3 down would call an authority with 57 children
// at its threshold when it is not, and rounding up would hide that its 58th
// child takes it over; comparing counts with the exact figure says both
// right. Headroom, a number of children, is whole.
func ReportCapacity(v *Capacity, reg *refdata.Registry) CapacityReport {
	var rep CapacityReport
	regions := map[string]*CapacityRow{}
	for _, name := range refdata.Regions {
		regions[name] = &CapacityRow{Name: name}
		if reg.PopulationLoaded {
			zero, zf, zh, zp := 0, 0.0, 0, false
			regions[name].ChildPopulation, regions[name].Threshold, regions[name].Headroom, regions[name].AtOrAboveThreshold = &zero, &zf, &zh, &zp
		}
	}
	for _, a := range reg.Authorities() {
		c := v.Authorities[a.Code]
		if c == nil {
			c = &AuthorityCount{}
		}
		row := CapacityRow{Code: a.Code, Name: a.Name, Region: a.Region, LookedAfter: c.LookedAfter, InFlight: c.InFlight}
		if a.ChildPopulation > 0 {
			pop := a.ChildPopulation
			t := float64(pop) / ThresholdPerThousand
			head := max(0, int(math.Ceil(t))-c.LookedAfter)
			above := float64(c.LookedAfter) >= t
			row.ChildPopulation, row.Threshold, row.Headroom, row.AtOrAboveThreshold, row.PopulationYear = &pop, &t, &head, &above, a.PopulationYear
			row.PopulationSource = a.PopulationSource
		}
		if c.PledgeSet {
			p, rem := c.Pledge, max(0, c.Pledge-c.PledgeTaken)
			row.Pledge, row.PledgeRemaining = &p, &rem
		}
		rep.Authorities = append(rep.Authorities, row)

		r := regions[a.Region]
		r.LookedAfter += row.LookedAfter
		r.InFlight += row.InFlight
		if row.Threshold != nil && r.Threshold != nil {
			*r.ChildPopulation += *row.ChildPopulation
			*r.Threshold += *row.Threshold
			*r.Headroom += *row.Headroom
		}
		if row.Pledge != nil {
			if r.Pledge == nil {
				r.Pledge, r.PledgeRemaining = new(int), new(int)
			}
			*r.Pledge += *row.Pledge
			*r.PledgeRemaining += *row.PledgeRemaining
		}
	}
	for _, name := range refdata.Regions {
		r := regions[name]
		if r.Threshold != nil {
			*r.AtOrAboveThreshold = float64(r.LookedAfter) >= *r.Threshold
		}
		rep.Regions = append(rep.Regions, *r)
	}
	sort.Slice(rep.Authorities, func(i, j int) bool { return rep.Authorities[i].Code < rep.Authorities[j].Code })
	if !reg.PopulationLoaded {
		rep.Note = refdata.ErrNoPopulation.Error()
	}
	return rep
}
