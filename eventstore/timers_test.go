package eventstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The server fires a schedule once, at its time; a purge cancels it; a new
// publish on the same key replaces it; a time already past fires at once.
func TestTimersFireReplaceAndCancel(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.Store.Schedule(c, "t.r1.breach", now.Add(time.Hour), []byte("late")))
	must(n.Store.Schedule(c, "t.r1.breach", now.Add(1500*time.Millisecond), []byte("replaced")))
	must(n.Store.Schedule(c, "t.r2.warning", now.Add(1500*time.Millisecond), nil))
	must(n.Store.Schedule(c, "t.r2.breach", now.Add(1500*time.Millisecond), nil))
	must(n.Store.CancelAll(c, "t.r2"))
	must(n.Store.Schedule(c, "t.r4.warning", now.Add(1500*time.Millisecond), nil))
	must(n.Store.Cancel(c, "t.r4.warning"))
	must(n.Store.Schedule(c, "t.r3.breach", now.Add(-time.Minute), nil))

	var mu sync.Mutex
	got := map[string][]eventstore.Fired{}
	cctx, cancel := context.WithTimeout(c, 3500*time.Millisecond)
	defer cancel()
	n.Store.ConsumeTimers(cctx, "test", "t.>", func(f eventstore.Fired) error {
		mu.Lock()
		defer mu.Unlock()
		got[f.Key] = append(got[f.Key], f)
		return nil
	})
	if len(got["t.r1.breach"]) != 1 || string(got["t.r1.breach"][0].Data) != "replaced" {
		t.Fatalf("t.r1.breach fired %+v", got["t.r1.breach"])
	}
	if f := got["t.r1.breach"][0]; f.FiredAt.Before(f.At.Truncate(time.Second)) {
		t.Fatalf("fired at %s, before its time %s", f.FiredAt, f.At)
	}
	if len(got["t.r3.breach"]) != 1 {
		t.Fatalf("a timer in the past fired %d times", len(got["t.r3.breach"]))
	}
	if len(got["t.r2.warning"])+len(got["t.r2.breach"])+len(got["t.r4.warning"]) != 0 {
		t.Fatal("a cancelled timer fired")
	}
	if p, err := n.Store.PendingTimers(c); err != nil || p != 0 {
		t.Fatalf("%d timers still pending after firing (%v)", p, err)
	}
}

// A repeating timer fires each time its pattern comes round, from one
// message the server keeps: set again (every instance does, when it
// starts) it is replaced, not doubled; cancelled, it stops.
func TestRepeatingTimersFireUntilCancelled(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	for range 2 {
		if err := n.Store.ScheduleRepeating(c, "t.sweep", "* * * * * *", "Europe/London", []byte("sweep")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Store.ScheduleRepeating(c, "t.other", "@daily", "Mars/Olympus", nil); err == nil {
		t.Error("a time zone nobody knows was accepted")
	}
	if err := n.Store.ScheduleRepeating(c, "t.other", "every day", "Europe/London", nil); err == nil {
		t.Error("a pattern that is not cron was accepted")
	}
	var mu sync.Mutex
	var fired []eventstore.Fired
	cctx, cancel := context.WithCancel(c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Store.ConsumeTimers(cctx, "test", "t.>", func(f eventstore.Fired) error {
			mu.Lock()
			defer mu.Unlock()
			fired = append(fired, f)
			return nil
		})
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(fired) }
	if !storetest.WaitFor(10*time.Second, func() bool { return count() >= 3 }) {
		t.Fatalf("a timer due every second fired %d times in 10 s", count())
	}
	if p, err := n.Store.PendingTimers(c); err != nil || p != 1 {
		t.Errorf("%d timers pending, want the one repeating (%v)", p, err)
	}
	mu.Lock()
	for i, f := range fired {
		if f.Key != "t.sweep" || string(f.Data) != "sweep" {
			t.Errorf("fired %+v", f)
		}
		// One message set twice fires once a second, not twice.
		if i > 0 && f.FiredAt.Sub(fired[i-1].FiredAt) < 500*time.Millisecond {
			t.Errorf("fired twice within a second: %s, %s", fired[i-1].FiredAt, f.FiredAt)
		}
	}
	mu.Unlock()
	if err := n.Store.Cancel(c, "t.sweep"); err != nil {
		t.Fatal(err)
	}
	if p, err := n.Store.PendingTimers(c); err != nil || p != 0 {
		t.Errorf("%d timers pending after the cancel (%v)", p, err)
	}
	cancel()
	<-done
}
