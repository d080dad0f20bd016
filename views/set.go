package views

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// Set is the engine's live views, each with its runner: one per line of
// the registry (registry.go). The fields below are the runners of the
// views a face reads by type; a view nobody reads that way has none.
type Set struct {
	Capacity     *Runner[*projections.Capacity]
	Timeliness   *Runner[*projections.Timeliness]
	Referrals    *Runner[*projections.ReferralList]
	Safeguarding *Runner[*projections.Safeguarding]
	Children     *Runner[*projections.Children]
	// Deadlines is the deadline saga's index; the saga reads it (Due).
	Deadlines *Runner[*projections.Deadlines]
	// Records is the data protection officer's view of holds and disposals.
	Records  *Runner[*projections.Records]
	Registry *refdata.Registry
	Calendar *calendar.Calendar
	Store    Store
	// MissingAlertAfter is the safeguarding policy's time after which a
	// missing child is counted by the alert (NewSet: the shipped policy's;
	// serve sets the policy in force).
	MissingAlertAfter time.Duration
	// RetentionPolicy is the policy the records view's due dates are
	// computed by when read (NewSet: the shipped one; serve sets the one in
	// force, the retention saga's).
	RetentionPolicy retention.Policy

	mu          sync.Mutex
	lastRebuild map[string]RebuildResult
	// startAt is the log's last sequence when the node started
	// (CatchUpTo); caughtUp is set once every view has reached it.
	startAt  atomic.Uint64
	caughtUp atomic.Bool
	// unnamed holds the runners of registered views with no field.
	unnamed map[string]member
}

