package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
)

// ErrNoReferral is the one answer for an id that names no referral the
// caller may see, whether it was never used or is another authority's:
// telling the two apart would tell a caller which ids exist.
var ErrNoReferral = errors.New("there is no referral with this id")

// Forbidden: the caller's role may not do what was asked.
type Forbidden struct {
	Role string // the role as the token file writes it
	What string // what was refused, as a phrase: "receive referrals for E08000007"
	// Field is the command's field the refusal is about, if any.
	Field string
}

func (e *Forbidden) Error() string { return fmt.Sprintf("the %s role may not %s", e.Role, e.What) }

func (c Caller) forbidden(what, field string) error {
	return &Forbidden{Role: c.P.Role(), What: what, Field: field}
}

// Referrals are the referral's command use cases: each resolves the
// caller, authorises, mints the id, runs the engine and leaves the
// outcome for Classify.
type Referrals struct {
	Engine *engine.Engine
	// Authorities resolves an authority's earlier codes to its current one
	// and says which region it is in; nil takes codes as given.
	Authorities *refdata.Registry
	// Rota gives an acceptance the capacity it keeps the pledge with.
	Rota rota.Facts
	// Reads records each read (Read) in the read audit.
	Reads *ReadAudit
}

// Receive records a referral: received by an authority, or referred into
// the scheme for a region's partnership to allocate. The id is minted
// from the idempotency key, so a retried receipt names the same referral.
func (u Referrals) Receive(ctx context.Context, c Caller, cmd aggregates.ReceiveReferral, meta engine.Meta) (engine.Outcome, error) {
	if u.Authorities != nil {
		resolved, err := cmd.Resolve(u.Authorities)
		if err != nil {
			return engine.Outcome{}, err
		}
		cmd = resolved
	}
	if cmd.Region != "" {
		name, _ := refdata.RegionByName(cmd.Region)
		if !c.RefersInto(name, cmd.TransferringAuthority) {
			return engine.Outcome{}, c.forbidden("refer a child into the scheme for "+cmd.Region, "region")
		}
		cmd.ReferralID = engine.NewReferralID("region:"+cmd.Region, meta.IdempotencyKey)
	} else {
		if !c.WritesAuthority(cmd.ReceivingAuthority, u.Authorities) {
			return engine.Outcome{}, c.forbidden("receive referrals for "+cmd.ReceivingAuthority, "receivingAuthority")
		}
		cmd.ReferralID = engine.NewReferralID(cmd.ReceivingAuthority, meta.IdempotencyKey)
	}
	out, err := u.Engine.Handle(ctx, cmd.ReferralID, cmd, meta)
	// The id is named even when the receipt fails, so a face can tell the
	// caller where the referral stands (its version, for a refusal).
	out.AggregateID = cmd.ReferralID
	return out, err
}

// Act runs one of the actions on a referral (ActNotify, ActPlace ...; see
// ActionNames) with the command a face parsed for it. A referral the
// caller may not read is no referral; a change the role may not make is
// Forbidden; whether the referral's state allows it is the decider's to
// say. An answer to an allocation is given for the caller's authority, and
// an acceptance keeps the authority's pledge (rota.Accept).
func (u Referrals) Act(ctx context.Context, c Caller, id, action string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
	answer := action == ActAccept || action == ActException
	if c.On {
		// A failed load is left to the engine's own load, which reports it.
		if ref, _, err := u.Engine.Load(ctx, id); err == nil && ref.Status != aggregates.StatusNone {
			if !c.ReadsReferral(ref, u.Authorities) {
				return engine.Outcome{}, ErrNoReferral
			}
			if !answer && !c.ChangesReferral(ref) {
				return engine.Outcome{}, c.forbidden("change this referral; the authority that received it does", "")
			}
		}
		if answer {
			authority, ok := c.Answering()
			if !ok {
				return engine.Outcome{}, c.forbidden("answer an allocation; the allocated authority's contact does", "")
			}
			cmd = answeredBy(cmd, authority)
		}
	}
	var out engine.Outcome
	var err error
	if acc, ok := cmd.(aggregates.AcceptAllocation); ok {
		out, err = u.Rota.Accept(ctx, u.Engine, id, acc, meta)
	} else {
		out, err = u.Engine.Handle(ctx, id, cmd, meta)
	}
	var stale *engine.StaleError
	if errors.As(err, &stale) && stale.Current == 0 {
		// If-Match on an id never used: no referral, as without If-Match.
		return out, ErrNoReferral
	}
	return out, err
}

// Allocate allocates a referral awaiting allocation: by the rota (cmd
// names no authority) or to the authority the coordinator chose, with a
// reason. Only the region's own partnership allocates. rotaVersion, if
// given, is the rota's version the proposal was shown at: if the rota
// moved since, nothing is recorded (engine.StaleError).
func (u Referrals) Allocate(ctx context.Context, c Caller, id string, cmd aggregates.Allocate, meta engine.Meta, rotaVersion *int, now time.Time) (engine.Outcome, error) {
	ref, _, err := u.Engine.Load(ctx, id)
	switch {
	case err != nil:
		return engine.Outcome{}, err
	case ref.Status == aggregates.StatusNone || !c.ReadsReferral(ref, u.Authorities):
		return engine.Outcome{}, ErrNoReferral
	case ref.Region == "":
		return engine.Outcome{}, &aggregates.Refusal{Kind: aggregates.Illegal, Code: aggregates.CodeNotAwaitingAllocation, Message: "the referral was received by " + ref.ReceivingAuthority + "; it is not for allocation"}
	}
	name, _ := refdata.RegionByName(ref.Region)
	if !c.Allocates(name) {
		return engine.Outcome{}, c.forbidden("allocate referrals; the "+name+" partnership does", "")
	}
	return u.Rota.Allocate(ctx, u.Engine, ref.Region, name, id, cmd, meta, rotaVersion, now)
}

// Referral reads a referral the caller may see, with its stored commits.
// An id that cannot name a referral, names none yet, or names one the
// caller may not read is ErrNoReferral, the same answer for all three.
func (u Referrals) Referral(ctx context.Context, c Caller, id string) (aggregates.Referral, []eventstore.Stored, error) {
	if !events.ValidID(id) {
		return aggregates.Referral{}, nil, ErrNoReferral
	}
	ref, stored, err := u.Engine.Load(ctx, id)
	if err != nil {
		return ref, nil, err
	}
	if len(stored) == 0 || !c.ReadsReferral(ref, u.Authorities) {
		return ref, nil, ErrNoReferral
	}
	return ref, stored, nil
}

// answeredBy is an answer to an allocation given for the authority, so the
// decider refuses it if the referral is (by then) allocated to another.
func answeredBy(cmd aggregates.Command, authority string) aggregates.Command {
	switch x := cmd.(type) {
	case aggregates.AcceptAllocation:
		x.Authority = authority
		return x
	case aggregates.RaiseAllocationException:
		x.Authority = authority
		return x
	}
	return cmd
}
