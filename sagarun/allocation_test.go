package sagarun_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/allocation"
)

// A response time of 3 seconds, reminded half way.
func secondsResponse(t testing.TB) allocation.Policy {
	p, err := allocation.ParsePolicy([]byte(`{"version":"test-seconds","respondWithin":{"duration":"3s"},"remindAt":0.5,"escalateTo":"rsmp-lead"}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) allocationRunner() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	run := sagarun.New(allocation.New(secondsResponse(r.t), calendar.Default()), sagarun.Deps{Engine: r.eng, Store: r.node.Store, Log: slog.New(slog.DiscardHandler)})
	done := make(chan struct{})
	go func() { run.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(stop)
	return stop
}

// referAndAllocate refers a child into the North West and allocates it by
// the rota, as the API does.
func (r *rig) referAndAllocate(id string) {
	r.t.Helper()
	c := aggregates.ReceiveReferral{ReferralID: id, Region: "north-west", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, ReceivedAt: time.Now().Add(-time.Minute)}
	if err := r.do(id, c); err != nil {
		r.t.Fatal(err)
	}
	a := aggregates.Allocate{Members: refdata.Default().InRegion("North West"), RespondBy: secondsResponse(r.t).RespondBy(nil, time.Now())}
	_, err := engine.HandlePair(context.Background(), r.eng, aggregates.Regions, "north-west", aggregates.Referrals, id, a, engine.Meta{Actor: "test"},
		func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
			return aggregates.DecideAllocation(g, ref, a, now)
		})
	if err != nil {
		r.t.Fatal(err)
	}
}

// The contact is reminded half way and, with no answer, the partnership's
// lead is named at the deadline: once each, though the saga was stopped
// between the two and another instance took over.
func TestAllocationResponseAcrossARestart(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	stop := r.allocationRunner()
	r.referAndAllocate("a1")
	r.referAndAllocate("a2")
	r.waitFor("the reminders", 5*time.Second, func() bool {
		return count(r.history("a1"), events.TypeAllocationReminded) == 1 && count(r.history("a2"), events.TypeAllocationReminded) == 1
	})
	stop()
	// a2 is answered while no saga runs: its escalation must not come.
	if err := r.do("a2", aggregates.AcceptAllocation{}); err != nil {
		t.Fatal(err)
	}
	r.allocationRunner()
	r.allocationRunner() // a second instance
	r.waitFor("a1's escalation", 6*time.Second, func() bool { return count(r.history("a1"), events.TypeAllocationEscalated) == 1 })
	e := find(r.history("a1"), events.TypeAllocationEscalated).Data.(events.AllocationEscalated)
	if e.EscalatedTo != "rsmp-lead" || e.Authority == "" {
		t.Fatalf("escalation: %+v", e)
	}
	// Quiet: wait past a2's deadline and for both consumers to drain, then
	// count again.
	r.waitFor("a2's deadline to pass and the consumers to drain", 6*time.Second, func() bool {
		p1, err1 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.AllocationEventsConsumer)
		ref, _, _ := r.eng.Load(context.Background(), "a2")
		return err1 == nil && p1 == 0 && time.Now().After(ref.AllocatedAt.Add(4*time.Second))
	})
	if n := count(r.history("a1"), events.TypeAllocationEscalated); n != 1 {
		t.Fatalf("a1 escalated %d times", n)
	}
	if n := count(r.history("a1"), events.TypeAllocationReminded); n != 1 {
		t.Fatalf("a1 reminded %d times", n)
	}
	if n := count(r.history("a2"), events.TypeAllocationEscalated); n != 0 {
		t.Fatalf("a2 was answered, yet escalated %d times", n)
	}
}