// RebuildResult is how a view's last rebuild ended.
type RebuildResult struct {
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// NewSet makes the views over a store.
func NewSet(store Store, reg *refdata.Registry, cal *calendar.Calendar, log *slog.Logger) *Set {
	s := &Set{
		Registry:          reg,
		Calendar:          cal,
		Store:             store,
		MissingAlertAfter: time.Duration(safeguarding.DefaultPolicy().AlertMissingLongerThan),
		RetentionPolicy:   retention.DefaultPolicy(),
		lastRebuild:       map[string]RebuildResult{},
	}
	for _, r := range registry {
		r.attach(s, store, log)
	}
	return s
}

// members are the set's runners, in the registry's order.
func (s *Set) members() []member {
	var out []member
	for _, r := range registry {
		if m := r.of(s); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (s *Set) statuses() []Status {
	var out []Status
	for _, m := range s.members() {
		out = append(out, m.Status())
	}
	return out
}

// liveView is a Runner of any view, as the set drives it.
type liveView interface {
	start(context.Context)
	next() uint64
	applyLive(eventstore.Stored) error
	Snapshot(context.Context) error
	log() *slog.Logger
}

// Run runs every view until ctx ends, then snapshots them. The views share
// one follower of the stream, from the earliest of their checkpoints: each
// commit is read and decoded once and applied to each view in turn (each
// skips what it already holds). A follower per view read and decoded every
// commit once per view, and the server kept a block of the stream in
// memory for each (8 MB a block), which made up much of serve's memory
// while the views caught up.
func (s *Set) Run(ctx context.Context) {
	views := s.members()
	var wg sync.WaitGroup
	for _, v := range views {
		wg.Go(func() { v.start(ctx) })
	}
	wg.Wait()
	for ctx.Err() == nil {
		from := views[0].next()
		for _, v := range views[1:] {
			from = min(from, v.next())
		}
		err := s.Store.Follow(ctx, from, func(st eventstore.Stored) error {
			rewind := false
			for _, v := range views {
				// A view that stops at an event this build cannot read says
				// so in its status and readiness; the others go on.
				switch err := v.applyLive(st); {
				case errors.Is(err, errRewind):
					rewind = true
				case errors.Is(err, eventstore.ErrUnavailable):
					// Not readable now: all stop before it and come back
					// from their checkpoints, none passes it.
					return err
				}
			}
			if rewind {
				return errRewind
			}
			return nil
		})
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errRewind) {
			continue // at once, from the checkpoints: the voided view's is before this commit
		}
		views[0].log().Warn("the views stopped following the stream; resuming from their checkpoints", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, v := range views {
		v.Snapshot(sctx)
	}
}

// Ready reports an error when a view has stopped at an event this build
// cannot read: it answers, but with a state that misses that event and
// everything after it; and, after CatchUpTo, until every view has caught
// up with the log as it stood at the start.
func (s *Set) Ready() error {
	statuses := s.statuses()
	for _, st := range statuses {
		if st.Stalled != nil {
			return fmt.Errorf("view %s stopped at stream sequence %d (%s): event type %q is not one this build reads; run a build that reads it, or void it (docs/runbook.md#message-nobody-can-read)", st.Name, st.Stalled.Sequence, st.Stalled.Subject, st.Stalled.Type)
		}
	}
	if s.caughtUp.Load() {
		return nil
	}
	at := s.startAt.Load()
	for _, st := range statuses {
		if st.Sequence < at {
			return fmt.Errorf("views catching up with the log after the start: %s at stream sequence %d of %d", st.Name, st.Sequence, at)
		}
	}
	s.caughtUp.Store(true)
	return nil
}

// CatchUpTo makes Ready say not ready until every view has applied the
// log up to seq, the stream's last sequence when the node starts: views
// kept in memory only (projections.Spec.InMemory) fold the whole log on
// every start, and until they have, a list read from them would miss
// children (docs/operations.md, "Readiness"). Once caught up, a view's
// lag behind new commits is moments, and readers that must see a write
// ask for it (minSequence).
func (s *Set) CatchUpTo(seq uint64) { s.startAt.Store(seq) }

// OnSnapshotFailure sets the hook every view calls when a snapshot could
// not be saved. Call it before Run.
func (s *Set) OnSnapshotFailure(fn func(view string, err error)) {
	for _, m := range s.members() {
		m.setSnapshotFailure(fn)
	}
}

// ViewStatus is a view's status with its last rebuild.
type ViewStatus struct {
	Status
	LastRebuild *RebuildResult `json:"lastRebuild,omitempty"`
}

// Statuses of every view.
func (s *Set) Statuses() []ViewStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ViewStatus
	for _, st := range s.statuses() {
		vs := ViewStatus{Status: st}
		if r, ok := s.lastRebuild[st.Name]; ok {
			vs.LastRebuild = &r
		}
		out = append(out, vs)
	}
	return out
}

// Rebuild rebuilds one view by name beside the live one.
func (s *Set) Rebuild(ctx context.Context, name string, progress func(Progress)) error {
	r := lookup(name)
	if r == nil || r.of(s) == nil {
		return unknownView(name)
	}
	err := r.of(s).Rebuild(ctx, progress)
	res := RebuildResult{At: time.Now().UTC()}
	if err != nil {
		res.Error = err.Error()
	}
	s.mu.Lock()
	s.lastRebuild[name] = res
	s.mu.Unlock()
	return err
}

// ReportAsOf folds a view from zero as it stood at asOf (zero: now) and
// reports it unfiltered, for auditors' replays (missingAlertAfter: the
// safeguarding policy's alert time).
func ReportAsOf(ctx context.Context, store Log, reg *refdata.Registry, cal *calendar.Calendar, name string, asOf time.Time, missingAlertAfter time.Duration, progress func(Progress)) (any, uint64, error) {
	now := asOf
	if now.IsZero() {
		now = time.Now()
	}
	r := lookup(name)
	if r == nil {
		return nil, 0, unknownView(name)
	}
	report, seq, _, err := r.fold(ctx, store, cal, FoldOptions{AsOf: asOf, Progress: progress})
	return report(reportEnv{reg: reg, cal: cal, now: now, missingAlertAfter: missingAlertAfter}), seq, err
}

// DeadlinesDue answers the deadline saga's question (sagarun.Deadline.Due)
// from a deadlines view: the referrals whose next deadline event is due at
// now, as of everything on the stream when asked.
func DeadlinesDue(r *Runner[*projections.Deadlines]) func(ctx context.Context, now time.Time) ([]string, error) {
	return askCaughtUp(r, projections.DueBy)
}

// DeadlinesUpcoming answers sagarun.Deadline.Upcoming from a deadlines view:
// the distinct instants after now still to come, once the view has caught
// up with the stream.
func DeadlinesUpcoming(r *Runner[*projections.Deadlines]) func(ctx context.Context, now time.Time) ([]time.Time, error) {
	return askCaughtUp(r, projections.Upcoming)
}

// RecordsDue answers the retention saga's sweep (sagarun.Deps.Due) from a
// records view: the records whose retention under p has ended by now,
// once the view has caught up with the stream.
func RecordsDue(r *Runner[*projections.Records], p retention.Policy) func(ctx context.Context, now time.Time) ([]string, error) {
	return askCaughtUp(r, func(v *projections.Records, now time.Time) []string { return projections.RecordsDueBy(v, p, now) })
}

// askCaughtUp answers a saga's question from view r once it has applied
// everything on the stream when asked: a sweep then sees every write
// before it, its own sweep's included, so nothing is loaded twice for
// nothing.
func askCaughtUp[V, T any](r *Runner[V], ask func(v V, now time.Time) T) func(ctx context.Context, now time.Time) (T, error) {
	return func(ctx context.Context, now time.Time) (T, error) {
		var out T
		last, err := r.Store.LastSequence(ctx)
		if err != nil {
			return out, err
		}
		if err := caughtUp(ctx, r, last); err != nil {
			return out, err
		}
		r.Read(func(v V, _ uint64) { out = ask(v, now) })
		return out, nil
	}
}

// DueDeadlines is DeadlinesDue over the set's deadlines view.
func (s *Set) DueDeadlines(ctx context.Context, now time.Time) ([]string, error) {
	return DeadlinesDue(s.Deadlines)(ctx, now)
}

// UpcomingDeadlines is DeadlinesUpcoming over the set's deadlines view.
func (s *Set) UpcomingDeadlines(ctx context.Context, now time.Time) ([]time.Time, error) {
	return DeadlinesUpcoming(s.Deadlines)(ctx, now)
}

// caughtUp waits for a view (deadlines, records) to apply sequence last. A view
// stopped at an event this build cannot read will not get there: the saga
// is answered from what it has (deadlines before the stop still fall due)
// rather than not at all.
func caughtUp[V any](ctx context.Context, r *Runner[V], last uint64) error {
	if st := r.Status(); st.Stalled != nil && st.Stalled.Sequence <= last {
		return nil
	}
	return r.WaitFor(ctx, last)
}
