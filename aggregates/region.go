package aggregates

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// The region's rules: its partnership's allocation rota, all of them, in
// this file. The order of authorities in a regional rota is the
// partnership's own data (not published), set and changed by it, with
// pauses agreed for pressures; the scheme's rule is that an authority at or
// above 0.1% of its child population in looked-after unaccompanied children
// is not directed to take more, and a region's pledges are "a finite number
// per authority" (the North West's principles).

// Region is the state a region's rota events fold to.
type Region struct {
	Slug    string
	Version int
	// Order is the rota as the partnership set it; empty, the reference
	// data's order of the region's authorities.
	Order []string
	// Next is the index, in the order, of the next slot to try.
	Next   int
	Pauses map[string]Pause
}

// Pause is an authority's recorded pause in the rota.
type Pause struct {
	Reason string
	Until  time.Time
}

// Paused reports whether the authority is paused at now.
func (g Region) Paused(code string, now time.Time) (Pause, bool) {
	p, ok := g.Pauses[code]
	return p, ok && now.Before(p.Until)
}

// RotaOrder is the order the rota runs in: the partnership's, or members
// (the region's authorities in reference-data order) when it set none.
func (g Region) RotaOrder(members []string) []string {
	if len(g.Order) > 0 {
		return g.Order
	}
	return members
}

// RegionCommand is any of the region's own commands.
type RegionCommand interface {
	Command
	regionCommand()
}

type (
	// SetRota sets the order of the rota: every authority of the region,
	// once each. The next allocation starts at the top of the new order.
	SetRota struct {
		Order []string `json:"order" limit:"items=100,max=9"`
		// Members are the region's authorities, from the reference data
		// (the shell supplies them).
		Members []string `json:"-"`
	}
	// PauseAuthority pauses an authority in the rota until a time, for a
	// reason the partnership agreed.
	PauseAuthority struct {
		Authority string    `json:"authority" limit:"max=9"`
		Reason    string    `json:"reason" limit:"max=500,multiline"`
		Until     time.Time `json:"until"`
		Members   []string  `json:"-"`
	}
	// EndPause ends an authority's pause early, for a reason the
	// partnership agreed (the pressure eased): the rota offers it children
	// again from now.
	EndPause struct {
		Authority string   `json:"-"`
		Reason    string   `json:"reason" limit:"max=500,multiline"`
		Members   []string `json:"-"`
	}
	// Allocate allocates a referral awaiting allocation: with no Authority,
	// to the rota's next authority that can take the child; with one, to
	// that authority, for the Reason the coordinator gives (a sibling there,
	// a need it can meet). It is decided by the region and the referral
	// together (DecideAllocation) and lands on both at once.
	Allocate struct {
		Authority string `json:"authority,omitempty" limit:"max=9"`
		Reason    string `json:"reason,omitempty" limit:"max=500,multiline"`
		// What the shell supplies: the region's authorities, their capacity
		// as the capacity view counts it, and when the allocated
		// authority's contact must answer (the response policy).
		Members   []string                     `json:"-"`
		Capacity  map[string]AuthorityCapacity `json:"-"`
		RespondBy time.Time                    `json:"-"`
	}
)

// AuthorityCapacity is what the rota weighs of an authority.
type AuthorityCapacity struct {
	LookedAfter int
	// Accepted: children it received (directly, or by accepting an
	// allocation) and has not yet placed; they are coming into its care.
	Accepted int
	// AwaitingAnswer: referrals allocated to it whose answer is awaited.
	// Each holds one of its pledge places until the contact answers.
	AwaitingAnswer int
	// Threshold is 0.1% of the child population; 0 when no population is
	// known (the threshold then skips no one).
	Threshold float64
	PledgeSet bool
	Pledge    int
	// PledgeTaken: referrals received since the pledge was set and not
	// withdrawn.
	PledgeTaken int
}

// PledgeRemaining is how many places of the pledge are free for a new
// allocation: the pledge, less the children received since it was set,
// less the allocations awaiting the authority's answer, which hold a place
// each so that an authority with one place is not allocated two children
// before it answers for the first.
func (c AuthorityCapacity) PledgeRemaining() int {
	return max(0, c.Pledge-c.PledgeTaken-c.AwaitingAnswer)
}

// Children is what the threshold is measured against: the children the
// authority looks after, those it has accepted but not yet placed, and
// those allocated to it awaiting its answer. Counting only placed children
// let the rota direct an authority past its threshold while its accepted
// children were still being placed.
func (c AuthorityCapacity) Children() int { return c.LookedAfter + c.Accepted + c.AwaitingAnswer }

