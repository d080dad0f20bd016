package eventstore_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// On a replicated stream, direct gets are answered by followers too, and a
// follower may not yet hold what the leader has acknowledged. A writer on
// one server and a reader on each of the others: every load must see every
// commit acknowledged before it began.
func TestClusterLoadReadsItsWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short")
	}
	cluster := storetest.StartCluster(t, 3)
	var stores []*eventstore.Store
	for i := range 3 {
		nc, err := nats.Connect(cluster.ClientURL(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		s, err := eventstore.Open(ctx(t), nc, eventstore.Config{Replicas: 3})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	stale := 0
	for i := range 100 {
		subj := events.ReferralSubject(fmt.Sprint("raw", i))
		var last uint64
		for j := range 3 {
			writer := stores[(i+j)%3]
			ack, err := writer.Append(ctx(t), subj, last, "", commit(fmt.Sprintf("raw%d-%d", i, j), 1))
			if err != nil {
				t.Fatal(err)
			}
			last = ack.Sequence
			for k, reader := range stores {
				got, err := reader.Load(ctx(t), subj)
				if err != nil {
					t.Fatalf("load through server %d: %v", k, err)
				}
				if len(got) != j+1 {
					stale++
					t.Errorf("subject %d, after commit %d: server %d's load saw %d commits", i, j+1, k, len(got))
				}
			}
		}
		if stale > 5 {
			t.Fatal("stopping: loads do not read their writes")
		}
	}
}
