package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/views"
)

// Queries are the views' read use cases: each scopes what is asked to what
// the caller may see, reads the view and returns the data a face renders.
// When a read happens (now, after a sequence, as of a past moment) is the
// face's to say, through At; what is read and for whom is decided here.
type Queries struct {
	Views *views.Set // nil: this node serves no views
}

// At is when a query reads its view. The zero At reads the live view now.
type At struct {
	// AsOf, if set, folds the view from the start of the log up to this
	// moment instead of reading the live view (an audit's question).
	AsOf time.Time
	// Min, if set, waits (at most Wait) for the live view to have applied
	// this stream sequence, so a caller reads its own writes.
	Min  uint64
	Wait time.Duration
	// Now is the clock a live read's report is made by (nil: time.Now);
	// read after any wait, so the report is of the moment it answers.
	Now func() time.Time
}

// Behind: the view did not reach the sequence asked for in time. The
// sequences are for callers that may see them; Error names none.
type Behind struct {
	View      string
	Want, Has uint64
	Wait      time.Duration
}

func (e *Behind) Error() string {
	return fmt.Sprintf("the %s view has not caught up with that write within %v; try again", e.View, e.Wait)
}

// Read is what a query read: from which view, up to which stream sequence,
// as of which moment (zero: now), and the result.
type Read[T any] struct {
	View     string
	Sequence uint64
	AsOf     time.Time
	Result   T
}

// read reads one view at the moment at asks for; report runs under the
// view's read lock and must copy what it returns.
func read[V, T any](ctx context.Context, set *views.Set, runner *views.Runner[V], spec projections.Spec[V], at At, report func(v V, now time.Time) T) (Read[T], error) {
	out := Read[T]{View: spec.Name}
	if !at.AsOf.IsZero() {
		v, seq, _, err := views.Fold(ctx, set.Store, spec, views.FoldOptions{AsOf: at.AsOf})
		if err != nil {
			return out, err
		}
		out.AsOf = at.AsOf.UTC()
		out.Sequence, out.Result = seq, report(v, out.AsOf)
		return out, nil
	}
	if at.Min > 0 {
		wctx, cancel := context.WithTimeout(ctx, at.Wait)
		defer cancel()
		if err := runner.WaitFor(wctx, at.Min); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, &Behind{View: spec.Name, Want: at.Min, Has: runner.Status().Sequence, Wait: at.Wait}
		}
	}
	now := time.Now()
	if at.Now != nil {
		now = at.Now()
	}
	runner.Read(func(v V, seq uint64) {
		out.Sequence, out.Result = seq, report(v, now)
	})
	return out, nil
}

// ErrNoViews: this node serves no views (wiring.Config.NoViews).
var ErrNoViews = errors.New("this instance serves no views")

// scoped is the scope a query covers for the caller: a page narrows what
// is beyond the caller's scope (it offers no way there, so only a
// hand-edited address asks for it); the API refuses it.
func (q Queries) scoped(c Caller, asked Scope, page bool, what string) (Scope, error) {
	if page {
		return c.PageScope(asked, q.registry()), nil
	}
	sc, beyond := c.Narrow(asked, q.registry())
	if beyond != "" {
		return sc, c.forbidden("read "+beyond+" "+what, "")
	}
	return sc, nil
}

// ReferralQuery is what is asked of the referral list.
type ReferralQuery struct {
	// Scope is the region or authority asked for; the list covers the
	// part of it the caller may see.
	Scope Scope
	// Filter's status, deadline state, offset and limit select the rows;
	// its region and authority are the scope's, narrowed.
	Filter projections.ReferralFilter
	// Running lists only the referrals whose clock runs, nearest deadline
	// first (none yet, last), whatever the offset and limit: the at-risk
	// list. An authority's includes the referrals allocated to it while
	// its answer is awaited, since the answer is its to give.
	Running bool
	// Page narrows a scope beyond the caller's instead of refusing it.
	Page bool
}

// Referrals reads the referral list: the scope it covers, and the page.
func (q Queries) Referrals(ctx context.Context, c Caller, rq ReferralQuery, at At) (Read[projections.ReferralPage], Scope, error) {
	sc, err := q.scoped(c, rq.Scope, rq.Page, "referrals")
	if err != nil {
		return Read[projections.ReferralPage]{}, sc, err
	}
	if q.Views == nil {
		return Read[projections.ReferralPage]{}, sc, ErrNoViews
	}
	f := rq.Filter
	f.Region, f.Authority = sc.Region, sc.Authority
	f.Child = strings.TrimSpace(f.Child)
	if f.Child != "" && !c.SeesChild() {
		if !rq.Page {
			return Read[projections.ReferralPage]{}, sc, c.forbidden("search by child reference; the authorities and regions do", "child")
		}
		f.Child = ""
	}
	reg := q.Views.Registry
	if !rq.Running {
		r, err := read(ctx, q.Views, q.Views.Referrals, projections.ReferralListSpec(), at, func(v *projections.ReferralList, now time.Time) projections.ReferralPage {
			return projections.ListReferrals(v, reg, f, now)
		})
		hideChild(c, r.Result.Referrals)
		return r, sc, err
	}
	// The authority's filter is applied below, so the referrals allocated
	// to it are not lost to the list's own (which keeps the holder's).
	f.Authority = ""
	r, err := read(ctx, q.Views, q.Views.Referrals, projections.ReferralListSpec(), at, func(v *projections.ReferralList, now time.Time) projections.ReferralPage {
		all := f
		all.Offset, all.Limit = 0, v.Len()+1
		var rows []projections.ReferralRow
		for _, row := range projections.ListReferrals(v, reg, all, now).Referrals {
			if !aggregates.Status(row.Status).Running() {
				continue
			}
			if sc.Authority != "" && row.Authority != sc.Authority &&
				!(row.Status == string(aggregates.StatusAwaitingAcceptance) && row.AllocatedTo == sc.Authority) {
				continue
			}
			rows = append(rows, row)
		}
		return projections.ReferralPage{Referrals: rows, Total: len(rows)}
	})
	rows := r.Result.Referrals
	hideChild(c, rows)
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].DueAt, rows[j].DueAt
		if a.IsZero() != b.IsZero() {
			return b.IsZero()
		}
		return a.Before(b)
	})
	return r, sc, err
}