// AtThreshold: the scheme does not direct the authority to take more.
func (c AuthorityCapacity) AtThreshold() bool {
	return c.Threshold > 0 && float64(c.Children()) >= c.Threshold
}

// PledgeUsedUp: a pledge is set and every place of it is taken or held by
// an allocation awaiting an answer.
func (c AuthorityCapacity) PledgeUsedUp() bool { return c.PledgeSet && c.PledgeRemaining() <= 0 }

func (SetRota) CommandName() string        { return "set-rota" }
func (PauseAuthority) CommandName() string { return "pause-authority" }
func (Allocate) CommandName() string       { return "allocate" }
func (EndPause) CommandName() string       { return "end-pause" }
func (SetRota) regionCommand()             {}
func (PauseAuthority) regionCommand()      {}
func (EndPause) regionCommand()            {}

// MaxPauseReasonLength bounds the reason a pause is ended for.
const MaxPauseReasonLength = 500

// DecideRegion answers a region's own command.
func DecideRegion(g Region, cmd RegionCommand, now time.Time) ([]events.Event, error) {
	switch c := cmd.(type) {
	case SetRota:
		if len(c.Order) != len(c.Members) {
			return nil, invalid("order", "the rota names every authority of the region once: %d named, the region has %d (%s)", len(c.Order), len(c.Members), strings.Join(c.Members, ", "))
		}
		seen := map[string]bool{}
		for _, code := range c.Order {
			if !slices.Contains(c.Members, code) {
				return nil, invalid("order", "%s is not an authority of this region", code)
			}
			if seen[code] {
				return nil, invalid("order", "%s is named twice", code)
			}
			seen[code] = true
		}
		if slices.Equal(c.Order, g.RotaOrder(c.Members)) && len(g.Order) > 0 {
			return nil, illegal(CodeRotaUnchanged, "the rota is already in this order")
		}
		return one(now, events.RegionRotaSet{Region: g.Slug, Order: c.Order}), nil
	case PauseAuthority:
		if !slices.Contains(c.Members, c.Authority) {
			return nil, invalid("authority", "%q is not an authority of this region", c.Authority)
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "say why the authority is paused (capacity, placements, health or education places, another migration programme ...)")
		}
		if !c.Until.After(now) {
			return nil, invalid("until", "a pause ends in the future")
		}
		return one(now, events.RegionAuthorityPaused{Region: g.Slug, Authority: c.Authority, Reason: c.Reason, Until: c.Until}), nil
	case EndPause:
		if !slices.Contains(c.Members, c.Authority) {
			return nil, invalid("authority", "%q is not an authority of this region", c.Authority)
		}
		p, on := g.Paused(c.Authority, now)
		if !on {
			if _, was := g.Pauses[c.Authority]; was {
				return nil, illegal(CodeNotPaused, "%s's pause already ended on %s", c.Authority, p.Until.Format(time.RFC3339))
			}
			return nil, illegal(CodeNotPaused, "%s is not paused in the %s rota", c.Authority, g.Slug)
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "say why the pause ends early (the pressure eased, placements found ...)")
		}
		if why := textProblem(c.Reason, MaxPauseReasonLength, true); why != "" {
			return nil, invalid("reason", "the reason %s", why)
		}
		return one(now, events.RegionPauseEnded{Region: g.Slug, Authority: c.Authority, Reason: c.Reason, WasUntil: p.Until}), nil
	}
	return nil, fmt.Errorf("region: unknown command %T", cmd)
}

