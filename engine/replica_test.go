package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

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
