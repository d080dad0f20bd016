// Package rota is the one place the shell gathers what a regional
// partnership's rota weighs and runs an allocation: the region's
// authorities from the reference data, each authority's capacity from the
// capacity view, and the response deadline from the allocation policy. The
// API (POST /v1/referrals/{id}/allocation, GET /v1/regions/{region}/rota)
// and the console's allocation pages both call it, so a proposal shown on a
// page and an allocation made through either are the same rule on the same
// facts (aggregates.DecideAllocation).
//
//ntsflow:shell
package rota

import (
	"context"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
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
// view as it stands: good enough for a proposal shown on a page. An
// allocation and an acceptance decide on CapacityNow instead.
func (f Facts) Capacity() map[string]aggregates.AuthorityCapacity {
	out := map[string]aggregates.AuthorityCapacity{}
	if f.Views == nil {
		return out
	}
	f.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
		out = projections.RotaCapacity(v, f.Views.Registry)
	})
	return out
}

// CatchUpWait bounds how long an allocation or an acceptance waits for the
// capacity view to hold every commit stored before it decides.
const CatchUpWait = 5 * time.Second

// CapacityNow is Capacity once the view has applied every commit stored
// when it is asked. Called after a decision's aggregates were loaded, it
// counts every allocation, acceptance, receipt and pledge recorded before
// them; what lands after them and matters is on a subject the decision
// writes with an expected sequence (the region's, the accepting
// authority's), so the server refuses the write and the decision is made
// again on fresh counts. A view that cannot catch up (stopped at an event
// this build cannot read, or far behind) answers eventstore.ErrUnavailable:
// nothing is decided on counts that may be wrong.
func (f Facts) CapacityNow(ctx context.Context) (map[string]aggregates.AuthorityCapacity, error) {
	if f.Views == nil {
		return map[string]aggregates.AuthorityCapacity{}, nil
	}
	r := f.Views.Capacity
	last, err := r.Store.LastSequence(ctx)
	if err != nil {
		return nil, err
	}
	if st := r.Status(); st.Stalled != nil && st.Stalled.Sequence <= last {
		return nil, fmt.Errorf("%w: the capacity view is stopped at sequence %d, so pledges and thresholds cannot be checked", eventstore.ErrUnavailable, st.Stalled.Sequence)
	}
	wait, cancel := context.WithTimeout(ctx, CatchUpWait)
	defer cancel()
	if err := r.WaitFor(wait, last); err != nil {
		return nil, fmt.Errorf("%w: %v", eventstore.ErrUnavailable, err)
	}
	return f.Capacity(), nil
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
//
// The capacity it weighs is read on every attempt, after both aggregates
// were loaded (CapacityNow), so two allocations by the rota racing for an
// authority's last pledge place cannot both have it: every rota allocation
// writes the region's subject, the loser's write is refused, and it decides
// again counting the winner's allocation as holding that place. A
// coordinator's choice does not write the region; two of them at once may
// both hold an authority's last place, and then the acceptance (Accept)
// keeps the pledge.
func (f Facts) Allocate(ctx context.Context, eng *engine.Engine, slug, region, id string, c aggregates.Allocate, meta engine.Meta, rotaVersion *int, now time.Time) (engine.Outcome, error) {
	c = f.Complete(c, region, now)
	return engine.HandlePair(ctx, eng, aggregates.Regions, slug, aggregates.Referrals, id, c, meta,
		func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
			if rotaVersion != nil && *rotaVersion != g.Version {
				return nil, nil, &engine.StaleError{Kind: aggregates.Regions.Kind, Expected: *rotaVersion, Current: g.Version}
			}
			caps, err := f.CapacityNow(ctx)
			if err != nil {
				return nil, nil, err
			}
			c.Capacity = caps
			return aggregates.DecideAllocation(g, ref, c, now)
		})
}

// Accept records the allocated authority's acceptance of referral id,
// keeping its pledge (aggregates.DecideAcceptance). When the authority has
// a pledge, the acceptance is written with a pledge-place-taken event on
// the authority's own subject, both at once (engine.HandlePair), each
// checked by the server against the version it was decided on; the count
// of places taken is read after both were loaded (CapacityNow). So two
// acceptances by one authority are decided one after the other: the
// second's write is refused, it decides again, and the view it reads then
// counts the first child received. A referral not awaiting an answer goes
// to the referral's own rules, which refuse it (or repeat the first
// outcome of the same idempotency key).
func (f Facts) Accept(ctx context.Context, eng *engine.Engine, id string, c aggregates.AcceptAllocation, meta engine.Meta) (engine.Outcome, error) {
	ref, _, err := eng.Load(ctx, id)
	if err != nil || ref.Status != aggregates.StatusAwaitingAcceptance || f.Views == nil {
		// Without the capacity view there are no counts to keep a pledge
		// with, as the rota has none to pass an authority over with.
		return eng.Handle(ctx, id, c, meta)
	}
	code := ref.AllocatedTo
	return engine.HandlePair(ctx, eng, aggregates.Authorities, code, aggregates.Referrals, id, c, meta,
		func(a aggregates.Authority, r aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
			taken := 0
			if a.PledgeSet && r.AllocatedTo == code {
				caps, err := f.CapacityNow(ctx)
				if err != nil {
					return nil, nil, err
				}
				taken = caps[code].PledgeTaken
			}
			return aggregates.DecideAcceptance(a, r, c, taken, now)
		})
}
