package views_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/simulate"
	"github.com/ntsflow/ntsflow/views"
	"github.com/ntsflow/ntsflow/wiring"
)

var quiet = slog.New(slog.DiscardHandler)

type appended struct {
	seq uint64
	evs []events.Event
}

// drive runs generated lifecycles through the engine from several
// goroutines at once (each referral's steps in order) and returns every
// commit that landed.
func drive(t testing.TB, eng *engine.Engine, seed uint64, n, writers int, prefix string) []appended {
	t.Helper()
	lcs := simulate.Generate(simulate.Options{Seed: seed, Referrals: n, Start: time.Now().Add(-120 * 24 * time.Hour), Span: 60 * 24 * time.Hour,
		Authorities: []string{"E08000007", "E06000001", "E09000001", "E10000016", "E06000035"}, IDPrefix: prefix})
	var mu sync.Mutex
	var out []appended
	work := make(chan simulate.Lifecycle)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lc := range work {
				for _, s := range lc.Steps {
					o, err := eng.Handle(context.Background(), s.ReferralID, s.Command, engine.Meta{Actor: "sim"})
					var refusal *aggregates.Refusal
					if errors.As(err, &refusal) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					out = append(out, appended{o.Sequence, o.Events})
					mu.Unlock()
				}
			}
		}()
	}
	for _, lc := range lcs {
		work <- lc
	}
	close(work)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func inMemory[V any](spec projections.Spec[V], commits []appended, asOf time.Time) V {
	v := spec.New()
	for _, c := range commits {
		for _, e := range c.evs {
			if asOf.IsZero() || !e.RecordedAt.After(asOf) {
				v = spec.Apply(v, e)
			}
		}
	}
	return v
}

func js(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func run[V any](t testing.TB, spec projections.Spec[V], store *eventstore.Store, every time.Duration) (*views.Runner[V], context.CancelFunc) {
	r := views.NewRunner(spec, store, quiet)
	r.SnapshotEvery = every
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return r, stop
}

func waitCaughtUp[V any](t testing.TB, r *views.Runner[V], store views.Log) uint64 {
	t.Helper()
	last, err := store.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	return last
}

// Random valid histories for many referrals, appended concurrently while
// the views follow: the live view equals a rebuild from zero equals the
// fold computed in memory from what the engine said it appended.
func TestLiveEqualsRebuildEqualsMemory(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	cal := calendar.Default()
	capR, _ := run(t, projections.CapacitySpec(), n.Store, -1)
	timR, _ := run(t, projections.TimelinessSpec(cal), n.Store, -1)
	refR, _ := run(t, projections.ReferralListSpec(), n.Store, -1)
	// Pledges interleave with referrals, as they would.
	for _, code := range []string{"E08000007", "E10000016"} {
		p := 5
		if _, err := engine.Handle(context.Background(), eng, aggregates.Authorities, code, aggregates.AuthorityCommand(aggregates.SetPledge{Authority: code, Pledge: &p}), engine.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	commits := drive(t, eng, 42, 300, 8, "p")
	last, _ := n.Store.LastSequence(context.Background())
	if len(commits) < 1000 {
		t.Fatalf("only %d commits", len(commits))
	}
	check := func(name string, live func() string, rebuilt, mem string) {
		if l := live(); l != rebuilt || rebuilt != mem {
			t.Errorf("%s: live, rebuilt and in-memory views differ (%d, %d, %d bytes)", name, len(l), len(rebuilt), len(mem))
		}
	}
	waitCaughtUp(t, capR, n.Store)
	waitCaughtUp(t, timR, n.Store)
	waitCaughtUp(t, refR, n.Store)

	// The in-memory fold sees the engine's outcomes; the two pledges were
	// appended first, outside drive: fold them from the stream's first two.
	all := append(pledgeCommits(t, n.Store), commits...)
	cv, cseq, _, err := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{})
	if err != nil || cseq != last {
		t.Fatal(cseq, err)
	}
	check("capacity", func() string {
		var s string
		capR.Read(func(v *projections.Capacity, _ uint64) { s = js(t, v) })
		return s
	}, js(t, cv), js(t, inMemory(projections.CapacitySpec(), all, time.Time{})))
	tv, _, _, _ := views.Fold(context.Background(), n.Store, projections.TimelinessSpec(cal), views.FoldOptions{})
	check("timeliness", func() string {
		var s string
		timR.Read(func(v *projections.Timeliness, _ uint64) { s = js(t, v) })
		return s
	}, js(t, tv), js(t, inMemory(projections.TimelinessSpec(cal), all, time.Time{})))
	rv, _, _, _ := views.Fold(context.Background(), n.Store, projections.ReferralListSpec(), views.FoldOptions{})
	check("referrals", func() string {
		var s string
		refR.Read(func(v *projections.ReferralList, _ uint64) { s = js(t, v) })
		return s
	}, js(t, rv), js(t, inMemory(projections.ReferralListSpec(), all, time.Time{})))
}

func pledgeCommits(t testing.TB, store *eventstore.Store) []appended {
	var out []appended
	for _, code := range []string{"E08000007", "E10000016"} {
		st, err := store.Load(context.Background(), events.AuthoritySubject(code))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			out = append(out, appended{s.Sequence, s.Commit.Events})
		}
	}
	return out
}

// The view at T equals the fold of the events recorded up to T.
func TestAsOf(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	first := drive(t, eng, 7, 60, 4, "a")
	time.Sleep(20 * time.Millisecond) // the moment asOf falls strictly after the first group of commits
	asOf := time.Now()
	time.Sleep(20 * time.Millisecond) // and strictly before the second: moments, not waits
	second := drive(t, eng, 8, 60, 4, "b")
	if len(second) == 0 {
		t.Fatal("nothing after the moment")
	}
	v, _, _, err := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := js(t, v), js(t, inMemory(projections.CapacitySpec(), first, time.Time{})); got != want {
		t.Fatal("capacity as of the moment differs from the fold of the events recorded before it")
	}
	whole, _, _, _ := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{})
	if js(t, whole) == js(t, v) {
		t.Fatal("the later events changed nothing: the test proves nothing")
	}
}

