package aggregates

import (
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The authority's rules: the capacity facts an authority records about
// itself. Today that is its voluntary pledge of places.

// Authority is the state an authority's events fold to.
type Authority struct {
	Code      string
	Version   int
	Pledge    int
	PledgeSet bool
}

// SetPledge records an authority's pledge: how many children it commits to
// receive (regional pledges such as "ALL receiving 4").
type SetPledge struct {
	Authority string `json:"-"`
	Pledge    *int   `json:"pledge"`
}

// AuthorityCommand is any of the authority's commands.
type AuthorityCommand interface {
	Command
	authorityCommand()
}

func (SetPledge) CommandName() string { return "set-pledge" }
func (SetPledge) authorityCommand()   {}

// MaxPledge bounds a pledge to something no authority could mean by mistake.
const MaxPledge = 1000

// DecideAuthority answers an authority command.
func DecideAuthority(a Authority, cmd AuthorityCommand, now time.Time) ([]events.Event, error) {
	c, ok := cmd.(SetPledge)
	if !ok {
		return nil, fmt.Errorf("authority: unknown command %T", cmd)
	}
	if !ValidAuthorityCode(c.Authority) {
		return nil, invalid("authority", "%q is not the ONS code of an English authority with children's services", c.Authority)
	}
	if c.Pledge == nil || *c.Pledge < 0 || *c.Pledge > MaxPledge {
		return nil, invalid("pledge", "a pledge is a number of children from 0 to %d", MaxPledge)
	}
	if a.PledgeSet && a.Pledge == *c.Pledge {
		return nil, illegal(CodePledgeUnchanged, "the pledge is already %d", a.Pledge)
	}
	return one(now, events.AuthorityPledgeSet{Authority: c.Authority, Pledge: *c.Pledge}), nil
}

func checkAuthorityCode(code string) error {
	if !ValidAuthorityCode(code) {
		return invalid("authority", "not the ONS code of an authority with children's services")
	}
	return nil
}

// EvolveAuthority folds one event into an authority's state.
func EvolveAuthority(a Authority, e events.Event) Authority {
	a.Version++
	if d, ok := e.Data.(events.AuthorityPledgeSet); ok {
		a.Code, a.Pledge, a.PledgeSet = d.Authority, d.Pledge, true
	}
	return a
}
