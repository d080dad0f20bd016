package sagarun_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/ntsflow/ntsflow/bench"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// BenchmarkTimerBurst sets NTSFLOW_TIMERS deadlines (default 10,000) due in
// the same second and measures their lateness (from that second to the
// breach stored), lost and doubled, each run just after the raw JetStream
// floors on the same server: the embedded server with fsync on every
// write, one saga instance. NTSFLOW_PROFILE=DIR writes CPU and block
// profiles of the burst alone (from the due second to the last breach):
//
//	go test ./sagarun -run XXX -bench TimerBurst -benchtime 1x -timeout 60m
//	NTSFLOW_TIMERS=100000 go test ./sagarun -run XXX -bench TimerBurst -benchtime 1x -timeout 60m
func BenchmarkTimerBurst(b *testing.B) {
	n := 10_000
	if s := os.Getenv("NTSFLOW_TIMERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for range b.N {
		node := storetest.Start(b, storetest.Options{Durable: true})
		r, err := bench.TimerBurst(context.Background(), node.Store, bench.TimerOptions{N: n, Raw: true, AtFire: profileBurst(b)})
		if err != nil {
			b.Fatal(err)
		}
		reportBurst(b, r)
		node.Stop()
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
