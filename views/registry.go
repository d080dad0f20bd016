package views

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

// registry is every view the engine keeps, in the order they are run,
// listed and reported. Adding a view is its fold in projections and one
// line here; everything that goes over the views (the set's follower,
// snapshots, statuses, readiness, rebuilds, replays as of a moment, the
// metrics' labels, the benchmarks, the names the API and the CLI accept)
// goes over this list. Its field, if it has one, is how a face that
// reads the view's own type (the API's filters, the console's pages)
// finds its runner; a view nobody reads by type needs none.
var registry = []registered{
	view(fixed(projections.CapacitySpec), func(s *Set) **Runner[*projections.Capacity] { return &s.Capacity }, func(v *projections.Capacity, e reportEnv) any { return projections.ReportCapacity(v, e.reg) }),
	view(projections.TimelinessSpec, func(s *Set) **Runner[*projections.Timeliness] { return &s.Timeliness }, func(v *projections.Timeliness, e reportEnv) any {
		return projections.ReportTimeliness(v, e.reg, projections.TimelinessFilter{}, e.now)
	}),
	view(fixed(projections.ReferralListSpec), func(s *Set) **Runner[*projections.ReferralList] { return &s.Referrals }, func(v *projections.ReferralList, e reportEnv) any {
		return projections.ListReferrals(v, e.reg, projections.ReferralFilter{Limit: v.Len()}, e.now)
	}),
	view(fixed(projections.SafeguardingSpec), func(s *Set) **Runner[*projections.Safeguarding] { return &s.Safeguarding }, func(v *projections.Safeguarding, e reportEnv) any {
		return projections.ReportSafeguarding(v, e.reg, projections.SafeguardingFilter{}, e.now, e.missingAlertAfter)
	}),
	view(fixed(projections.ChildrenSpec), func(s *Set) **Runner[*projections.Children] { return &s.Children }, func(v *projections.Children, e reportEnv) any {
		return projections.ReportChildren(v, e.reg, e.cal, projections.ChildrenFilter{}, e.now)
	}),
	view(fixed(projections.DeadlinesSpec), func(s *Set) **Runner[*projections.Deadlines] { return &s.Deadlines }, func(v *projections.Deadlines, e reportEnv) any { return projections.ReportDeadlines(v, e.now) }),
	view(fixed(projections.RecordsSpec), func(s *Set) **Runner[*projections.Records] { return &s.Records }, func(v *projections.Records, e reportEnv) any {
		return projections.ReportRecords(v, retention.DefaultPolicy(), projections.RecordsFilter{Within: projections.RecordsWithin, Recent: len(v.Refs)}, e.now)
	}),
}

// Names of the views, in the registry's order: what the API and the CLI
// accept.
func Names() []string {
	out := make([]string, len(registry))
	for i, r := range registry {
		out[i] = r.name()
	}
	return out
}

// Known reports whether name is a view.
func Known(name string) bool { return lookup(name) != nil }

func lookup(name string) registered {
	for _, r := range registry {
		if r.name() == name {
			return r
		}
	}
	return nil
}

// unknownView is the answer to a name that is no view, naming those that are.
type unknownView string

func (u unknownView) Error() string {
	return fmt.Sprintf("no view %q (views: %s)", string(u), strings.Join(Names(), ", "))
}

// reportEnv is what a view's report reads besides the view.
type reportEnv struct {
	reg               *refdata.Registry
	cal               *calendar.Calendar
	now               time.Time
	missingAlertAfter time.Duration
}

// registered is one line of the registry, whatever the view's type.
type registered interface {
	name() string
	// attach makes the set's runner of the view.
	attach(s *Set, store Store, log *slog.Logger)
	// of is the set's runner of the view; nil if the set has none (a Set
	// made field by field in a test may leave views out).
	of(s *Set) member
	// fold folds the view from zero; report reports what it folded,
	// unfiltered.
	fold(ctx context.Context, store Log, cal *calendar.Calendar, o FoldOptions) (report func(reportEnv) any, seq uint64, stats Stats, err error)
}

// member is a runner, as the set drives it whatever its view's type.
type member interface {
	liveView
	Status() Status
	Rebuild(ctx context.Context, progress func(Progress)) error
	setSnapshotFailure(fn func(view string, err error))
}

type entry[V any] struct {
	spec   func(*calendar.Calendar) projections.Spec[V]
	field  func(*Set) **Runner[V]
	report func(V, reportEnv) any
	// key names the view; read from its spec once, at start.
	key string
}

// view is a registry line: the view's spec (given the calendar), its
// field on Set (nil: none) and its unfiltered report.
func view[V any](spec func(*calendar.Calendar) projections.Spec[V], field func(*Set) **Runner[V], report func(V, reportEnv) any) registered {
	return &entry[V]{spec: spec, field: field, report: report, key: spec(calendar.Default()).Name}
}

// fixed is a spec that needs no calendar, as a registry line takes it.
func fixed[V any](spec func() projections.Spec[V]) func(*calendar.Calendar) projections.Spec[V] {
	return func(*calendar.Calendar) projections.Spec[V] { return spec() }
}

func (e *entry[V]) name() string { return e.key }

func (e *entry[V]) attach(s *Set, store Store, log *slog.Logger) {
	r := NewRunner(e.spec(s.Calendar), store, log)
	if e.field != nil {
		*e.field(s) = r
		return
	}
	if s.unnamed == nil {
		s.unnamed = map[string]member{}
	}
	s.unnamed[e.key] = r
}

func (e *entry[V]) of(s *Set) member {
	if e.field == nil {
		if m, ok := s.unnamed[e.key]; ok {
			return m
		}
		return nil
	}
	if r := *e.field(s); r != nil {
		return r
	}
	return nil
}

func (e *entry[V]) fold(ctx context.Context, store Log, cal *calendar.Calendar, o FoldOptions) (func(reportEnv) any, uint64, Stats, error) {
	v, seq, stats, err := Fold(ctx, store, e.spec(cal), o)
	return func(env reportEnv) any { return e.report(v, env) }, seq, stats, err
}

func (r *Runner[V]) setSnapshotFailure(fn func(view string, err error)) { r.OnSnapshotFailure = fn }

// FoldNamed folds the view called name from zero, as Fold does, for those
// who go over every view without reading their types (the benchmarks).
func FoldNamed(ctx context.Context, store Log, cal *calendar.Calendar, name string, o FoldOptions) (uint64, Stats, error) {
	r := lookup(name)
	if r == nil {
		return 0, Stats{}, unknownView(name)
	}
	_, seq, stats, err := r.fold(ctx, store, cal, o)
	return seq, stats, err
}
