package sagarun_test

import (
	"context"
	"testing"

	"github.com/ntsflow/ntsflow/bench"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// BenchmarkFireLag1000 sets 1,000 deadlines that all fall due in the same
// second and measures, for each, the time from that second to the breach on
// record (fire lag), and counts breaches lost and doubled; durable embedded
// server (fsync every write), one engine instance. The harness is
// bench.Timers, which `ntsflow bench --parts timers` runs at 10,000 (--timers N for more):
//
//	go test ./sagarun -run XXX -bench FireLag -benchtime 1x
func BenchmarkFireLag1000(b *testing.B) {
	for range b.N {
		node := storetest.Start(b, storetest.Options{Durable: true})
		r, err := bench.Timers(context.Background(), node.Store, 1000, 1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.P50ms, "p50-ms")
		b.ReportMetric(r.P99ms, "p99-ms")
		b.ReportMetric(r.MaxMs, "max-ms")
		b.ReportMetric(float64(r.Errors), "lost")
		b.ReportMetric(float64(r.Conflicts), "doubled")
		b.Logf("%s: fire lag p50 %.0f ms, p99 %.0f ms, max %.0f ms; %s", r.Name, r.P50ms, r.P99ms, r.MaxMs, r.Note)
		node.Stop()
	}
}
