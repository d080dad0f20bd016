package projections

import (
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Capacity is the capacity view's state: per authority, the children it
// looks after now and the referrals it has in flight, and its pledge; per
// referral, its authority and status (compact: see compact.go).
type Capacity struct {
	Authorities map[string]*AuthorityCount
	syms        symbols
	refs        table[capRef]
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
	// AwaitingAnswer: referrals allocated to it whose answer is awaited;
	// each holds a pledge place and counts towards the threshold.
	AwaitingAnswer int `json:"awaitingAnswer"`
}

type capRef struct {
	authority, status sym
	pledged           bool
}

// NewCapacity is the empty view.
func NewCapacity() *Capacity {
	return &Capacity{Authorities: map[string]*AuthorityCount{}}
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
		if i, ok := v.refs.find(e.AggregateID); ok && aggregates.Status(v.syms.name(v.refs.get(i).status)) != aggregates.StatusAwaitingAcceptance {
			break // received once; a second, empty receipt (issue 21) counts nothing
		}
		c := v.count(d.ReceivingAuthority)
		c.InFlight++
		r := capRef{authority: v.syms.of(d.ReceivingAuthority), status: v.syms.of(string(aggregates.NextStatus(aggregates.StatusNone, e)))}
		if c.PledgeSet {
			c.PledgeTaken++
			r.pledged = true
		}
		if i, ok := v.refs.find(e.AggregateID); ok {
			// Accepted: the place its allocation held is now taken.
			v.release(v.refs.get(i))
			*v.refs.mut(i) = r
		} else {
			*v.refs.add(e.AggregateID) = r
		}
	case events.ReferralAllocated:
		v.count(d.Authority).AwaitingAnswer++
		r := capRef{authority: v.syms.of(d.Authority), status: v.syms.of(string(aggregates.StatusAwaitingAcceptance))}
		if i, ok := v.refs.find(e.AggregateID); ok {
			v.release(v.refs.get(i))
			*v.refs.mut(i) = r
		} else {
			*v.refs.add(e.AggregateID) = r
		}
	case events.AllocationException:
		if i, ok := v.refs.find(e.AggregateID); ok {
			v.release(v.refs.get(i))
			v.refs.mut(i).status = v.syms.of(string(aggregates.StatusAwaitingAllocation))
		}
	case events.ReferralPlaced, events.ReferralWithdrawn, events.ChildLeftCare:
		i, ok := v.refs.find(e.AggregateID)
		if !ok {
			break
		}
		r := v.refs.get(i)
		status := aggregates.Status(v.syms.name(r.status))
		if status == aggregates.StatusAwaitingAcceptance {
			// Withdrawn before the answer: the allocation holds nothing now.
			v.release(r)
		}
		next := aggregates.NextStatus(status, e)
		if next == status {
			break
		}
		c := v.count(v.syms.name(r.authority))
		c.InFlight += delta(status.Open(), next.Open())
		c.LookedAfter += delta(status.LookedAfter(), next.LookedAfter())
		if r.pledged && next == aggregates.StatusWithdrawn {
			// A withdrawn referral no longer uses up the pledge.
			c.PledgeTaken--
		}
		v.refs.mut(i).status = v.syms.of(string(next))
	case events.AuthorityPledgeSet:
		c := v.count(d.Authority)
		c.Pledge, c.PledgeSet, c.PledgeTaken = d.Pledge, true, 0
		a, ok := v.syms.find(d.Authority)
		if !ok {
			break // no referral of it yet
		}
		for i := range v.refs.len() {
			if r := v.refs.get(i); r.authority == a && r.pledged {
				v.refs.mut(i).pledged = false
			}
		}
	}
	return v
}

// release frees what a referral awaiting an authority's answer held there.
func (v *Capacity) release(r *capRef) {
	if aggregates.Status(v.syms.name(r.status)) == aggregates.StatusAwaitingAcceptance {
		v.count(v.syms.name(r.authority)).AwaitingAnswer--
	}
}

// MarshalJSON is the view as its snapshot holds it.
func (v *Capacity) MarshalJSON() ([]byte, error) { return marshal(v.writer(false)) }

// writer takes what the view's snapshot holds: the few authorities'
// counts copied, the referrals shared (frozen, when the view moves on
// while it is written).
func (v *Capacity) writer(freeze bool) func(*snapEncoder) {
	codes := slices.Sorted(maps.Keys(v.Authorities))
	counts := make([]AuthorityCount, len(codes))
	for i, code := range codes {
		counts[i] = *v.Authorities[code]
	}
	names, refs := v.syms.list(), v.refs.take(freeze)
	return func(w *snapEncoder) {
		w.openWithSymbols(names)
		w.name("authorities")
		w.beginArray()
		for i, c := range counts {
			w.beginArray()
			w.str(codes[i])
			w.num(int64(c.LookedAfter))
			w.num(int64(c.InFlight))
			w.num(int64(c.Pledge))
			w.flag(c.PledgeSet)
			w.num(int64(c.PledgeTaken))
			w.num(int64(c.AwaitingAnswer))
			w.endArray()
		}
		w.endArray()
		w.name("referrals")
		writeTable(w, refs, func(r *capRef) {
			w.sym(r.authority)
			w.sym(r.status)
			w.flag(r.pledged)
		})
		w.endObject()
	}
}

