package sagarun_test

import (
	"context"
	"errors"
	"log/slog"
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
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/views"
)

// The retention saga's sweep on a real store, its schedule every second in
// place of every day. A record whose retention has ended is disposed of
// when the schedule fires, once, though two instances sweep every second
// and one is replaced; a held record is not, until its hold is released; a
// record still to run is left. The consumer of every referral's facts that
// earlier versions ran is removed, and the server keeps one schedule for
// all the records, not one per child.
func TestTheRetentionSweepDisposesOnceWhenDue(t *testing.T) {
	r := newRig(t, "")
	ctx := context.Background()
	p := retention.DefaultPolicy()
	p.Version = "retention-test"
	p.NeverLookedAfter.UntilBirthday, p.NeverLookedAfter.YearsAfterClosing = 18, 0
	saga := retention.New(p)
	saga.Sweep.Cron = "* * * * * *"

	js := r.node.Store.JetStream()
	if _, err := js.CreateOrUpdateConsumer(ctx, eventstore.EventsStream, jetstream.ConsumerConfig{Durable: "retention-referrals",
		FilterSubject: events.ReferralSubject("*"), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	v := views.NewRunner(projections.RecordsSpec(), r.node.Store, log)
	v.SnapshotEvery = -1
	r.start(func(ctx context.Context) error { v.Run(ctx); return nil })
	var mu sync.Mutex
	destroyed := map[string]int{}
	var logs storetest.LogBuffer
	deps := sagarun.Deps{Engine: r.eng, Store: r.node.Store, Log: slog.New(slog.NewTextHandler(&logs, nil)), Due: views.RecordsDue(v, p),
		Effects: map[string]func(context.Context, string) error{retention.EffectDestroyKey: func(_ context.Context, id string) error {
			mu.Lock()
			defer mu.Unlock()
			destroyed[id]++
			return nil
		}}}
	r.start(sagarun.New(saga, deps).Run)
	stopB := r.start(sagarun.New(saga, deps).Run)
	r.waitFor("the retired consumer to be removed", 10*time.Second, func() bool {
		_, err := js.Consumer(ctx, eventstore.EventsStream, "retention-referrals")
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	// Both instances' sweeps at the start are over before any record is:
	// what follows is the schedule's doing.
	r.waitFor("the sweeps at the start", 10*time.Second, func() bool {
		return strings.Count(logs.String(), "cause=retention-saga:start") == 2
	})

	record := func(id string, c aggregates.RecordCommand) {
		t.Helper()
		if _, err := engine.Handle(ctx, r.eng, aggregates.Records, id, c, engine.Meta{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	withdrawn := func(id string, dob time.Time, before func()) {
		t.Helper()
		c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H",
			ChildReference: "HO-" + id, DateOfBirth: calendar.DateOf(dob).String(), ReceivedAt: time.Now().AddDate(0, -1, 0)}
		if err := r.do(id, c); err != nil {
			t.Fatal(err)
		}
		before()
		if err := r.do(id, aggregates.Withdraw{Reason: "reallocated"}); err != nil {
			t.Fatal(err)
		}
	}
	// 18, and so due, five days ago; and 18 in three years.
	eighteen := time.Now().AddDate(-18, 0, -5)
	withdrawn("due", eighteen, func() {})
	withdrawn("held", eighteen, func() { record("held", aggregates.PlaceLegalHold{Reason: "inquiry"}) })
	withdrawn("young", time.Now().AddDate(-15, 0, 0), func() {})

	disposals := func(id string) int {
		_, stored, err := engine.Load(ctx, r.node.Store, aggregates.Records, id)
		if err != nil {
			t.Fatal(err)
		}
		var evs []events.Event
		for _, st := range stored {
			evs = append(evs, st.Commit.Events...)
		}
		return count(evs, events.TypeRecordDisposed)
	}
	r.waitFor("the record due to be disposed of", 15*time.Second, func() bool { return disposals("due") > 0 })
	// Sweeps to come, by the schedule's fired messages: three more, one
	// instance replaced in the middle.
	fired := func() uint64 {
		info, err := r.node.Store.JetStream().Stream(ctx, eventstore.TimersStream)
		if err != nil {
			t.Fatal(err)
		}
		st, err := info.Info(ctx, jetstream.WithSubjectFilter("nts.timers.fired."+retention.SweepKey))
		if err != nil {
			t.Fatal(err)
		}
		return st.State.Msgs
	}
	sweepsBy := func(n uint64) {
		t.Helper()
		from := fired()
		r.waitFor("the sweeps to run", 15*time.Second, func() bool { return fired() >= from+n })
	}
	sweepsBy(2)
	stopB()
	r.start(sagarun.New(saga, deps).Run)
	sweepsBy(2)
	if d, h, y := disposals("due"), disposals("held"), disposals("young"); d != 1 || h != 0 || y != 0 {
		t.Fatalf("disposals: due %d (want 1), held %d (want 0), young %d (want 0)", d, h, y)
	}
	record("held", aggregates.ReleaseLegalHold{Reason: "inquiry closed"})
	r.waitFor("the released record to be disposed of", 15*time.Second, func() bool { return disposals("held") > 0 })
	sweepsBy(2)
	if d, h := disposals("due"), disposals("held"); d != 1 || h != 1 {
		t.Fatalf("disposals: due %d, held %d; want one each", d, h)
	}
	mu.Lock()
	if destroyed["due"] < 1 || destroyed["held"] < 1 || destroyed["young"] != 0 {
		t.Errorf("keys destroyed %v: want due and held", destroyed)
	}
	mu.Unlock()
	if !strings.Contains(logs.String(), "cause=timer:"+retention.SweepKey) {
		t.Error("no sweep logged that the schedule started")
	}
	if n := r.pending(); n != 1 {
		t.Errorf("%d schedules kept by the server, want the sweep's one", n)
	}
}

// A sweep delivered again while the first still runs (a long one outlives
// its acknowledgement wait) waits for it on the same instance rather than
// going over the same records beside it.
func TestOneSweepAtATimeOnAnInstance(t *testing.T) {
	saga := retention.New(retention.DefaultPolicy())
	var inside, most atomic.Int32
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	due := func(context.Context, time.Time) ([]string, error) {
		n := inside.Add(1)
		defer inside.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		return nil, nil
	}
	r := sagarun.New(saga, sagarun.Deps{Log: slog.New(slog.DiscardHandler), Due: due})
	fired := eventstore.Fired{Timer: eventstore.Timer{Key: retention.SweepKey}}
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- r.HandleFired(context.Background(), fired) }()
	}
	<-entered
	// The second delivery must not get in while the first is in; given a
	// second to do so, it does not.
	if storetest.WaitFor(time.Second, func() bool { return len(entered) > 0 }) {
		t.Error("a second sweep ran beside the first on the same instance")
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d sweeps at once, want 1", most.Load())
	}
}
