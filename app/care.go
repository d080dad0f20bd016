package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/views"
)

// Teams are the team's command use cases: its social workers, which only
// the authority changes.
type Teams struct {
	Engine *engine.Engine
	// Views, if set, gives Roster the children waiting for a worker.
	Views *views.Set
	// Authorities resolves the region of a leaver's children, whom Leave
	// reallocates as Referrals.AllocateWorker does.
	Authorities *refdata.Registry
}

// Change runs a command on the team of the authority code (its current
// ONS code) about the worker staffID, which the command is given.
func (u Teams) Change(ctx context.Context, c Caller, code, staffID string, cmd aggregates.TeamCommand, meta engine.Meta) (engine.Outcome, error) {
	if !c.ChangesAuthority(code) {
		return engine.Outcome{}, c.forbidden("see or change the social workers of "+code+"; the authority does", "")
	}
	switch x := cmd.(type) { // the worker is the one the request names
	case aggregates.SetWorker:
		x.StaffID = staffID
		cmd = x
	case aggregates.MarkWorkerAway:
		x.StaffID = staffID
		cmd = x
	case aggregates.RecordWorkerLeft:
		x.StaffID = staffID
		cmd = x
	}
	return engine.Handle(ctx, u.Engine, aggregates.Teams, code, cmd, meta)
}

// AllocateWorker allocates a received child to one of the receiving
// authority's social workers. The command changes the team, so its outcome
// is the team's.
func (u Referrals) AllocateWorker(ctx context.Context, c Caller, id string, cmd aggregates.AllocateWorker, meta engine.Meta) (engine.Outcome, error) {
	ref, _, err := u.Referral(ctx, c, id)
	switch {
	case err != nil:
		return engine.Outcome{}, err
	case ref.ReceivingAuthority == "":
		return engine.Outcome{}, &aggregates.Refusal{Kind: aggregates.Illegal, Code: aggregates.CodeNotReceived, Message: "no authority has received this child yet: allocate a social worker once it is accepted"}
	case !c.ChangesAuthority(ref.ReceivingAuthority):
		return engine.Outcome{}, c.forbidden("allocate a social worker; the receiving authority's team leader does", "")
	}
	cmd.ReferralID = id
	cmd.Received = receivedForWorker(ref.Status)
	return engine.Handle(ctx, u.Engine, aggregates.Teams, ref.ReceivingAuthority, aggregates.TeamCommand(cmd), meta)
}

// Care runs a command about the care of a child the caller may change:
// complete, if given, adds the facts the shell supplies from the referral
// (the child, the safeguarding rules).
func (u Referrals) Care(ctx context.Context, c Caller, id string, cmd aggregates.CareCommand, complete func(aggregates.Referral, aggregates.CareCommand) aggregates.CareCommand, meta engine.Meta) (engine.Outcome, error) {
	ref, _, err := u.Referral(ctx, c, id)
	if err != nil {
		return engine.Outcome{}, err
	}
	if !c.ChangesReferral(ref) {
		return engine.Outcome{}, c.forbidden("change this child's care; the authority that placed the child does", "")
	}
	if complete != nil {
		cmd = complete(ref, cmd)
	}
	return engine.Handle(ctx, u.Engine, aggregates.Cares, id, cmd, meta)
}
