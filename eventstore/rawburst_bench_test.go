package eventstore_test

import (
	"context"
	"fmt"
	"testing"
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
