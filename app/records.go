package app

import (
	"context"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/projections"
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

// RecordsQuery is what the data protection officer asks of the records
// view: disposals due within Within days of today (London), and the Recent
// latest disposals (zero: the defaults).
type RecordsQuery struct {
	Within, Recent int
}

// The bounds of a records query: a year ahead is as far as anyone plans a
// hold, and a page of disposals is read, not scrolled.
const (
	RecordsMaxWithin     = 366
	RecordsDefaultRecent = 50
	RecordsMaxRecent     = 1000
)

// RecordsProblem says, in words, what is wrong with a query's numbers ("":
// nothing), naming the parameter at fault: both faces refuse the same,
// before they ask.
func RecordsProblem(q RecordsQuery) (param, problem string) {
	switch {
	case q.Within < 0 || q.Within > RecordsMaxWithin:
		return "within", fmt.Sprintf("within is a number of days from 1 to %d", RecordsMaxWithin)
	case q.Recent < 0 || q.Recent > RecordsMaxRecent:
		return "recent", fmt.Sprintf("recent is how many disposals to list, from 1 to %d", RecordsMaxRecent)
	}
	return "", ""
}

// Records reads the records view for the data protection officer: the
// disposals due (overdue first), the legal holds in force and the latest
// disposals, their due dates by the retention policy in force. It names
// referrals, authorities, dates and rules only. The faces check the
// numbers with RecordsProblem first; beyond the bounds they are held to
// them here.
func (q Queries) Records(ctx context.Context, c Caller, rq RecordsQuery, at At) (Read[projections.RecordsReport], error) {
	if !c.ProtectsData() {
		return Read[projections.RecordsReport]{}, c.forbidden("read the disposals due and the legal holds; data protection does", "")
	}
	if q.Views == nil {
		return Read[projections.RecordsReport]{}, ErrNoViews
	}
	if rq.Within == 0 {
		rq.Within = projections.RecordsWithin
	}
	if rq.Recent == 0 {
		rq.Recent = RecordsDefaultRecent
	}
	rq.Within, rq.Recent = min(max(rq.Within, 0), RecordsMaxWithin), min(max(rq.Recent, 0), RecordsMaxRecent)
	p, f := q.Views.RetentionPolicy, projections.RecordsFilter{Within: rq.Within, Recent: rq.Recent}
	return read(ctx, q.Views, q.Views.Records, projections.RecordsSpec(), at, func(v *projections.Records, now time.Time) projections.RecordsReport {
		return projections.ReportRecords(v, p, f, now)
	})
}
