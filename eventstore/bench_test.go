package eventstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// These benchmarks decide how the store is built (docs/design/
// atomic-appends.md). Each runs against a real embedded server with fsync on
// every write, as production runs; -bench ... -benchtime 2000x for a look.

// NTSFLOW_BENCH_SYNC=interval runs them on the server's interval sync.
func benchNode(b *testing.B) *storetest.Node {
	return storetest.Start(b, storetest.Options{Durable: os.Getenv("NTSFLOW_BENCH_SYNC") != "interval"})
}

// Raw JetStream: a synchronous publish with the same headers checked, the
// floor the engine's append stands on.
func BenchmarkRawPublish(b *testing.B) {
	n := benchNode(b)
	data, _ := events.EncodeCommit(commit("raw", 1))
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject("raw"+strconv.Itoa(i)), data); err != nil {
			b.Fatal(err)
		}
	}
}

// Append of a 1-event and a 3-event commit: one message each, conditional
// on the subject's last sequence, with a message id.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1, 3} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			n := benchNode(b)
			c := commit("x", size)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := n.Store.Append(ctx, events.ReferralSubject("a"+strconv.Itoa(i)), 0, "id"+strconv.Itoa(i), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The alternative: one message per event, made atomic by JetStream's atomic
// batch publish (headers Nats-Batch-Id/-Sequence/-Commit; the stream needs
// AllowAtomicPublish). Hand-rolled here only to measure it.
func BenchmarkAtomicBatchOf3(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	js := n.Store.JetStream()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "BATCH", Subjects: []string{"batch.>"}, Storage: jetstream.FileStorage, AllowAtomicPublish: true}); err != nil {
		b.Fatal(err)
	}
	one, _ := events.Encode(commit("e", 1).Events[0])
	b.ResetTimer()
	for i := range b.N {
		subj := "batch." + strconv.Itoa(i)
		id := "b" + strconv.Itoa(i)
		for s := 1; s <= 3; s++ {
			m := &nats.Msg{Subject: subj, Data: one, Header: nats.Header{}}
			m.Header.Set("Nats-Batch-Id", id)
			m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(s))
			if s == 1 {
				m.Header.Set("Nats-Expected-Last-Subject-Sequence", "0")
			}
			if s < 3 {
				if err := n.Conn.PublishMsg(m); err != nil {
					b.Fatal(err)
				}
				continue
			}
			m.Header.Set("Nats-Batch-Commit", "1")
			if _, err := js.PublishMsg(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Load of a 50-commit referral among other referrals' commits: the store's
// batched direct get, beside an ordered consumer filtered to the subject.
func BenchmarkLoad50(b *testing.B) {
	n := storetest.Start(b, storetest.Options{})
	ctx := context.Background()
	subj := events.ReferralSubject("fifty")
	var last uint64
	for i := range 50 {
		ack, err := n.Store.Append(ctx, subj, last, "", commit("c"+strconv.Itoa(i), 1))
		if err != nil {
			b.Fatal(err)
		}
		last = ack.Sequence
		for j := range 20 {
			n.Store.Append(ctx, events.ReferralSubject(fmt.Sprintf("noise%d-%d", i, j)), 0, "", commit("n", 1))
		}
	}
	b.Run("direct-get", func(b *testing.B) {
		for range b.N {
			got, err := n.Store.Load(ctx, subj)
			if err != nil || len(got) != 50 {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("ordered-consumer", func(b *testing.B) {
		for range b.N {
			cons, err := n.Store.JetStream().OrderedConsumer(ctx, eventstore.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for got < 50 {
				batch, err := cons.Fetch(50)
				if err != nil {
					b.Fatal(err)
				}
				for m := range batch.Messages() {
					if _, err := events.DecodeCommit(m.Data()); err != nil {
						b.Fatal(err)
					}
					got++
				}
			}
			// Ordered consumers are ephemeral, but each counts against the
			// account's limit until the server reaps it: delete it, as a
			// Load built on them would have to.
			if err := n.Store.JetStream().DeleteConsumer(ctx, eventstore.EventsStream, cons.CachedInfo().Name); err != nil {
				b.Fatal(err)
			}
		}
	})
}
