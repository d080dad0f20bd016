package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
		// What each server's reader held after the commit before: LoadAfter
		// from it must read its writes as Load does.
		known := make([][]eventstore.Stored, 3)
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
				after, err := reader.LoadAfter(ctx(t), subj, known[k])
				if err != nil {
					t.Fatalf("load after %d commits through server %d: %v", len(known[k]), k, err)
				}
				if len(after) != j+1 || eventstore.LastSequenceOf(after) != last {
					stale++
					t.Errorf("subject %d, after commit %d: server %d's incremental load saw %d commits", i, j+1, k, len(after))
				}
				known[k] = after
			}
		}
		if stale > 5 {
			t.Fatal("stopping: loads do not read their writes")
		}
	}
}

// Load of a 10-commit referral through a follower of a 3-node cluster,
// where Load asks the leader first, beside the same read on a 1-replica
// stream on the same cluster, where it does not: the price of reading
// one's writes. -bench ClusterLoad -benchtime 2000x.
func BenchmarkClusterLoad(b *testing.B) {
	cluster := storetest.StartCluster(b, 3)
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			nc, err := nats.Connect(cluster.ClientURL(replicas % 3))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			s, err := eventstore.Open(context.Background(), nc, eventstore.Config{Replicas: replicas})
			if err != nil {
				b.Fatal(err)
			}
			subj := events.ReferralSubject(fmt.Sprint("bench", replicas))
			var last uint64
			for i := range 10 {
				ack, err := s.Append(context.Background(), subj, last, "", commit(fmt.Sprint("b", i), 1))
				if err != nil {
					b.Fatal(err)
				}
				last = ack.Sequence
			}
			b.ResetTimer()
			for range b.N {
				got, err := s.Load(context.Background(), subj)
				if err != nil || len(got) != 10 {
					b.Fatalf("load: %d commits, %v", len(got), err)
				}
			}
			b.StopTimer()
			// The next sub-benchmark makes the streams anew.
			js, _ := jetstream.New(nc)
			for _, name := range []string{eventstore.EventsStream, eventstore.TimersStream, eventstore.PublicStream, "OBJ_" + eventstore.SnapshotBucket} {
				js.DeleteStream(context.Background(), name)
			}
		})
	}
}

// The children's keys are read back on other servers the moment they are
// made: an engine instance seals a child's referral with a new key, and
// another instance's views and sagas unseal it moments later. A follower
// that has not yet stored the key must not answer for it: "no key" there
// would be read as a disposal (its events shown as disposed of) or make a
// second key.
func TestClusterKeysReadTheirWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short")
	}
	cluster := storetest.StartCluster(t, 3)
	kek := kek(t)
	var stores []*eventstore.Store
	for i := range 3 {
		s := cluster.Open(i, eventstore.Config{Replicas: 3})
		if err := s.OpenKeys(ctx(t), kek); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	info, err := stores[0].KeysStreamInfo(ctx(t))
	if err != nil || info.Config.AllowDirect {
		t.Fatalf("the key stream answers direct gets (on followers too): %v", err)
	}
	wrong := 0
	for i := range 200 {
		child := fmt.Sprint("keyed-", i)
		key, err := stores[i%3].DataKey(ctx(t), child)
		if err != nil {
			t.Fatal(err)
		}
		for j := 1; j < 3; j++ {
			reader := stores[(i+j)%3]
			if gone, err := reader.KeyDestroyed(ctx(t), child); err != nil || gone {
				t.Fatalf("child %d through server %d: destroyed %v, %v", i, (i+j)%3, gone, err)
			}
			got, err := reader.DataKey(ctx(t), child)
			if err != nil || !bytes.Equal(got, key) {
				wrong++
				t.Errorf("child %d through server %d: a different key or none (%v)", i, (i+j)%3, err)
			}
		}
		if wrong > 5 {
			t.Fatal("stopping: keys are not read back where they were not made")
		}
	}
}
