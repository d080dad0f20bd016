package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// processCPU is the CPU time this process (client and embedded server
// alike) has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadReplies compares, in interleaved rounds, three ways for a
// load to receive its direct get replies: a default sync subscription per
// load (the old way), the same on a connection with nats.SyncQueueLen(1024),
// and the store's one shared reply subscription. 4 loaders, a referral of
// 10 commits with 20 others' commits between each. Reports CPU per load
// (the whole process: client and embedded server).
// go test ./eventstore -run XXX -bench LoadReplies -benchtime 5000x
func BenchmarkLoadReplies(b *testing.B) {
	n := storetest.Start(b, storetest.Options{})
	ctx := context.Background()
	subj := events.ReferralSubject("ten")
	var last uint64
	for i := range 10 {
		ack, err := n.Store.Append(ctx, subj, last, "", commit("c"+strconv.Itoa(i), 1))
		if err != nil {
			b.Fatal(err)
		}
		last = ack.Sequence
		for j := range 20 {
			n.Store.Append(ctx, events.ReferralSubject(fmt.Sprintf("noise%d-%d", i, j)), 0, "", commit("n", 1))
		}
	}
	perLoad, err := eventstore.Open(ctx, n.Conn, eventstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	perLoad.SetPerLoadSubscription(true)
	nc2, err := n.Embedded.Connect("queuelen", nats.SyncQueueLen(1024))
	if err != nil {
		b.Fatal(err)
	}
	defer nc2.Close()
	queueLen, err := eventstore.Open(ctx, nc2, eventstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	queueLen.SetPerLoadSubscription(true)
	modes := []struct {
		name  string
		store *eventstore.Store
	}{{"per-load subscription", perLoad}, {"SyncQueueLen(1024)", queueLen}, {"shared reply subscription", n.Store}}
	const rounds, loaders = 5, 4
	cpu := make([][]float64, len(modes))
	wall := make([][]float64, len(modes))
	b.ResetTimer()
	for range rounds {
		for m, mode := range modes {
			per := max(b.N/rounds/loaders, 1)
			c0, t0 := processCPU(), time.Now()
			var wg sync.WaitGroup
			for range loaders {
				wg.Go(func() {
					for range per {
						got, err := mode.store.Load(ctx, subj)
						if err != nil || len(got) != 10 {
							b.Error(len(got), err)
							return
						}
					}
				})
			}
			wg.Wait()
			ops := float64(per * loaders)
			cpu[m] = append(cpu[m], float64(processCPU()-c0)/ops/1e3)
			wall[m] = append(wall[m], float64(time.Since(t0))/ops/1e3)
		}
	}
	for m, mode := range modes {
		slices.Sort(cpu[m])
		slices.Sort(wall[m])
		b.Logf("%-26s CPU µs/load min %.1f median %.1f max %.1f; wall µs/load median %.1f", mode.name, cpu[m][0], cpu[m][rounds/2], cpu[m][rounds-1], wall[m][rounds/2])
	}
}