// A view that counts how often it applied each event: the proof that a
// restart neither applies an event twice nor skips one.
type tally struct {
	Seen map[string]int `json:"seen"`
}

func tallySpec() projections.Spec[*tally] {
	return projections.Spec[*tally]{Name: "tally-test", Schema: "tally-1", New: func() *tally { return &tally{Seen: map[string]int{}} },
		Apply: func(v *tally, e events.Event) *tally { v.Seen[e.ID]++; return v }}
}

// Kill the runner mid-stream (no final snapshot: as a crash would leave it)
// and restart it: it resumes from its last snapshot, and every event is
// applied exactly once.
func TestRunnerKilledMidStreamResumes(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	r1, kill := run(t, tallySpec(), n.Store, 20*time.Millisecond)
	var all []appended
	for round := range 3 {
		all = append(all, drive(t, eng, uint64(100+round), 40, 4, "k"+string(rune('a'+round)))...)
		time.Sleep(60 * time.Millisecond) // spread the rounds so snapshots (every 20 ms) land mid-stream: a schedule, not a wait
	}
	waitCaughtUp(t, r1, n.Store)
	// Appends go on while the runner dies: it is killed once it has
	// snapshotted some of them, while the rest are still being appended.
	before, _ := n.Store.LastSequence(context.Background())
	// Appends go on in rounds until the kill, and one round after it, so
	// some are always written after the runner's last snapshot.
	killed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; ; round++ {
			select {
			case <-killed:
				all = append(all, drive(t, eng, uint64(300+round), 20, 4, fmt.Sprint("kd", round, "-"))...)
				return
			default:
			}
			all = append(all, drive(t, eng, uint64(200+round), 20, 4, fmt.Sprint("kd", round, "-"))...)
		}
	}()
	snapshotted := func() uint64 {
		b, err := n.Store.LoadSnapshot(context.Background(), "tally-test")
		var snap struct{ Sequence uint64 }
		if err != nil || json.Unmarshal(b, &snap) != nil {
			return 0
		}
		return snap.Sequence
	}
	if !storetest.WaitFor(30*time.Second, func() bool { return snapshotted() > before }) {
		t.Fatal("the runner never snapshotted the appends under way")
	}
	kill()
	close(killed)
	wg.Wait()
	snapSeq := r1.Status().Sequence
	b, err := n.Store.LoadSnapshot(context.Background(), "tally-test")
	var snap struct{ Sequence uint64 }
	if err != nil || json.Unmarshal(b, &snap) != nil || snap.Sequence == 0 {
		t.Fatalf("no snapshot to resume from: %v", err)
	}
	lastNow, _ := n.Store.LastSequence(context.Background())
	if snap.Sequence >= lastNow {
		t.Fatalf("the snapshot (%d) is not mid-stream (last %d): the test would prove nothing", snap.Sequence, lastNow)
	}

	r2, _ := run(t, tallySpec(), n.Store, -1)
	last := waitCaughtUp(t, r2, n.Store)
	r2.Read(func(v *tally, seq uint64) {
		want := 0
		for _, c := range all {
			for _, e := range c.evs {
				want++
				if v.Seen[e.ID] != 1 {
					t.Fatalf("event %s applied %d times", e.ID, v.Seen[e.ID])
				}
			}
		}
		if len(v.Seen) != want || seq != last {
			t.Fatalf("%d events applied, %d appended; at %d of %d", len(v.Seen), want, seq, last)
		}
	})
	t.Logf("the first runner reached sequence %d; the second resumed from the snapshot at %d and caught up to %d", snapSeq, snap.Sequence, last)
}