// hideChild clears the child's reference from the rows of a caller who may
// not see it (operators, auditors): the list holds it for the others.
func hideChild(c Caller, rows []projections.ReferralRow) {
	if c.SeesChild() {
		return
	}
	for i := range rows {
		rows[i].ChildReference = ""
	}
}

// CapacityQuery is what is asked of the capacity view: England (the zero
// Scope), a region or an authority.
type CapacityQuery struct {
	Scope Scope
	// Page narrows a scope beyond the caller's instead of refusing it.
	Page bool
}

// Capacity reads the capacity view: the scope it covers, and the report cut
// to it (an authority: its row; a region: its row and its authorities';
// England: every row).
func (q Queries) Capacity(ctx context.Context, c Caller, cq CapacityQuery, at At) (Read[projections.CapacityReport], Scope, error) {
	sc := cq.Scope
	if cq.Page {
		sc = c.PageScope(sc, q.registry())
	} else if !c.ReadsCapacity(sc.Region, sc.Authority, q.registry()) {
		return Read[projections.CapacityReport]{}, sc, c.forbidden("read this capacity view; ask for your own authority or region", "")
	}
	if q.Views == nil {
		return Read[projections.CapacityReport]{}, sc, ErrNoViews
	}
	reg := q.Views.Registry
	r, err := read(ctx, q.Views, q.Views.Capacity, projections.CapacitySpec(), at, func(v *projections.Capacity, _ time.Time) projections.CapacityReport {
		rep := projections.ReportCapacity(v, reg)
		if sc.Authority == "" && sc.Region == "" {
			return rep
		}
		cut := projections.CapacityReport{Note: rep.Note}
		for _, a := range rep.Authorities {
			if (sc.Authority != "" && a.Code == sc.Authority) || (sc.Authority == "" && a.Region == sc.Region) {
				cut.Authorities = append(cut.Authorities, a)
			}
		}
		if sc.Authority == "" {
			for _, rg := range rep.Regions {
				if rg.Name == sc.Region {
					cut.Regions = append(cut.Regions, rg)
				}
			}
		}
		return cut
	})
	return r, sc, err
}

// registry is the authorities the scopes are judged by (nil without views:
// then nothing is read anyway).
func (q Queries) registry() *refdata.Registry {
	if q.Views == nil {
		return nil
	}
	return q.Views.Registry
}

// TimelinessQuery is what is asked of the timeliness view.
type TimelinessQuery struct {
	Scope Scope
	// From and To are months, YYYY-MM, inclusive; "" is open.
	From, To string
	// Page narrows a scope beyond the caller's instead of refusing it.
	Page bool
}

// Timeliness reads the timeliness view for the part of the scope the
// caller may see.
func (q Queries) Timeliness(ctx context.Context, c Caller, tq TimelinessQuery, at At) (Read[projections.TimelinessReport], Scope, error) {
	sc, err := q.scoped(c, tq.Scope, tq.Page, "referrals")
	if err != nil {
		return Read[projections.TimelinessReport]{}, sc, err
	}
	if q.Views == nil {
		return Read[projections.TimelinessReport]{}, sc, ErrNoViews
	}
	f := projections.TimelinessFilter{Region: sc.Region, Authority: sc.Authority, From: tq.From, To: tq.To}
	reg := q.Views.Registry
	r, err := read(ctx, q.Views, q.Views.Timeliness, projections.TimelinessSpec(q.Views.Calendar), at, func(v *projections.Timeliness, now time.Time) projections.TimelinessReport {
		return projections.ReportTimeliness(v, reg, f, now)
	})
	return r, sc, err
}

// Safeguarding reads the safeguarding view (children missing now, return
// interviews due, the figures) for the part of the scope the caller may
// see; asking beyond it is refused.
func (q Queries) Safeguarding(ctx context.Context, c Caller, asked Scope, at At) (Read[projections.SafeguardingReport], error) {
	sc, err := q.scoped(c, asked, false, "referrals")
	if err != nil {
		return Read[projections.SafeguardingReport]{}, err
	}
	if q.Views == nil {
		return Read[projections.SafeguardingReport]{}, ErrNoViews
	}
	f := projections.SafeguardingFilter{Region: sc.Region, Authority: sc.Authority}
	reg, after := q.Views.Registry, q.Views.MissingAlertAfter
	return read(ctx, q.Views, q.Views.Safeguarding, projections.SafeguardingSpec(), at, func(v *projections.Safeguarding, now time.Time) projections.SafeguardingReport {
		return projections.ReportSafeguarding(v, reg, f, now, after)
	})
}
