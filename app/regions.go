package app

import (
	"context"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
)

// Regions are the regional partnership's command use cases: its rota's
// order, and pausing an authority or ending a pause.
type Regions struct {
	Engine      *engine.Engine
	Authorities *refdata.Registry
}

// Change runs a command on a region's rota (region is the region's name).
// Only the region's own partnership changes it. The region's authorities
// come from the reference data, and an authority named by an earlier code
// is named by its current one, so the rota never holds a code that has
// gone.
func (u Regions) Change(ctx context.Context, c Caller, region string, cmd aggregates.RegionCommand, meta engine.Meta) (engine.Outcome, error) {
	doing := "change the " + region + " rota; its partnership does"
	members := u.Authorities.InRegion(region)
	switch x := cmd.(type) {
	case aggregates.SetRota:
		x.Members = members
		cmd = x
	case aggregates.PauseAuthority:
		x.Members, x.Authority = members, u.current(x.Authority)
		cmd = x
	case aggregates.EndPause:
		doing = "end a pause in the " + region + " rota; its partnership does"
		x.Members, x.Authority = members, u.current(x.Authority)
		cmd = x
	}
	if !c.Allocates(region) {
		return engine.Outcome{}, c.forbidden(doing, "")
	}
	return engine.Handle(ctx, u.Engine, aggregates.Regions, refdata.Slug(region), cmd, meta)
}

func (u Regions) current(code string) string {
	if cur, ok := u.Authorities.Canonical(code); ok {
		return cur
	}
	return code
}

// Rota is a region's rota as the faces show it.
type Rota struct {
	Region aggregates.Region
	// Order is the region's authorities in the rota's order.
	Order []string
	// Capacity is each authority's row of the capacity view, by code
	// (empty on a node without views).
	Capacity map[string]projections.CapacityRow
	// Proposal is whom the rota would allocate the next child to now,
	// with whom it would pass over; NoProposal, when it would pass over
	// every authority, says why.
	Proposal   *events.ReferralAllocated
	NoProposal error
}

// Rota reads a region's rota (region is its name), with the proposal the
// rule itself makes on a referral of the region awaiting allocation,
// nothing written. The region's partnership and auditors read it.
func (u Regions) Rota(ctx context.Context, c Caller, region string, facts rota.Facts, now time.Time) (Rota, error) {
	if !c.ReadsRota(region) {
		return Rota{}, c.forbidden("read the "+region+" rota", "")
	}
	slug := refdata.Slug(region)
	g, _, err := engine.Load(ctx, u.Engine.Store, aggregates.Regions, slug)
	if err != nil {
		return Rota{}, err
	}
	out := Rota{Region: g, Order: g.RotaOrder(facts.Members(region)), Capacity: map[string]projections.CapacityRow{}}
	if facts.Views != nil {
		facts.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
			for _, row := range projections.ReportCapacity(v, facts.Authorities).Authorities {
				out.Capacity[row.Code] = row
			}
		})
	}
	if p, err := facts.Propose(g, rota.Probe(slug, now), region, now); err != nil {
		out.NoProposal = err
	} else {
		out.Proposal = &p
	}
	return out, nil
}