// DecideAllocation is the rota's rule, decided over the region and the
// referral together: the region's events (the rota advanced) and the
// referral's (allocated), or a refusal. Walking the rota from its next
// slot, an authority is passed over when it is paused, declined this child,
// looks after children at or above its threshold, or has used up its
// pledge; each skip is recorded with its reason. A coordinator's choice
// (Authority with a Reason) does not move the rota.
func DecideAllocation(g Region, r Referral, c Allocate, now time.Time) (region, referral []events.Event, err error) {
	switch r.Status {
	case StatusAwaitingAllocation:
	case StatusAwaitingAcceptance:
		return nil, nil, illegal(CodeNotAwaitingAllocation, "the referral is already allocated to %s, whose answer is awaited", r.AllocatedTo)
	default:
		if err := mustBeRunning(r, "allocate the referral"); err != nil {
			return nil, nil, err
		}
		return nil, nil, illegal(CodeNotAwaitingAllocation, "the referral was received by %s; it is not for allocation", r.ReceivingAuthority)
	}
	if r.Region != g.Slug {
		return nil, nil, illegal(CodeNotAwaitingAllocation, "the referral is for the %s partnership, not %s", r.Region, g.Slug)
	}
	order := g.RotaOrder(c.Members)
	if c.Authority != "" {
		i := slices.Index(order, c.Authority)
		if i < 0 {
			return nil, nil, invalid("authority", "%q is not an authority of this region", c.Authority)
		}
		if !present(c.Reason) {
			return nil, nil, invalid("reason", "choosing an authority other than the rota's needs a reason (a sibling placed there, a need it can meet)")
		}
		// A coordinator's choice may pass over the rota, not over a pledge:
		// an allocation the authority could not accept would only spend the
		// child's working days.
		if cap := c.Capacity[c.Authority]; cap.PledgeUsedUp() {
			return nil, nil, &Refusal{Kind: Illegal, Code: CodePledgeUsedUp, Field: "authority", Message: fmt.Sprintf(
				"%s has no place left in its pledge of %d (%d held by allocations awaiting its answer, the rest taken by children received since it was set): choose another authority, or ask it to raise its pledge",
				c.Authority, cap.Pledge, cap.AwaitingAnswer)}
		}
		return nil, one(now, events.ReferralAllocated{Region: g.Slug, Authority: c.Authority, Position: i + 1, OverrideReason: c.Reason, RespondBy: c.RespondBy}), nil
	}
	if c.Reason != "" {
		return nil, nil, invalid("reason", "a reason goes with a chosen authority; the rota's own choice needs none")
	}
	if len(order) == 0 {
		return nil, nil, illegal(CodeNoAuthorityAvailable, "the region has no authorities in its rota")
	}
	var skipped []events.Skip
	for k := range order {
		i := (g.Next + k) % len(order)
		code := order[i]
		if why := skipReason(g, r, c.Capacity[code], code, now); why != "" {
			skipped = append(skipped, events.Skip{Authority: code, Reason: why})
			continue
		}
		return one(now, events.RegionRotaAdvanced{Region: g.Slug, ReferralID: r.ID, Authority: code, Position: i + 1}),
			one(now, events.ReferralAllocated{Region: g.Slug, Authority: code, Position: i + 1, Skipped: skipped, RespondBy: c.RespondBy}), nil
	}
	why := make([]string, len(skipped))
	for i, s := range skipped {
		why[i] = s.Authority + " " + s.Reason
	}
	return nil, nil, illegal(CodeNoAuthorityAvailable, "every authority in the rota was passed over: %s; choose one with a reason, or end a pause", strings.Join(why, ", "))
}

func skipReason(g Region, r Referral, cap AuthorityCapacity, code string, now time.Time) string {
	switch {
	case func() bool { _, on := g.Paused(code, now); return on }():
		return events.SkipPaused
	case slices.Contains(r.Declined, code):
		return events.SkipDeclinedThisChild
	case cap.AtThreshold():
		return events.SkipAtThreshold
	case cap.PledgeUsedUp():
		return events.SkipPledgeMet
	}
	return ""
}

// EvolveRegion folds one event into a region's state.
func EvolveRegion(g Region, e events.Event) Region {
	g.Version++
	switch d := e.Data.(type) {
	case events.RegionRotaSet:
		g.Slug, g.Order, g.Next = d.Region, d.Order, 0
	case events.RegionAuthorityPaused:
		g.Slug = d.Region
		pauses := make(map[string]Pause, len(g.Pauses)+1)
		for k, v := range g.Pauses {
			pauses[k] = v
		}
		pauses[d.Authority] = Pause{Reason: d.Reason, Until: d.Until}
		g.Pauses = pauses
	case events.RegionRotaAdvanced:
		g.Slug, g.Next = d.Region, d.Position
	case events.RegionPauseEnded:
		g.Slug = d.Region
		pauses := make(map[string]Pause, len(g.Pauses))
		for k, v := range g.Pauses {
			pauses[k] = v
		}
		// Kept, ended at the moment it was ended, so a later refusal can
		// say when; Paused reports it over.
		p := pauses[d.Authority]
		p.Until = e.OccurredAt
		pauses[d.Authority] = p
		g.Pauses = pauses
	}
	return g
}

func checkRegionSlug(slug string) error {
	if reg, ok := refdata.RegionByName(slug); !ok || refdata.Slug(reg) != slug {
		return invalid("region", "%q is not a region's slug (%s)", slug, strings.Join(regionSlugs(), ", "))
	}
	return nil
}
