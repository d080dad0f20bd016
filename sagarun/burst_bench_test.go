package sagarun_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ntsflow/ntsflow/bench"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// burstOptions reads NTSFLOW_TIMERS (deadlines, default 10,000) and
// NTSFLOW_ARM_RATE (receipts a second the harness counts on recording
// before the deadline, default bench's).
func burstOptions(b *testing.B) bench.TimerOptions {
	o := bench.TimerOptions{N: 10_000, Raw: true, AtFire: profileBurst(b)}
	if s := os.Getenv("NTSFLOW_TIMERS"); s != "" {
		o.N, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("NTSFLOW_ARM_RATE"); s != "" {
		o.ArmPerSecond, _ = strconv.Atoi(s)
	}
	return o
}

// BenchmarkTimerBurst sets NTSFLOW_TIMERS deadlines (default 10,000) due in
// the same second and measures their lateness (from that second to the
// breach stored), lost and doubled, each run just after the raw JetStream
// floors on the same server: the embedded server with fsync on every
// write, one saga instance. NTSFLOW_PROFILE=DIR writes CPU and block
// profiles of the burst alone (from the due second to the last breach):
//
//	go test ./sagarun -run XXX -bench TimerBurst -benchtime 1x -timeout 60m
//	NTSFLOW_TIMERS=100000 NTSFLOW_ARM_RATE=200 go test ./sagarun -run XXX -bench TimerBurst -benchtime 1x -timeout 60m
func BenchmarkTimerBurst(b *testing.B) {
	for range b.N {
		node := storetest.Start(b, storetest.Options{Durable: true})
		r, err := bench.TimerBurst(context.Background(), node.Store, burstOptions(b))
		if err != nil {
			b.Fatal(err)
		}
		reportBurst(b, r)
		node.Stop()
	}
}

// BenchmarkTimerBurstCluster is BenchmarkTimerBurst on a 3-node cluster in
// this process (loopback routes, fsync on every write on each node, every
// stream replicated three times), the saga instance connected to the
// first node:
//
//	go test ./sagarun -run XXX -bench TimerBurstCluster -benchtime 1x -timeout 60m
func BenchmarkTimerBurstCluster(b *testing.B) {
	for range b.N {
		cluster := storetest.StartCluster(b, 3, func(o *server.Options) { o.SyncAlways = true })
		conn, err := eventstore.Dial(cluster.URL(), "timer-burst", eventstore.ConnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		store, err := conn.Open(ctx, eventstore.Config{Replicas: 3})
		if err != nil {
			b.Fatal(err)
		}
		r, err := bench.TimerBurst(ctx, store, burstOptions(b))
		if err != nil {
			b.Fatal(err)
		}
		reportBurst(b, r)
		conn.Close()
		cluster.Shutdown()
	}
}

func reportBurst(b *testing.B, r bench.TimerResult) {
	b.ReportMetric(r.P50ms, "p50-ms")
	b.ReportMetric(r.P99ms, "p99-ms")
	b.ReportMetric(r.MaxMs, "max-ms")
	b.ReportMetric(float64(r.Errors), "lost")
	b.ReportMetric(float64(r.Conflicts), "doubled")
	b.ReportMetric(r.RawSync.Seconds()*1000, "raw-sync-ms")
	b.ReportMetric(r.RawBatched.Seconds()*1000, "raw-batched-ms")
	b.Logf("%s: lateness p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms; %s", r.Name, r.P50ms, r.P95ms, r.P99ms, r.MaxMs, r.Note)
}

// profileBurst profiles the burst into NTSFLOW_PROFILE, if set.
func profileBurst(b *testing.B) func() func() {
	dir := os.Getenv("NTSFLOW_PROFILE")
	if dir == "" {
		return nil
	}
	return func() func() {
		f, err := os.Create(filepath.Join(dir, "burst-cpu.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		runtime.SetBlockProfileRate(int(1e5)) // one sample per 100 µs blocked
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		return func() {
			pprof.StopCPUProfile()
			f.Close()
			runtime.SetBlockProfileRate(0)
			bf, err := os.Create(filepath.Join(dir, "burst-block.pprof"))
			if err != nil {
				b.Fatal(err)
			}
			pprof.Lookup("block").WriteTo(bf, 0)
			bf.Close()
		}
	}
}
