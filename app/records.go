package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

// Records are the use cases of a child's record as information kept
// (issue 24): legal holds placed and released by whoever protects data.
// Disposal itself is the retention saga's, never a face's.
type Records struct {
	Engine *engine.Engine
}

// ChildRecord is a child's record's keeping, as the faces show it.
type ChildRecord struct {
	ReferralID string
	Record     aggregates.Record
}

// Hold places (hold) or releases (!hold) a legal hold on the record of the
// referral id, with the reason given. An id that names no referral is no
// record.
func (u Records) Hold(ctx context.Context, c Caller, id string, hold bool, reason string, meta engine.Meta) (engine.Outcome, error) {
	if !c.ProtectsData() {
		return engine.Outcome{}, c.forbidden("place or release legal holds; data protection does", "")
	}
	if err := u.exists(ctx, id); err != nil {
		return engine.Outcome{}, err
	}
	var cmd aggregates.RecordCommand = aggregates.PlaceLegalHold{Reason: reason}
	if !hold {
		cmd = aggregates.ReleaseLegalHold{Reason: reason}
	}
	out, err := engine.Handle(ctx, u.Engine, aggregates.Records, id, cmd, meta)
	out.AggregateID = id
	return out, err
}

// Record is the keeping of a child's record: its holds and disposal.
func (u Records) Record(ctx context.Context, c Caller, id string) (ChildRecord, error) {
	if !c.ProtectsData() {
		return ChildRecord{}, c.forbidden("read how children's records are kept; data protection does", "")
	}
	if err := u.exists(ctx, id); err != nil {
		return ChildRecord{}, err
	}
	rec, _, err := engine.Load(ctx, u.Engine.Store, aggregates.Records, id)
	if err != nil {
		return ChildRecord{}, err
	}
	return ChildRecord{ReferralID: id, Record: rec}, nil
}

func (u Records) exists(ctx context.Context, id string) error {
	if aggregates.Records.CheckID(id) != nil {
		return ErrNoReferral
	}
	ref, _, err := u.Engine.Load(ctx, id)
	if err != nil {
		return err
	}
	if ref.Version == 0 {
		return ErrNoReferral
	}
	return nil
}
