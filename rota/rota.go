// Package rota is the one place the shell gathers what a regional
// partnership's rota weighs and runs an allocation: the region's
// authorities from the reference data, each authority's capacity from the
// capacity view, and the response deadline from the allocation policy. The
// API (POST /v1/referrals/{id}/allocation, GET /v1/regions/{region}/rota)
// and the console's allocation pages both call it, so a proposal shown on a
// page and an allocation made through either are the same rule on the same
// facts (aggregates.DecideAllocation).
package rota

import (
	"context"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/views"
)

// Facts is where the facts come from. Views may be nil (no capacity
// facts: the threshold and pledge skip no one); Policy nil is the shipped
// allocation policy; Calendar nil the shipped calendar.
type Facts struct {
	Authorities *refdata.Registry
	Views       *views.Set
	Policy      *allocation.Policy
	Calendar    *calendar.Calendar
}

func (f Facts) policy() allocation.Policy {
	if f.Policy != nil {
		return *f.Policy
	}
	return allocation.DefaultPolicy()
}

func (f Facts) cal() *calendar.Calendar {
	if f.Calendar != nil {
		return f.Calendar
	}
	return calendar.Default()
}

// Members are the region's authorities in reference-data order (the rota's
// order until the partnership sets one). region is the region's name.
func (f Facts) Members(region string) []string { return f.Authorities.InRegion(region) }

// Capacity is what the rota weighs of each authority, from the capacity
// view as it stands (a projection: an allocation made a moment ago may not
// be counted yet, which can only make the rota more generous than the
// threshold by the children in flight; the contact's answer is the check).
func (f Facts) Capacity() map[string]aggregates.AuthorityCapacity {
	out := map[string]aggregates.AuthorityCapacity{}
	if f.Views == nil {
		return out
	}
	f.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
		for _, row := range projections.ReportCapacity(v, f.Views.Registry).Authorities {
			c := aggregates.AuthorityCapacity{LookedAfter: row.LookedAfter}
			if row.Threshold != nil {
				c.Threshold = *row.Threshold
			}
			if row.PledgeRemaining != nil {
				c.PledgeSet, c.PledgeRemaining = true, *row.PledgeRemaining
			}
			out[row.Code] = c
		}
	})
	return out
}

// Complete fills in what the shell supplies to an allocation of a referral
// for the region (its name): the members, the capacity facts and when the
// allocated contact must answer if allocated at now.
func (f Facts) Complete(c aggregates.Allocate, region string, now time.Time) aggregates.Allocate {
	c.Members = f.Members(region)
	c.Capacity = f.Capacity()
	c.RespondBy = f.policy().RespondBy(f.cal(), now)
	return c
}

// Propose is the rota's choice for ref now, the rule itself with nothing
// written: the allocation it would record (authority, position, every
// authority passed over and why), or the refusal saying why there is none.
func (f Facts) Propose(g aggregates.Region, ref aggregates.Referral, region string, now time.Time) (events.ReferralAllocated, error) {
	_, evs, err := aggregates.DecideAllocation(g, ref, f.Complete(aggregates.Allocate{}, region, now), now)
	if err != nil {
		return events.ReferralAllocated{}, err
	}
	return evs[0].Data.(events.ReferralAllocated), nil
}

// Probe is a referral of the region awaiting allocation, for proposing
// "the next child" when there is none in particular.
func Probe(slug string, now time.Time) aggregates.Referral {
	return aggregates.Fold([]events.Event{events.New(now, events.ReferralReferred{ReferralID: "proposal", Region: slug})})
}

// Allocate allocates the referral id, referred into the region slug (name
// region), as c says ({} the rota's choice; Authority and Reason a
// coordinator's), with the response deadline counted from now, through engine.HandlePair: the region's rota and the
// referral decided together and written together. meta's ExpectedVersion
// is the referral's (If-Match). rotaVersion, when not nil, is the rota's
// version the caller saw its proposal at: if the rota moved since, nothing
// is written and the answer is an *engine.StaleError of kind "region", so
// a person who saw "the rota proposes Stockport" never allocates to
// another authority without seeing it first.
func (f Facts) Allocate(ctx context.Context, eng *engine.Engine, slug, region, id string, c aggregates.Allocate, meta engine.Meta, rotaVersion *int, now time.Time) (engine.Outcome, error) {
	c = f.Complete(c, region, now)
	return engine.HandlePair(ctx, eng, aggregates.Regions, slug, aggregates.Referrals, id, c, meta,
		func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
			if rotaVersion != nil && *rotaVersion != g.Version {
				return nil, nil, &engine.StaleError{Kind: aggregates.Regions.Kind, Expected: *rotaVersion, Current: g.Version}
			}
			return aggregates.DecideAllocation(g, ref, c, now)
		})
}