// Rebuild beside the live view while commands keep coming: the API keeps
// answering, and the rebuilt view is swapped in equal to a fold from zero.
func TestRebuildWhileLive(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	r, _ := run(t, projections.CapacitySpec(), n.Store, -1)
	drive(t, eng, 9, 150, 4, "r")
	waitCaughtUp(t, r, n.Store)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); drive(t, eng, 10, 100, 2, "s") }()
	var reads int
	stopReading := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopReading:
				return
			default:
				r.Read(func(*projections.Capacity, uint64) { reads++ })
			}
		}
	}()
	var reports []views.Progress
	if err := r.Rebuild(context.Background(), func(p views.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	close(stopReading)
	wg.Wait()
	waitCaughtUp(t, r, n.Store)
	whole, _, _, _ := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{})
	var live string
	r.Read(func(v *projections.Capacity, _ uint64) { live = js(t, v) })
	if live != js(t, whole) {
		t.Fatal("after the swap the live view differs from a fold from zero")
	}
	if len(reports) == 0 || reads == 0 {
		t.Fatalf("progress reports %d, reads during the rebuild %d", len(reports), reads)
	}
}

// A view does not pass an event of a type this build cannot read: it stops
// before it, says where and why in its status and readiness, and goes on
// once the event is no longer in its way (here: never, so it stays). A
// commit that does not decode at all is still skipped and counted.
func TestViewStopsAtAnEventItCannotRead(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	drive(t, eng, 11, 5, 1, "u")
	if _, err := n.Store.JetStream().Publish(context.Background(), events.ReferralSubject("zz2"), []byte(`not json`)); err != nil {
		t.Fatal(err)
	}
	doc := `{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"u000000","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`
	ack, err := n.Store.JetStream().Publish(context.Background(), events.ReferralSubject("zz"), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	drive(t, eng, 12, 5, 1, "v")
	r := views.NewRunner(projections.CapacitySpec(), n.Store, quiet)
	r.SnapshotEvery = -1
	set := &views.Set{Capacity: r, Timeliness: views.NewRunner(projections.TimelinessSpec(calendar.Default()), n.Store, quiet), Referrals: views.NewRunner(projections.ReferralListSpec(), n.Store, quiet),
		Safeguarding: views.NewRunner(projections.SafeguardingSpec(), n.Store, quiet), Deadlines: views.NewRunner(projections.DeadlinesSpec(), n.Store, quiet)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); r.Status().Stalled == nil; time.Sleep(10 * time.Millisecond) { // a poll interval
		if time.Now().After(deadline) {
			t.Fatalf("the view did not report a stop: %+v", r.Status())
		}
	}
	s := r.Status()
	if s.Sequence != ack.Sequence-1 || s.Stalled.Sequence != ack.Sequence || s.Stalled.Type != "referral.teleported" {
		t.Fatalf("status %+v, stalled %+v; want stopped at %d", s, s.Stalled, ack.Sequence)
	}
	if s.Stats.Corrupt != 1 || s.Stats.Unknown != 0 {
		t.Fatalf("stats %+v", s.Stats)
	}
	if err := set.Ready(); err == nil || !strings.Contains(err.Error(), "referral.teleported") {
		t.Fatalf("readiness with a stopped view: %v", err)
	}
	// Snapshotting a stopped view saves the position before the event.
	if err := r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{}); err == nil {
		t.Fatal("a fold from zero passed an event it cannot read")
	}
}

