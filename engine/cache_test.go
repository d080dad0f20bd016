package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
)

// Two engines on one store, as two instances on one stream: each caches
// what it has seen, and the other moves on behind its back.
func twoEngines(t *testing.T) (a, b *engine.Engine) {
	n := storetest.Start(t, storetest.Options{})
	now := func() time.Time { return received.Add(48 * time.Hour) }
	return &engine.Engine{Store: n.Store, Now: now}, &engine.Engine{Store: n.Store, Now: now}
}

// coldEngine is another instance on e's store that caches nothing: every
// aggregate is as cold to it as after days.
func coldEngine(e *engine.Engine) *engine.Engine {
	return &engine.Engine{Store: e.Store, Now: e.Now, CacheSize: -1}
}

var notify = aggregates.NotifyProfessionals{Professions: []string{"commissioning", "placements", "fostering"}, NotifiedBy: "team leader"}

// A refusal decided on cached commits is not given until it is decided
// again on a fresh load: here the referral was received by the other
// instance after this one had found nothing.
func TestCachedRefusalIsCheckedAgainstTheStore(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	if _, err := a.Handle(ctx, "r1", notify, engine.Meta{}); err == nil {
		t.Fatal("notify before receipt: want a refusal")
	}
	receive(t, b, "r1") // a's cache still holds no commits for r1
	out, err := a.Handle(ctx, "r1", notify, engine.Meta{})
	if err != nil {
		t.Fatalf("refused on a stale cache: %v", err)
	}
	if out.Version != 2 {
		t.Fatalf("version %d, want 2", out.Version)
	}
}

// An If-Match checked against cached commits is checked again on a fresh
// load before it is called stale.
func TestCachedVersionIsCheckedAgainstTheStore(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	receive(t, a, "r1")
	if _, err := b.Handle(ctx, "r1", notify, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	v := 2 // what the client read from b
	one := 1
	out, err := a.Handle(ctx, "r1", aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &one}, engine.Meta{ExpectedVersion: &v})
	if err != nil {
		t.Fatalf("If-Match 2 refused on a stale cache: %v", err)
	}
	if out.Version != 3 {
		t.Fatalf("version %d, want 3", out.Version)
	}
	v = 2 // now truly stale
	var stale *engine.StaleError
	if _, err := a.Handle(ctx, "r1", notify, engine.Meta{ExpectedVersion: &v}); !errors.As(err, &stale) || stale.Current != 3 {
		t.Fatalf("want stale at 3, got %v", err)
	}
}

