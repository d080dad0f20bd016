package app

import (
	"context"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

// Records are the use cases of a child's record as information kept
// (issue 24): legal holds placed and released by whoever protects data.
// Disposal itself is the retention saga's, never a face's.
type Records struct {
	Engine *engine.Engine
	// Policy, if set, is the retention policy in force, by which Record
	// says until when the record is kept (the saga's own computation).
	Policy *retention.Policy
}

// ChildRecord is a child's record's keeping, as the faces show it.
type ChildRecord struct {
	ReferralID string
	Record     aggregates.Record
	// Holds are the legal holds placed and released, oldest first.
	Holds []HoldChange
	// Kept is until when the record is kept and by which rule, by
	// Policy; nil when Records has no policy, the period cannot be known
	// yet, or the record is disposed of.
	Kept *retention.Retention
	// Policy is the version of the policy Kept was computed by.
	Policy string
}

// HoldChange is a legal hold placed (Placed) or released: why, by whom,
// when.
type HoldChange struct {
	Placed bool
	Reason string
	Actor  string
	At     time.Time
}

// Hold places (hold) or releases (!hold) a legal hold on the record of the
// referral id, with the reason given. An id that names no referral is no
// record.
func (u Records) Hold(ctx context.Context, c Caller, id string, hold bool, reason string, meta engine.Meta) (engine.Outcome, error) {
	if !c.ProtectsData() {
		return engine.Outcome{}, c.forbidden("place or release legal holds; data protection does", "")
	}
	if _, err := u.referral(ctx, id); err != nil {
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

// Record is the keeping of a child's record: its holds, their history,
// until when it is kept, and its disposal.
func (u Records) Record(ctx context.Context, c Caller, id string) (ChildRecord, error) {
	if !c.ProtectsData() {
		return ChildRecord{}, c.forbidden("read how children's records are kept; data protection does", "")
	}
	referral, err := u.referral(ctx, id)
	if err != nil {
		return ChildRecord{}, err
	}
	rec, stored, err := engine.Load(ctx, u.Engine.Store, aggregates.Records, id)
	if err != nil {
		return ChildRecord{}, err
	}
	cr := ChildRecord{ReferralID: id, Record: rec}
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			switch d := e.Data.(type) {
			case events.LegalHoldPlaced:
				cr.Holds = append(cr.Holds, HoldChange{Placed: true, Reason: d.Reason, Actor: e.Actor, At: e.OccurredAt})
			case events.LegalHoldReleased:
				cr.Holds = append(cr.Holds, HoldChange{Reason: d.Reason, Actor: e.Actor, At: e.OccurredAt})
			}
		}
	}
	if u.Policy != nil && !rec.Disposed {
		var h []events.Event
		for _, st := range referral {
			h = append(h, st.Commit.Events...)
		}
		if kept, ok := u.Policy.Retain(retention.FactsOf(h)); ok {
			cr.Kept, cr.Policy = &kept, u.Policy.Version
		}
	}
	return cr, nil
}

// referral is the referral's history; ErrNoReferral when there is none.
func (u Records) referral(ctx context.Context, id string) ([]eventstore.Stored, error) {
	if aggregates.Records.CheckID(id) != nil {
		return nil, ErrNoReferral
	}
	ref, stored, err := u.Engine.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if ref.Version == 0 {
		return nil, ErrNoReferral
	}
	return stored, nil
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