// A snapshot made by a build with another event catalogue (one that may
// have skipped events this build reads) is not resumed from: the view
// folds again from zero.
func TestSnapshotOfAnotherCatalogueIsRebuilt(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	drive(t, eng, 13, 10, 2, "c")
	last, _ := n.Store.LastSequence(context.Background())
	// What an older build saved: the position at the end, and a view that
	// missed everything (it skipped events it could not read).
	empty, _ := json.Marshal(projections.CapacitySpec().New())
	old := fmt.Sprintf(`{"schema":%q,"catalogue":"older-build","sequence":%d,"stats":{"applied":0,"unknown":%d,"corrupt":0},"view":%s}`, projections.CapacitySpec().Schema, last, last, empty)
	if err := n.Store.SaveSnapshot(context.Background(), "capacity", []byte(old)); err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, projections.CapacitySpec(), n.Store, -1)
	waitCaughtUp(t, r, n.Store)
	whole, _, _, err := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var live string
	r.Read(func(v *projections.Capacity, _ uint64) { live = js(t, v) })
	if live != js(t, whole) {
		t.Fatal("the view resumed from a snapshot of another event catalogue")
	}
}

// resumeCheck is one view's part in TestSnapshotsResumeEachView.
type resumeCheck interface {
	start(t *testing.T, store *eventstore.Store)               // the first runner
	snapshotAndStop(t *testing.T)                              // its snapshot, then it stops
	restart(t *testing.T, store *eventstore.Store)             // a second runner on the snapshot
	check(t *testing.T, store *eventstore.Store, resumed bool) // caught up and equal to a fold from zero
}

type resumeView[V any] struct {
	spec    projections.Spec[V]
	r       *views.Runner[V]
	stop    context.CancelFunc
	applied atomic.Int64 // by the second runner
}

// start runs the view snapshotting every few milliseconds, so snapshots
// are written while commits are applied (the race detector watches the
// entries the two share).
func (c *resumeView[V]) start(t *testing.T, store *eventstore.Store) {
	c.r, c.stop = run(t, c.spec, store, 5*time.Millisecond)
}

func (c *resumeView[V]) snapshotAndStop(t *testing.T) {
	waitCaughtUp(t, c.r, c.r.Store)
	if err := c.r.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.stop()
}

func (c *resumeView[V]) restart(t *testing.T, store *eventstore.Store) {
	counting := c.spec
	counting.Apply = func(v V, e events.Event) V { c.applied.Add(1); return c.spec.Apply(v, e) }
	c.r, c.stop = run(t, counting, store, -1)
}

func (c *resumeView[V]) check(t *testing.T, store *eventstore.Store, resumed bool) {
	last := waitCaughtUp(t, c.r, store)
	if c.spec.InMemory {
		// Never snapshotted (it holds children's references): it
		// rebuilds from zero, so the second runner applies everything.
		resumed = false
	}
	if resumed && c.applied.Load() != 0 {
		t.Errorf("%s: the restarted runner applied %d events the snapshot held", c.spec.Name, c.applied.Load())
	}
	if !resumed && c.applied.Load() == 0 {
		t.Errorf("%s: nothing applied after the snapshot: the test proves nothing", c.spec.Name)
	}
	whole, seq, _, err := views.Fold(context.Background(), store, c.spec, views.FoldOptions{})
	if err != nil || seq != last {
		t.Fatal(seq, last, err)
	}
	var live string
	c.r.Read(func(v V, _ uint64) { live = js(t, v) })
	if want := js(t, whole); live != want || len(want) < 100 {
		t.Errorf("%s: the view resumed from its snapshot differs from a fold from zero (%d and %d bytes)", c.spec.Name, len(live), len(want))
	}
}