// loadCapacity reads the view from its snapshot.
func loadCapacity(dec *jsontext.Decoder) (*Capacity, error) {
	v, r := NewCapacity(), &snapDecoder{dec: dec}
	r.openWithSymbols(&v.syms)
	r.name("authorities")
	r.beginArray()
	for r.more() {
		r.beginArray()
		code := r.str()
		c := AuthorityCount{LookedAfter: int(r.num()), InFlight: int(r.num()), Pledge: int(r.num()), PledgeSet: r.flag(), PledgeTaken: int(r.num()), AwaitingAnswer: int(r.num())}
		r.endArray()
		v.Authorities[code] = &c
	}
	r.endArray()
	r.name("referrals")
	readTable(r, &v.refs, "referral", func() capRef {
		return capRef{authority: r.sym(), status: r.sym(), pledged: r.flag()}
	})
	r.endObject()
	return v, r.err
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

// weighed is the authority's counts as the rota's rules weigh them
// (aggregates.AuthorityCapacity), so that the view and the rota never
// disagree on who is at a threshold or has a pledge place left.
func (c *AuthorityCount) weighed(a refdata.Authority) aggregates.AuthorityCapacity {
	w := aggregates.AuthorityCapacity{LookedAfter: c.LookedAfter, Accepted: c.InFlight, AwaitingAnswer: c.AwaitingAnswer,
		PledgeSet: c.PledgeSet, Pledge: c.Pledge, PledgeTaken: c.PledgeTaken}
	if a.ChildPopulation > 0 {
		w.Threshold = float64(a.ChildPopulation) / ThresholdPerThousand
	}
	return w
}

// RotaCapacity is every authority's capacity as the rota weighs it.
func RotaCapacity(v *Capacity, reg *refdata.Registry) map[string]aggregates.AuthorityCapacity {
	out := map[string]aggregates.AuthorityCapacity{}
	for _, a := range reg.Authorities() {
		c := v.Authorities[a.Code]
		if c == nil {
			c = &AuthorityCount{}
		}
		out[a.Code] = c.weighed(a)
	}
	return out
}

// CapacityRow is one authority's or region's capacity as people read it.
type CapacityRow struct {
	Code        string `json:"code,omitempty"`
	Name        string `json:"name"`
	Region      string `json:"region,omitempty"`
	LookedAfter int    `json:"lookedAfter"`
	InFlight    int    `json:"inFlight"`
	// AwaitingAnswer: referrals allocated to it whose answer is awaited.
	AwaitingAnswer int `json:"awaitingAnswer"`
	// ChildPopulation and the threshold are absent when no population file
	// was loaded.
	ChildPopulation *int `json:"childPopulation,omitempty"`
	// Threshold is 0.1% of the child population, unrounded (57.3 means the
	// authority reaches it at its 58th child).
	Threshold *float64 `json:"threshold,omitempty"`
	// Headroom is how many more children the authority can be directed to
	// take before it reaches the threshold: ceil(threshold) less the
	// children it looks after, has accepted and not yet placed, and has
	// been allocated awaiting its answer; at least 0.
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
		row := CapacityRow{Code: a.Code, Name: a.Name, Region: a.Region, LookedAfter: c.LookedAfter, InFlight: c.InFlight, AwaitingAnswer: c.AwaitingAnswer}
		w := c.weighed(a)
		if a.ChildPopulation > 0 {
			pop := a.ChildPopulation
			t := w.Threshold
			head := max(0, int(math.Ceil(t))-w.Children())
			above := w.AtThreshold()
			row.ChildPopulation, row.Threshold, row.Headroom, row.AtOrAboveThreshold, row.PopulationYear = &pop, &t, &head, &above, a.PopulationYear
			row.PopulationSource = a.PopulationSource
		}
		if c.PledgeSet {
			p, rem := c.Pledge, w.PledgeRemaining()
			row.Pledge, row.PledgeRemaining = &p, &rem
		}
		rep.Authorities = append(rep.Authorities, row)

		r := regions[a.Region]
		r.LookedAfter += row.LookedAfter
		r.InFlight += row.InFlight
		r.AwaitingAnswer += row.AwaitingAnswer
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
			*r.AtOrAboveThreshold = float64(r.LookedAfter+r.InFlight+r.AwaitingAnswer) >= *r.Threshold
		}
		rep.Regions = append(rep.Regions, *r)
	}
	sort.Slice(rep.Authorities, func(i, j int) bool { return rep.Authorities[i].Code < rep.Authorities[j].Code })
	if !reg.PopulationLoaded {
		rep.Note = refdata.ErrNoPopulation.Error()
	}
	return rep
}
