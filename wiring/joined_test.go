package wiring_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/wiring"
)

// An upgrade from sagas that each read the referral commits on their own:
// the first node runs the deadline, allocation and leaving-care sagas
// apart (three consumers), as the build before did. While nothing runs, a
// child is placed, another is received by a build from before receipts
// carried their deadline, and a third is allocated by the region's rota.
// The next node runs every part, and the three sagas share one consumer.
// It starts where the three had got to (not from the beginning of the
// log), the three are gone, and each saga reacts to what came in between
// through it: the placed child's date of birth is set on their care
// (leaving care), the second child's deadline is set (deadline), the
// third child's allocation awaits its answer on a timer (allocation).
func TestTheReferralSagasShareOneConsumerTakenOverFromTheirOwn(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	place := func(node *wiring.Node, id string) {
		t.Helper()
		received := time.Now().Add(-2 * time.Hour).UTC()
		for _, c := range []aggregates.Command{
			aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id,
				DateOfBirth: time.Now().AddDate(-14, 0, 0).Format(time.DateOnly), ReceivedAt: received},
			aggregates.Place{PlacementType: "U1", Provider: "in-house", PlacedAt: received.Add(time.Hour)},
		} {
			if _, err := node.Engine.Handle(ctx, id, c, engine.Meta{Actor: "test"}); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	datesOfBirthSet := func(id string) int {
		stored, err := n.Store.Load(ctx, events.CareSubject(id))
		if err != nil {
			return -1
		}
		k := 0
		for _, st := range stored {
			for _, e := range st.Commit.Events {
				if e.Type == events.TypeCareDateOfBirthSet {
					k++
				}
			}
		}
		return k
	}
	consumers := func() map[string]eventstore.ConsumerPosition {
		cs, err := n.Store.DurableConsumers(ctx, eventstore.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]eventstore.ConsumerPosition{}
		for _, c := range cs {
			out[c.Name] = c
		}
		return out
	}
	apart := []string{sagarun.DeadlineEventsConsumer, sagarun.AllocationEventsConsumer, sagarun.LeavingCareReferralConsumer}
	caughtUp := func(names ...string) bool {
		for _, name := range names {
			if p, err := n.Store.ConsumerPending(ctx, eventstore.EventsStream, name); err != nil || p > 0 {
				return false
			}
		}
		return true
	}

	before, err := wiring.Build(wiring.Config{Store: n.Store})
	if err != nil {
		t.Fatal(err)
	}
	runBefore, stopBefore := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	// Two calls, so that no one call starts all three: each has its own.
	go func() {
		before.Run(runBefore, wiring.Views, wiring.DeadlineSaga, wiring.AllocationSaga)
		done <- struct{}{}
	}()
	go func() { before.Run(runBefore, wiring.LeavingCareSaga); done <- struct{}{} }()
	place(before, "a")
	if !storetest.WaitFor(30*time.Second, func() bool { return datesOfBirthSet("a") == 1 && caughtUp(apart...) }) {
		t.Fatal("the sagas apart never handled a's placement")
	}
	if _, joined := consumers()[sagarun.ReferralSagasConsumer]; joined {
		t.Fatal("the sagas run apart made the joined consumer")
	}
	stopBefore()
	<-done
	<-done
	last, err := n.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	place(before, "b")
	// A build from before receipts carried their deadline: only the
	// deadline saga's reaction to the receipt sets it.
	older, err := wiring.Build(wiring.Config{Store: n.Store, Referrals: &aggregates.Referrals})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := older.Engine.Handle(ctx, "d", aggregates.ReceiveReferral{ReferralID: "d", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H",
		ChildReference: "HO-d", ReceivedAt: time.Now().Add(-time.Hour).UTC()}, engine.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	deadlineSet := func(id string) bool {
		stored, err := n.Store.Load(ctx, events.ReferralSubject(id))
		if err != nil {
			return false
		}
		for _, st := range stored {
			for _, e := range st.Commit.Events {
				if e.Type == events.TypeDeadlineSet && e.Actor == "deadline-saga" {
					return true
				}
			}
		}
		return false
	}
	// Allocated by the rota: the allocation saga arms the wait for the
	// authority's answer.
	if _, err := before.Engine.Handle(ctx, "c", aggregates.ReceiveReferral{ReferralID: "c", Region: "north-west", Route: events.RouteHotel, Hotel: "H",
		ChildReference: "HO-c", ReceivedAt: time.Now().Add(-time.Minute).UTC()}, engine.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	alloc := aggregates.Allocate{Members: refdata.Default().InRegion("North West"), RespondBy: before.AllocationPolicy.RespondBy(calendar.Default(), time.Now())}
	if _, err := engine.HandlePair(ctx, before.Engine, aggregates.Regions, "north-west", aggregates.Referrals, "c", alloc, engine.Meta{Actor: "test"},
		func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
			return aggregates.DecideAllocation(g, ref, alloc, now)
		}); err != nil {
		t.Fatal(err)
	}
	timers, err := n.Store.JetStream().Stream(ctx, eventstore.TimersStream)
	if err != nil {
		t.Fatal(err)
	}
	awaitingAnswer := func(id string) bool {
		_, err := timers.GetLastMsgForSubject(ctx, "nts.timers.schedule.allocation."+id+".>")
		return err == nil
	}
	if deadlineSet("d") || awaitingAnswer("c") {
		t.Fatal("a saga reacted while none ran")
	}

	after, err := wiring.Build(wiring.Config{Store: n.Store})
	if err != nil {
		t.Fatal(err)
	}
	runAfter, stopAfter := context.WithCancel(ctx)
	defer func() { stopAfter(); <-done }()
	go func() { after.Run(runAfter, wiring.All...); done <- struct{}{} }()
	if !storetest.WaitFor(30*time.Second, func() bool {
		return datesOfBirthSet("b") == 1 && deadlineSet("d") && awaitingAnswer("c") && caughtUp(sagarun.ReferralSagasConsumer)
	}) {
		t.Fatalf("the joined consumer never gave every saga its commits: b's date of birth set %d times, d's deadline set %v, c awaiting its answer %v",
			datesOfBirthSet("b"), deadlineSet("d"), awaitingAnswer("c"))
	}
	cs := consumers()
	for _, name := range apart {
		if _, there := cs[name]; there {
			t.Errorf("%s is still there beside the joined consumer", name)
		}
	}
	var cfg struct {
		OptStartSeq uint64 `json:"opt_start_seq"`
	}
	if err := json.Unmarshal(cs[sagarun.ReferralSagasConsumer].Config, &cfg); err != nil {
		t.Fatal(err)
	}
	// The commits up to a's placement had been handled by all three: the
	// joined consumer starts after them (after the lowest ack floor, which
	// a saga's own later commits may leave lower than the last sequence).
	if cfg.OptStartSeq <= 1 || cfg.OptStartSeq > last+1 {
		t.Fatalf("the joined consumer starts at %d, want after the three's floor (the log was at %d)", cfg.OptStartSeq, last)
	}
	if k := datesOfBirthSet("a"); k != 1 {
		t.Fatalf("a's date of birth set %d times", k)
	}
}