// Each view's snapshot streams into the object store and back: a runner
// started on it resumes where it was saved, applying none of the events
// before, and with the commands that follow equals a fold from zero.
func TestSnapshotsResumeEachView(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	checks := []resumeCheck{
		&resumeView[*projections.Capacity]{spec: projections.CapacitySpec()},
		&resumeView[*projections.Timeliness]{spec: projections.TimelinessSpec(calendar.Default())},
		&resumeView[*projections.ReferralList]{spec: projections.ReferralListSpec()},
		&resumeView[*projections.Safeguarding]{spec: projections.SafeguardingSpec()},
	}
	for _, c := range checks {
		c.start(t, n.Store)
	}
	drive(t, eng, 21, 150, 4, "m")
	driveMissing(t, eng, "sa", 20)
	for _, c := range checks {
		c.snapshotAndStop(t)
	}
	for _, c := range checks {
		c.restart(t, n.Store)
	}
	for _, c := range checks {
		c.check(t, n.Store, true)
	}
	drive(t, eng, 22, 60, 4, "n")
	driveMissing(t, eng, "sb", 8)
	for _, c := range checks {
		c.check(t, n.Store, false)
	}
}

// The set's views share one follower from the earliest of their
// checkpoints: given a capacity view snapshotted partway and the others
// with no snapshot, when the set runs, then each view catches up to a
// fold from zero (capacity from its snapshot: it applies only what
// followed it).
func TestSetViewsShareOneFollower(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	drive(t, eng, 31, 80, 4, "f")
	first, stopFirst := run(t, projections.CapacitySpec(), n.Store, -1)
	waitCaughtUp(t, first, n.Store)
	if err := first.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopFirst()
	snapAt := first.Status().Sequence
	drive(t, eng, 32, 40, 4, "g")
	driveMissing(t, eng, "sf", 12)

	set := views.NewSet(n.Store, refdata.Default(), calendar.Default(), quiet)
	var applied atomic.Int64
	counting := set.Capacity.Spec
	counting.Apply = func(v *projections.Capacity, e events.Event) *projections.Capacity {
		applied.Add(1)
		return projections.ApplyCapacity(v, e)
	}
	set.Capacity.Spec = counting
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	equal := func(name string, live, whole any) {
		if l, w := js(t, live), js(t, whole); l != w {
			t.Errorf("%s: the set's view differs from a fold from zero (%d and %d bytes)", name, len(l), len(w))
		}
	}
	last := waitCaughtUp(t, set.Capacity, n.Store)
	waitCaughtUp(t, set.Timeliness, n.Store)
	waitCaughtUp(t, set.Referrals, n.Store)
	waitCaughtUp(t, set.Safeguarding, n.Store)
	cv, _, _, _ := views.Fold(context.Background(), n.Store, projections.CapacitySpec(), views.FoldOptions{UpTo: last})
	set.Capacity.Read(func(v *projections.Capacity, _ uint64) { equal("capacity", v, cv) })
	tv, _, _, _ := views.Fold(context.Background(), n.Store, projections.TimelinessSpec(calendar.Default()), views.FoldOptions{UpTo: last})
	set.Timeliness.Read(func(v *projections.Timeliness, _ uint64) { equal("timeliness", v, tv) })
	rv, _, _, _ := views.Fold(context.Background(), n.Store, projections.ReferralListSpec(), views.FoldOptions{UpTo: last})
	set.Referrals.Read(func(v *projections.ReferralList, _ uint64) { equal("referrals", v, rv) })
	sv, _, _, _ := views.Fold(context.Background(), n.Store, projections.SafeguardingSpec(), views.FoldOptions{UpTo: last})
	set.Safeguarding.Read(func(v *projections.Safeguarding, _ uint64) { equal("safeguarding", v, sv) })

	var after int64
	for _, a := range readCommits(t, n.Store, snapAt+1, last) {
		after += int64(len(a.evs))
	}
	if got := applied.Load(); got != after || after == 0 {
		t.Errorf("capacity applied %d events; %d followed its snapshot", got, after)
	}
}

