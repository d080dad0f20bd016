package sagarun_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/simulate"
	"github.com/ntsflow/ntsflow/wiring"
)

// The sagas' port, checked against the real store (an embedded JetStream
// server): what sagarun.Store promises in its comments is what
// eventstore.Store does.
func TestStorePortConformance(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	n.Store.Consumers = eventstore.ConsumerPolicy{Backoff: func(int) time.Duration { return 10 * time.Millisecond }, MaxDeliveries: 5}
	node, err := wiring.Build(wiring.Config{Store: n.Store, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	eng := node.Engine
	checkSagaStore(t, n.Store, func(prefix string) map[string][]uint64 {
		bySubject := map[string][]uint64{}
		for _, lc := range simulate.Generate(simulate.Options{Seed: 5, Referrals: 4, Start: time.Now().Add(-20 * 24 * time.Hour), Span: 10 * 24 * time.Hour,
			Authorities: []string{"E08000007"}, IDPrefix: prefix}) {
			for _, s := range lc.Steps {
				o, err := eng.Handle(context.Background(), s.ReferralID, s.Command, engine.Meta{Actor: "port"})
				if _, refused := errors.AsType[*aggregates.Refusal](err); refused {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				subject := events.ReferralSubject(s.ReferralID)
				bySubject[subject] = append(bySubject[subject], o.Sequence)
			}
		}
		return bySubject
	})
}

func checkSagaStore(t *testing.T, store sagarun.Store, write func(prefix string) map[string][]uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	written := write("port")
	if len(written) == 0 {
		t.Fatal("the rig wrote nothing")
	}

	t.Run("load", func(t *testing.T) {
		for subject, want := range written {
			stored, err := store.Load(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, st := range stored {
				got = append(got, st.Sequence)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Load(%s) gave sequences %v; want %v, every commit acknowledged, in order", subject, got, want)
			}
		}
		if stored, err := store.Load(ctx, events.ReferralSubject("port-never-written")); err != nil || len(stored) != 0 {
			t.Fatalf("an empty subject loads as %d commits, %v; want none and no error", len(stored), err)
		}
	})

	t.Run("consume events, again after a failure", func(t *testing.T) {
		var all []uint64
		for _, seqs := range written {
			all = append(all, seqs...)
		}
		slices.Sort(all)
		var mu sync.Mutex
		seen := map[uint64]int{}
		failOnce := all[0]
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- store.ConsumeEvents(cctx, "port-events", events.ReferralSubject("*"), true, func(st eventstore.Stored) error {
				mu.Lock()
				defer mu.Unlock()
				seen[st.Sequence]++
				if st.Sequence == failOnce && seen[st.Sequence] == 1 {
					return errors.New("the handler's first attempt fails")
				}
				return nil
			})
		}()
		waitUntil(t, ctx, "every commit handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range all {
				if seen[s] == 0 || (s == failOnce && seen[s] < 2) {
					return false
				}
			}
			return true
		})
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, s := range all {
			if want := map[bool]int{true: 2, false: 1}[s == failOnce]; seen[s] != want {
				t.Errorf("commit %d handled %d times; want %d", s, seen[s], want)
			}
		}
	})

	t.Run("timers: set, replaced, cancelled, fired once", func(t *testing.T) {
		now := time.Now()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(store.Schedule(ctx, "port.a.breach", now.Add(time.Hour), []byte("first")))
		must(store.Schedule(ctx, "port.a.breach", now.Add(time.Second), []byte("replaced")))
		must(store.Schedule(ctx, "port.b.warning", now.Add(time.Second), nil))
		must(store.Schedule(ctx, "port.b.breach", now.Add(time.Second), nil))
		must(store.CancelAll(ctx, "port.b"))
		must(store.Schedule(ctx, "port.c.warning", now.Add(time.Second), nil))
		must(store.Cancel(ctx, "port.c.warning"))
		must(store.Schedule(ctx, "port.d.breach", now.Add(-time.Minute), nil))
		if err := store.Schedule(ctx, "port.*.bad", now, nil); err == nil {
			t.Fatal("a timer key with a wildcard was accepted")
		}

		var mu sync.Mutex
		fired := map[string][]eventstore.Fired{}
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- store.ConsumeTimers(cctx, "port-timers", "port.>", func(f eventstore.Fired) error {
				mu.Lock()
				defer mu.Unlock()
				fired[f.Key] = append(fired[f.Key], f)
				return nil
			})
		}()
		waitUntil(t, ctx, "the timers due fired", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(fired["port.a.breach"]) > 0 && len(fired["port.d.breach"]) > 0
		})
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if a := fired["port.a.breach"]; len(a) != 1 || string(a[0].Data) != "replaced" || a[0].FiredAt.Before(a[0].At.Truncate(time.Second)) {
			t.Fatalf("the replaced timer fired as %+v; want once, with the data it was replaced with, not before its time", a)
		}
		if n := len(fired["port.d.breach"]); n != 1 {
			t.Fatalf("a timer set in the past fired %d times; want once, at once", n)
		}
		for _, k := range []string{"port.b.warning", "port.b.breach", "port.c.warning"} {
			if len(fired[k]) != 0 {
				t.Errorf("cancelled timer %s fired", k)
			}
		}
	})
}

// waitUntil polls cond until it holds, failing the test when ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond) // a poll interval, bounded by ctx
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal(fmt.Sprintf("%s: not before the bound (%v)", what, ctx.Err()))
		case <-tick.C:
		}
	}
}