// A decision on cached commits that the other instance has overtaken is
// refused by the server, and decided again on the new state: one
// placement, and a refusal for the second.
func TestStaleCacheNeverDecidesWrongly(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	receive(t, a, "r1")
	place := aggregates.Place{PlacementType: "U1", Provider: "carer", PlacedAt: received.Add(time.Hour)}
	if _, err := b.Handle(ctx, "r1", place, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	var refusal *aggregates.Refusal
	if _, err := a.Handle(ctx, "r1", place, engine.Meta{}); !errors.As(err, &refusal) {
		t.Fatalf("second placement: want a refusal, got %v", err)
	}
	_, stored, err := engine.Load(ctx, a.Store, aggregates.Referrals, "r1")
	if err != nil {
		t.Fatal(err)
	}
	placed := 0
	for _, st := range stored {
		for _, ev := range st.Commit.Events {
			if ev.Type == events.TypeReferralPlaced {
				placed++
			}
		}
	}
	if placed != 1 {
		t.Fatalf("%d placements on record", placed)
	}
}

// A repeated command whose first outcome the other instance recorded is
// answered with that outcome, not decided again on a stale cache.
func TestCachedIdempotencyFindsTheOtherInstancesCommit(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	receive(t, a, "r1")
	first, err := b.Handle(ctx, "r1", notify, engine.Meta{IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Handle(ctx, "r1", notify, engine.Meta{IdempotencyKey: "k"})
	if err != nil || !again.Replayed || again.Sequence != first.Sequence {
		t.Fatalf("repeat through the other instance: %+v, %v", again, err)
	}
}

// Engine.Load reads what the other instance wrote, and what this one
// wrote, with the server's timestamps, as a fresh load would.
func TestEngineLoadReadsEveryonesWrites(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	receive(t, a, "r1")
	if _, err := a.Handle(ctx, "r1", notify, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	one := 1
	if _, err := b.Handle(ctx, "r1", aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &one}, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, got, err := a.Load(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Store.Load(ctx, events.ReferralSubject("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("engine load %d commits, store %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Sequence != want[i].Sequence || !got[i].Time.Equal(want[i].Time) || string(got[i].Raw) != string(want[i].Raw) {
			t.Fatalf("commit %d differs from the store's", i)
		}
	}
}

// HandlePair on cached commits: two instances allocate in one region by
// turns, each holding the region's rota as it last saw it, which the other
// has since moved on. Every allocation is decided again on the rota as it
// stands, so consecutive allocations take consecutive rota positions, none
// twice.
func TestCachedPairDecidesOnTheRotaAsItStands(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	members := refdata.Default().InRegion("North West")
	var positions []int
	for i := range 6 {
		e := []*engine.Engine{a, b}[i%2]
		id := fmt.Sprint("alloc", i)
		c := aggregates.ReceiveReferral{ReferralID: id, Region: "north-west", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, ReceivedAt: received}
		if _, err := e.Handle(ctx, id, c, engine.Meta{}); err != nil {
			t.Fatal(err)
		}
		cmd := aggregates.Allocate{Members: members, RespondBy: received.Add(72 * time.Hour)}
		out, err := engine.HandlePair(ctx, e, aggregates.Regions, "north-west", aggregates.Referrals, id, cmd, engine.Meta{},
			func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
				return aggregates.DecideAllocation(g, ref, cmd, now)
			})
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		for _, ev := range out.Events {
			if al, ok := ev.Data.(events.ReferralAllocated); ok {
				positions = append(positions, al.Position)
			}
		}
	}
	if len(positions) != 6 {
		t.Fatalf("positions %v", positions)
	}
	for i := 1; i < len(positions); i++ {
		if positions[i] == positions[i-1] {
			t.Fatalf("rota position given twice in a row: %v", positions)
		}
	}
	// Both instances' caches were behind at every other allocation, and
	// the region's log holds one rota step per allocation.
	_, stored, err := engine.Load(ctx, a.Store, aggregates.Regions, "north-west")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 6 {
		t.Fatalf("the region has %d commits, want 6", len(stored))
	}
}

// A reaction to a commit this instance wrote reads nothing: the cache
// holds it. Another instance, which has not seen it, loads it; a commit
// beyond what the store holds is an error to retry, not an older state.
func TestLoadHoldingReadsOnlyWhatTheCacheLacks(t *testing.T) {
	a, b := twoEngines(t)
	ctx := context.Background()
	receive(t, a, "r1")
	out, err := a.Handle(ctx, "r1", notify, engine.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// The store's own count of decodings, which the engine's port does
	// not give: the rig's engines run on the real store.
	st := a.Store.(*eventstore.Store)
	hits, misses := st.DecodedCacheStats()
	ref, stored, err := engine.LoadHolding(ctx, a, aggregates.Referrals, "r1", out.Sequence)
	if err != nil || len(stored) != 2 || len(ref.Professions) != 3 {
		t.Fatalf("from the cache: %+v, %d commits, %v", ref, len(stored), err)
	}
	if h, m := st.DecodedCacheStats(); h != hits || m != misses {
		t.Fatalf("the instance that wrote the commit read the store (hits %d->%d, misses %d->%d)", hits, h, misses, m)
	}
	ref, stored, err = engine.LoadHolding(ctx, b, aggregates.Referrals, "r1", out.Sequence)
	if err != nil || len(stored) != 2 || len(ref.Professions) != 3 {
		t.Fatalf("the other instance: %+v, %d commits, %v", ref, len(stored), err)
	}
	if _, _, err := engine.LoadHolding(ctx, b, aggregates.Referrals, "r1", out.Sequence+100); err == nil {
		t.Fatal("a commit the store does not hold yet: want an error")
	}
}

// Fifty allocations at once in one region, each from its own instance (an
// engine of its own on the one store), so that nothing queues them: every
// one loses the race for the region's rota to others, many times, and the
// pair's retries are sized to outlast that. Outcomes are counted, not
// timed.
func TestPairRetriesOutlastFiftyAtOnce(t *testing.T) {
	a, _ := twoEngines(t)
	ctx := context.Background()
	members := refdata.Default().InRegion("North West")
	const n = 50
	for i := range n {
		id := fmt.Sprint("burst", i)
		c := aggregates.ReceiveReferral{ReferralID: id, Region: "north-west", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, ReceivedAt: received}
		if _, err := a.Handle(ctx, id, c, engine.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	var conflicts atomic.Int64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		e := &engine.Engine{Store: a.Store, Now: a.Now, OnAppend: func(err error) {
			if err != nil {
				conflicts.Add(1)
			}
		}}
		wg.Go(func() {
			cmd := aggregates.Allocate{Members: members, RespondBy: received.Add(72 * time.Hour)}
			_, errs[i] = engine.HandlePair(ctx, e, aggregates.Regions, "north-west", aggregates.Referrals, fmt.Sprint("burst", i), cmd, engine.Meta{},
				func(g aggregates.Region, ref aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
					return aggregates.DecideAllocation(g, ref, cmd, now)
				})
		})
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			t.Errorf("allocation %d: %v", i, err)
		}
	}
	t.Logf("%d allocations at once: %d failed, %d lost races along the way", n, failed, conflicts.Load())
	if conflicts.Load() == 0 {
		t.Fatal("no allocation lost a race: the burst did not contend, so it proves nothing")
	}
}

// On a replicated stream a command on an aggregate the engine does not
// hold decides on a read from any replica, without the request to the
// stream's leader that Load makes (a round trip through the server's
// JetStream API on which cold commands queued, issue 25); and it still
// decides right when that read is behind, because the server checks the
// append and a refusal is decided again on a fresh load.
func TestColdCommandOnAClusterSkipsTheLeaderRead(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: not in -short")
	}
	cluster := storetest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := func() time.Time { return received.Add(48 * time.Hour) }
	a := &engine.Engine{Store: cluster.Open(0, eventstore.Config{Replicas: 3}), Now: now}
	b := &engine.Engine{Store: cluster.Open(1, eventstore.Config{Replicas: 3}), Now: now}
	// Requests for the leader's last message on a subject, as Load sends
	// them, seen from a connection of their own.
	watch, err := nats.Connect(cluster.ClientURL(2))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	var leaderReads atomic.Int64
	sub, err := watch.Subscribe("$JS.API.STREAM.MSG.GET."+eventstore.EventsStream, func(*nats.Msg) { leaderReads.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		receive(t, a, fmt.Sprint("c", i))
	}
	// b holds none of them: each notification is its first touch.
	before := leaderReads.Load()
	for i := range n {
		out, err := b.Handle(ctx, fmt.Sprint("c", i), notify, engine.Meta{})
		if err != nil {
			t.Fatalf("notify c%d on the other instance: %v", i, err)
		}
		if out.Version != 2 {
			t.Fatalf("c%d: version %d, want 2", i, out.Version)
		}
	}
	// A notification on a referral b has not seen received yet, sent at
	// once after a's receipt: decided on whatever a replica holds, and
	// never refused for want of the receipt.
	for i := range n {
		id := fmt.Sprint("fresh", i)
		receive(t, a, id)
		if _, err := b.Handle(ctx, id, notify, engine.Meta{}); err != nil {
			t.Fatalf("notify %s just after its receipt: %v", id, err)
		}
	}
	watch.Flush()
	sub.Unsubscribe()
	// The refusals decided again on fresh loads (if a replica lagged) are
	// the only leader reads allowed; the first touches of the first loop
	// make none.
	if got := leaderReads.Load() - before; got > n {
		t.Fatalf("%d requests to the leader for %d cold commands; want at most %d (only those decided again)", got, 2*n, n)
	}
	t.Logf("requests to the leader for %d cold commands: %d", 2*n, leaderReads.Load()-before)
}
