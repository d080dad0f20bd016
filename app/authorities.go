package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/refdata"
)

// Authorities are the authority's own command use cases: its pledge and
// its single point of contact, which only the authority sets.
type Authorities struct {
	Engine *engine.Engine
	// Registry says which region an authority is in, for Settings.
	Registry *refdata.Registry
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

// Settings reads what an authority records about itself: its pledge and
// its single point of contact. The authority reads its own, its region's
// partnership those of the authorities it allocates to (the contact is
// whom it asks), auditors every authority's.
func (u Authorities) Settings(ctx context.Context, c Caller, code string) (aggregates.Authority, error) {
	if !c.ReadsSettings(code, u.Registry) {
		return aggregates.Authority{}, c.forbidden("see the settings of "+code+"; the authority and its region's partnership do", "")
	}
	a, _, err := engine.Load(ctx, u.Engine.Store, aggregates.Authorities, code)
	if a.Code == "" {
		a.Code = code
	}
	return a, err
}
