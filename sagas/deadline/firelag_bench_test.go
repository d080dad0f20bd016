package deadline_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// BenchmarkFireLag1000 sets 1,000 deadlines that all fall due at the same
// instant and measures, for each, the time from the scheduled instant to the
// breach on record (fire lag), and counts breaches lost and doubled. It runs
// on a durable embedded server (fsync every write) with one engine instance:
//
//	go test ./sagas/deadline -run XXX -bench FireLag -benchtime 1x
func BenchmarkFireLag1000(b *testing.B) {
	const n = 1000
	for range b.N {
		node := storetest.Start(b, storetest.Options{Durable: true})
		eng := &engine.Engine{Store: node.Store, Log: slog.New(slog.DiscardHandler)}
		p, _ := deadline.ParsePolicy([]byte(`{"version":"bench","routes":{"hotel":{"duration":"25s"},"entry-authority":{"duration":"25s"}},"warnBefore":{"duration":"20s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`))
		ctx, cancel := context.WithCancel(context.Background())
		run := &deadline.Runner{Saga: deadline.Saga{Policy: p, Calendar: calendar.Default()}, Engine: eng, Store: node.Store, Log: slog.New(slog.DiscardHandler)}
		go run.Run(ctx)

		received := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				id := fmt.Sprint("lag", i)
				c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: id, ReceivedAt: received}
				if _, err := eng.Handle(ctx, id, c, engine.Meta{}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		armed := time.Since(received)
		due := received.Add(25 * time.Second)
		fireAt := due.Truncate(time.Second).Add(time.Second) // schedules have whole seconds
		time.Sleep(time.Until(fireAt) + 10*time.Second)

		var lags []time.Duration
		lost, doubled := 0, 0
		for i := range n {
			_, stored, err := eng.Load(ctx, fmt.Sprint("lag", i))
			if err != nil {
				b.Fatal(err)
			}
			breaches := 0
			for _, st := range stored {
				for _, e := range st.Commit.Events {
					if e.Type == events.TypeDeadlineBreached {
						breaches++
						lags = append(lags, e.RecordedAt.Sub(fireAt))
					}
				}
			}
			switch {
			case breaches == 0:
				lost++
			case breaches > 1:
				doubled++
			}
		}
		cancel()
		slices.Sort(lags)
		q := func(f float64) float64 {
			if len(lags) == 0 {
				return -1
			}
			return float64(lags[int(f*float64(len(lags)-1))].Milliseconds())
		}
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
		b.ReportMetric(float64(lost), "lost")
		b.ReportMetric(float64(doubled), "doubled")
		b.Logf("%d deadlines armed in %v; fire lag p50 %v p99 %v max %v; lost %d doubled %d", n, armed.Round(time.Millisecond), time.Duration(q(0.5))*time.Millisecond, time.Duration(q(0.99))*time.Millisecond, time.Duration(q(1))*time.Millisecond, lost, doubled)
		node.Stop()
	}
}
