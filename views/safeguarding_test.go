package views_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/views"
)

// driveMissing runs missing episodes for n children through the engine,
// from several writers: some still missing, some returned, with strategy
// discussions and return interviews (in time, late, not yet). It returns
// the commits that landed.
func driveMissing(t *testing.T, eng *engine.Engine, prefix string, n int) []appended {
	t.Helper()
	rules := safeguarding.DefaultPolicy().Rules()
	authorities := []string{"E08000007", "E09000001", "E06000001"}
	reg := refdata.Default()
	now := time.Now().UTC()
	var mu sync.Mutex
	var out []appended
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				id := fmt.Sprintf("%s%03d", prefix, i)
				a := authorities[i%len(authorities)]
				missing := now.Add(-time.Duration(i%7+6) * 24 * time.Hour)
				child := aggregates.ChildInCare{Status: aggregates.StatusPlaced, Authority: a, Region: reg.RegionOf(a), PlacedAt: missing.Add(-time.Duration(30+i) * 24 * time.Hour)}
				if i%5 == 0 {
					child.PlacedAt = missing.Add(-2 * 24 * time.Hour) // early
				}
				cmds := []aggregates.CareCommand{
					aggregates.ReportMissing{MissingAt: missing, LastSeen: "last seen somewhere", PoliceReference: "POL-" + id, Child: child, Rules: rules},
					aggregates.NotifySafeguarding{Episode: 1, Parties: []string{"police", "safeguarding-hub"}},
				}
				if i%3 != 0 {
					cmds = append(cmds, aggregates.RecordStrategyDiscussion{HeldAt: missing.Add(3 * time.Hour), Attendees: []string{"police", "social-care"}})
				}
				if i%4 != 0 {
					back := missing.Add(time.Duration(i%20+1) * time.Hour)
					cmds = append(cmds, aggregates.RecordReturn{ReturnedAt: back, WhereFound: "found somewhere", Rules: rules})
					if i%2 == 0 {
						cmds = append(cmds, aggregates.RecordReturnInterview{OfferedAt: back.Add(time.Duration(i%5) * 24 * time.Hour), OfferedBy: "independent advocate", Accepted: true})
					}
				}
				for _, c := range cmds {
					o, err := engine.Handle(context.Background(), eng, aggregates.Cares, id, c, engine.Meta{Actor: "test"})
					if err != nil {
						t.Errorf("%s %s: %v", id, c.CommandName(), err)
						return
					}
					mu.Lock()
					out = append(out, appended{o.Sequence, o.Events})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// The safeguarding view, live in the engine's set, equals a rebuild from
// zero and the fold in memory of what the engine appended; the set's
// rebuild swaps in the same view, and the report reads every episode.
func TestSafeguardingLiveEqualsRebuild(t *testing.T) {
	n := storetest.Start(t, storetest.Options{}).Store
	eng := buildEngine(t, n)
	set := views.NewSet(n, refdata.Default(), calendar.Default(), quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	commits := driveMissing(t, eng, "m", 60)
	last := waitCaughtUp(t, set.Safeguarding, n)
	live := func() string {
		var s string
		set.Safeguarding.Read(func(v *projections.Safeguarding, _ uint64) { s = js(t, v) })
		return s
	}
	rebuilt, seq, _, err := views.Fold(context.Background(), n, projections.SafeguardingSpec(), views.FoldOptions{})
	if err != nil || seq != last {
		t.Fatal(seq, last, err)
	}
	sort.Slice(commits, func(i, j int) bool { return commits[i].seq < commits[j].seq })
	mem := js(t, inMemory(projections.SafeguardingSpec(), commits, time.Time{}))
	if l := live(); l != js(t, rebuilt) || l != mem {
		t.Fatalf("live, rebuilt and in-memory safeguarding views differ (%d, %d, %d bytes)", len(l), len(js(t, rebuilt)), len(mem))
	}
	before := live()
	if err := set.Rebuild(context.Background(), "safeguarding", nil); err != nil {
		t.Fatal(err)
	}
	if after := live(); after != before {
		t.Fatal("the set's rebuild swapped in a different view")
	}
	rep := projections.ReportSafeguarding(rebuilt, set.Registry, projections.SafeguardingFilter{}, time.Now(), set.MissingAlertAfter)
	if rep.Total.Episodes != 60 || rep.Total.MissingNow != 15 || rep.Total.Returned != 45 || rep.Total.Early != 12 || rep.Total.InterviewsInTime == 0 || rep.Total.InterviewsLate == 0 {
		t.Errorf("report total: %+v", rep.Total)
	}
	if err := set.Ready(); err != nil {
		t.Error(err)
	}
	var found bool
	for _, st := range set.Statuses() {
		found = found || (st.Name == "safeguarding" && st.Sequence == last && st.LastRebuild != nil && st.LastRebuild.Error == "")
	}
	if !found {
		t.Errorf("the set's statuses lack the safeguarding view's rebuild: %+v", set.Statuses())
	}
}
