package eventstore_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// BenchmarkConcurrentLoads is the engine's cold path in isolation: 40
// loads in flight at once (as at 600 commands/s in serve), each of a
// different referral of 5 commits among the others', over the in-process
// connection serve uses. Run with -mutexprofile or -blockprofile to see
// where loads wait:
// go test ./eventstore -run XXX -bench ConcurrentLoads -benchtime 20000x -mutexprofile mutex.out
func BenchmarkConcurrentLoads(b *testing.B) {
	const referrals, inFlight = 2000, 40
	n, ctx := seededForLoads(b, referrals)
	for _, conns := range loadConnCounts {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			store := n.Store
			if conns > 1 {
				store = openWithLoadConns(b, n, conns)
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						subj := events.ReferralSubject(fmt.Sprintf("cold-%d", i%referrals))
						got, err := store.Load(ctx, subj)
						if err != nil || len(got) != loadCommits {
							b.Error(len(got), err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "loads/s")
		})
	}
}

// BenchmarkLoadsAtARate offers loads open loop at a fixed rate below what
// the machine can do (NTSFLOW_LOAD_RATE a second, default 1,000), each
// in its own goroutine, and reports the latency from each load's due
// instant: what a command waiting on its load sees, rather than how many
// loads a saturated CPU gets through.
// go test ./eventstore -run XXX -bench LoadsAtARate -benchtime 3000x
func BenchmarkLoadsAtARate(b *testing.B) {
	rate := 1000
	if s := os.Getenv("NTSFLOW_LOAD_RATE"); s != "" {
		rate, _ = strconv.Atoi(s)
	}
	const referrals = 2000
	n, ctx := seededForLoads(b, referrals)
	for _, conns := range loadConnCounts {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			store := n.Store
			if conns > 1 {
				store = openWithLoadConns(b, n, conns)
			}
			lat := make([]time.Duration, b.N)
			interval := time.Second / time.Duration(rate)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range b.N {
				due := start.Add(time.Duration(i) * interval)
				// Open loop: each load goes at its instant, answered or not.
				// The pause is the schedule being measured, not a wait for
				// a condition.
				time.Sleep(time.Until(due))
				wg.Go(func() {
					got, err := store.Load(ctx, events.ReferralSubject(fmt.Sprintf("cold-%d", i%referrals)))
					if err != nil || len(got) != loadCommits {
						b.Error(len(got), err)
					}
					lat[i] = time.Since(due)
				})
			}
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// loadConnCounts are the pool sizes the benchmark compares.
var loadConnCounts = []int{1, 2, 4, 8}

// openWithLoadConns opens a second store on n's connection whose loads
// spread over conns connections.
func openWithLoadConns(tb testing.TB, n *storetest.Node, conns int) *eventstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := eventstore.Open(ctx, n.Conn, eventstore.Config{LoadConns: conns})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	return st
}

// loadCommits is how many commits each seeded referral has.
const loadCommits = 5

// seededForLoads is an embedded store holding referrals referrals of
// loadCommits commits each, written round after round so each referral's commits lie
// among the others', as in life.
func seededForLoads(b *testing.B, referrals int) (*storetest.Node, context.Context) {
	b.Helper()
	n := storetest.Start(b, storetest.Options{})
	ctx := context.Background()
	last := make([]uint64, referrals)
	for c := range loadCommits {
		for r := range referrals {
			ack, err := n.Store.Append(ctx, events.ReferralSubject(fmt.Sprintf("cold-%d", r)), last[r], "", commit(fmt.Sprintf("c%d-%d", r, c), 1))
			if err != nil {
				b.Fatal(err)
			}
			last[r] = ack.Sequence
		}
	}
	return n, ctx
}
