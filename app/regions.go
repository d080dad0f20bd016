package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/refdata"
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
