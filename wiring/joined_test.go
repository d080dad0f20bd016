package wiring_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/wiring"
)

// An upgrade from sagas that each read the referral commits on their own:
// the first node runs the deadline, allocation and leaving-care sagas
// apart (three consumers), as the build before did; a child is placed
// while nothing runs; the next node runs every part, and the three sagas
// share one consumer. It starts where the three had got to (not from the
// beginning of the log), the three are gone, and the sagas still react
// to what came in between: the placed child's date of birth is set on
// their care, once.
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

	after, err := wiring.Build(wiring.Config{Store: n.Store})
	if err != nil {
		t.Fatal(err)
	}
	runAfter, stopAfter := context.WithCancel(ctx)
	defer func() { stopAfter(); <-done }()
	go func() { after.Run(runAfter, wiring.All...); done <- struct{}{} }()
	if !storetest.WaitFor(30*time.Second, func() bool {
		return datesOfBirthSet("b") == 1 && caughtUp(sagarun.ReferralSagasConsumer)
	}) {
		t.Fatal("the joined consumer never handled b's placement")
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
