package views

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/simulate"
)

type tally struct {
	Events int `json:"events"`
}

func tallySpec() projections.Spec[*tally] {
	return projections.Spec[*tally]{Name: "tally", Schema: "tally-1", New: func() *tally { return &tally{} },
		Apply: func(v *tally, _ events.Event) *tally { return &tally{Events: v.Events + 1} }}
}

// A view added as one registry line, with no field on Set and nothing
// else written for it, is followed, listed, reported, snapshotted,
// resumed and rebuilt like the others.
func TestOneLineAddsAView(t *testing.T) {
	saved := registry
	registry = append(slices.Clip(registry), view(fixed(tallySpec), nil, func(v *tally, _ reportEnv) any { return v.Events }))
	t.Cleanup(func() { registry = saved })

	if !Known("tally") || !slices.Contains(Names(), "tally") {
		t.Fatalf("the new view is not named: %v", Names())
	}
	n := storetest.Start(t, storetest.Options{})
	eng := &engine.Engine{Store: n.Store, Log: slog.New(slog.DiscardHandler)}
	want := 0
	for _, lc := range simulate.Generate(simulate.Options{Seed: 7, Referrals: 5, Start: time.Now().Add(-30 * 24 * time.Hour), Span: 20 * 24 * time.Hour,
		Authorities: []string{"E08000007", "E06000001"}, IDPrefix: "t"}) {
		for _, s := range lc.Steps {
			o, err := eng.Handle(context.Background(), s.ReferralID, s.Command, engine.Meta{Actor: "sim"})
			if _, refused := errors.AsType[*aggregates.Refusal](err); refused {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want += len(o.Events)
		}
	}
	if want == 0 {
		t.Fatal("the history is empty")
	}

	quiet := slog.New(slog.DiscardHandler)
	set := NewSet(n.Store, refdata.Default(), calendar.Default(), quiet)
	failed := map[string]bool{}
	set.OnSnapshotFailure(func(v string, _ error) { failed[v] = true })
	if set.unnamed["tally"] == nil {
		t.Fatal("NewSet made no runner for the new view")
	}
	if r := set.unnamed["tally"].(*Runner[*tally]); r.OnSnapshotFailure == nil {
		t.Fatal("OnSnapshotFailure did not reach the new view")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	tallied := func(set *Set) int {
		var got int
		set.unnamed["tally"].(*Runner[*tally]).Read(func(v *tally, _ uint64) { got = v.Events })
		return got
	}
	waitTally(t, set, want)

	st := statusOf(set, "tally")
	if st == nil || st.Stats.Applied != uint64(want) {
		t.Fatalf("the new view's status: %+v; want %d events applied", st, want)
	}
	if err := set.Rebuild(context.Background(), "tally", nil); err != nil || tallied(set) != want {
		t.Fatalf("rebuild: %v, %d events; want %d", err, tallied(set), want)
	}
	if st := statusOf(set, "tally"); st.LastRebuild == nil || st.LastRebuild.Error != "" {
		t.Fatalf("the rebuild is not in the view's status: %+v", st)
	}
	report, _, err := ReportAsOf(context.Background(), n.Store, refdata.Default(), calendar.Default(), "tally", time.Time{}, 0, nil)
	if err != nil || report != want {
		t.Fatalf("report as of now: %v, %v; want %d", report, err, want)
	}
	// Run ends with a snapshot; the next set resumes from it.
	cancel()
	<-done
	if len(failed) > 0 {
		t.Fatalf("snapshots failed: %v", failed)
	}
	if _, err := n.Store.OpenSnapshot(context.Background(), "tally"); err != nil {
		t.Fatalf("the new view left no snapshot: %v", err)
	}
	again := NewSet(n.Store, refdata.Default(), calendar.Default(), quiet)
	again.unnamed["tally"].(*Runner[*tally]).resume(context.Background())
	if got := tallied(again); got != want {
		t.Fatalf("resumed from its snapshot with %d events; want %d", got, want)
	}
}

func statusOf(set *Set, name string) *ViewStatus {
	for _, st := range set.Statuses() {
		if st.Name == name {
			return &st
		}
	}
	return nil
}

func waitTally(t *testing.T, set *Set, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last, err := set.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := set.unnamed["tally"].(*Runner[*tally])
	if err := r.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	var got int
	r.Read(func(v *tally, _ uint64) { got = v.Events })
	if got != want {
		t.Fatalf("the new view folded %d events; want %d", got, want)
	}
}
