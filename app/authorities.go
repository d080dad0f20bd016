package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

// Authorities are the authority's own command use cases: its pledge and
// its single point of contact, which only the authority sets.
type Authorities struct {
	Engine *engine.Engine
}

// Change runs a command on an authority; code is its current ONS code,
// which the command is given.
func (u Authorities) Change(ctx context.Context, c Caller, code string, cmd aggregates.AuthorityCommand, meta engine.Meta) (engine.Outcome, error) {
	doing := "change " + code + "; the authority does"
	switch x := cmd.(type) {
	case aggregates.SetPledge:
		doing = "set the pledge of " + code + "; the authority does"
		x.Authority = code
		cmd = x
	case aggregates.SetContact:
		doing = "set the contact of " + code + "; the authority does"
		x.Authority = code
		cmd = x
	}
	if !c.ChangesAuthority(code) {
		return engine.Outcome{}, c.forbidden(doing, "")
	}
	return engine.Handle(ctx, u.Engine, aggregates.Authorities, code, cmd, meta)
}