// readCommits reads the commits from..to from the stream.
func readCommits(t *testing.T, store *eventstore.Store, from, to uint64) []appended {
	var out []appended
	if err := store.ReadRange(context.Background(), from, to, func(st eventstore.Stored) error {
		out = append(out, appended{st.Sequence, st.Commit.Events})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// After a start, the set says not ready until every view has applied the
// log as it stood then: the views kept in memory fold it all on every
// start, and an instance taking reads before would list some children and
// not others.
func TestNotReadyUntilTheViewsCatchUpAfterAStart(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	drive(t, eng, 41, 60, 4, "cu")
	last, err := n.Store.LastSequence(context.Background())
	if err != nil || last == 0 {
		t.Fatalf("last sequence %d: %v", last, err)
	}
	set := views.NewSet(n.Store, refdata.Default(), calendar.Default(), quiet)
	set.CatchUpTo(last)
	if err := set.Ready(); err == nil || !strings.Contains(err.Error(), "catching up") {
		t.Fatalf("ready before the views ran: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !storetest.WaitFor(20*time.Second, func() bool { return set.Ready() == nil }) {
		t.Fatalf("never ready: %v", set.Ready())
	}
	for _, st := range set.Statuses() {
		if st.Sequence < last {
			t.Errorf("ready with view %s at %d of %d", st.Name, st.Sequence, last)
		}
	}
	// Caught up once: a view moments behind a new commit is still ready.
	drive(t, eng, 42, 5, 1, "cv")
	if err := set.Ready(); err != nil {
		t.Errorf("not ready after catching up: %v", err)
	}
}

// A sealed commit whose child's key does not answer (here: its message
// deleted behind the key store's back, no disposal) is not passed over:
// the views stop before it and say so, and apply it whole once the key
// answers again. A view once passed such a commit for good, as corrupt or
// as disposed of, when a key read failed during a cluster node's loss.
func TestViewsWaitForAKeyThatDoesNotAnswer(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	chainKey := bytes.Repeat([]byte{7}, 32)
	node, err := wiring.Build(wiring.Config{Store: n.Store, Log: quiet, ChainKey: chainKey})
	if err != nil {
		t.Fatal(err)
	}
	out := drive(t, node.Engine, 51, 1, 1, "kw")
	if len(out) == 0 {
		t.Fatal("nothing recorded")
	}
	child := out[0].evs[0].AggregateID
	js, err := jetstream.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := js.Stream(context.Background(), eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.GetLastMsgForSubject(context.Background(), "nts.keys.child."+child)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.DeleteMsg(context.Background(), m.Sequence); err != nil {
		t.Fatal(err)
	}

	// Views in another process's place: nothing of the child's cached.
	reader, err := eventstore.Open(context.Background(), n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.OpenKeys(context.Background(), events.KeyStoreKey(chainKey)); err != nil {
		t.Fatal(err)
	}
	var logged syncBuffer
	set := views.NewSet(reader, refdata.Default(), calendar.Default(), slog.New(slog.NewTextHandler(&logged, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !storetest.WaitFor(20*time.Second, func() bool { return strings.Contains(logged.String(), "neither their key nor their disposal") }) {
		t.Fatalf("the views never met the commit without its key:\n%s", logged.String())
	}
	first := out[0].seq
	for _, st := range set.Statuses() {
		if st.Sequence >= first || st.Stats.Corrupt > 0 {
			t.Errorf("view %s passed the commit at %d: at %d, %d corrupt", st.Name, first, st.Sequence, st.Stats.Corrupt)
		}
	}

	if _, err := js.Publish(context.Background(), "nts.keys.child."+child, m.Data); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, set.Referrals, reader)
	var ref string
	set.Referrals.Read(func(v *projections.ReferralList, _ uint64) {
		v.Each(func(r projections.ReferralRow) { ref = r.ChildReference })
	})
	want := out[0].evs[0].Data.(events.ReferralReceived).ChildReference
	if ref == "" || ref != want {
		t.Errorf("the referral list shows child reference %q, not %q", ref, want)
	}
}

// syncBuffer is a log sink the test reads while the views write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
