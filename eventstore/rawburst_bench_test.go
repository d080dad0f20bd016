package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// BenchmarkRawBurst writes 10,000 commit-sized messages to a fresh stream
// on the embedded server (fsync on every write), as single synchronous
// publishes and as atomic batches of several sizes, one or several in
// flight: how a burst of commits is best written. Interleaved in one run:
//
//	go test ./eventstore -run XXX -bench RawBurst -benchtime 1x -count 2
func BenchmarkRawBurst(b *testing.B) {
	n := benchNode(b)
	for _, c := range []struct{ clients, batch int }{{16, 1}, {1, 100}, {4, 100}, {1, 500}, {4, 500}, {1, 1000}, {4, 1000}} {
		b.Run(fmt.Sprintf("clients=%d/batch=%d", c.clients, c.batch), func(b *testing.B) {
			for range b.N {
				took, err := n.Store.RawBurst(context.Background(), 10_000, 900, c.clients, c.batch)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(10_000/took.Seconds(), "msgs/s")
			}
		})
	}
}

// BenchmarkRawBurstCluster is BenchmarkRawBurst on the in-process 3-node
// cluster (fsync on every write on each node, R3).
func BenchmarkRawBurstCluster(b *testing.B) {
	cluster := storetest.StartCluster(b, 3, func(o *server.Options) { o.SyncAlways = true })
	conn, err := eventstore.Dial(cluster.URL(), "raw-burst", eventstore.ConnOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	store, err := conn.Open(context.Background(), eventstore.Config{Replicas: 3})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ clients, batch int }{{16, 1}, {1, 100}, {1, 500}, {1, 1000}, {2, 1000}} {
		b.Run(fmt.Sprintf("clients=%d/batch=%d", c.clients, c.batch), func(b *testing.B) {
			for range b.N {
				took, err := store.RawBurst(context.Background(), 10_000, 900, c.clients, c.batch)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(10_000/took.Seconds(), "msgs/s")
			}
		})
	}
}
