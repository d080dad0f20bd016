package wiring_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// BenchmarkReceiveSealed is the cost of issue 24's sealing per command: a
// referral received with every personal field filled in, through
// production's engine on a durable embedded JetStream, with the personal
// fields in the clear (as before) and sealed. B/commit is the stored
// commit's size. BENCHMARKS.md has the figures and the command.
func BenchmarkReceiveSealed(b *testing.B) {
	// "sealed" makes each child's key on its first command, as a receipt
	// does; "sealed-key-known" has the keys made before the clock starts,
	// the cost of every later command on a child.
	for _, mode := range []string{"plain", "sealed", "sealed-key-known"} {
		sealed := mode != "plain"
		b.Run(mode, func(b *testing.B) {
			n := storetest.Start(b, storetest.Options{Durable: true})
			node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: bytes.Repeat([]byte{5}, 32), Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if !sealed {
				node.Engine.Keys = nil
			}
			ctx := context.Background()
			age := 15
			cmd := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "Hotel Marina",
				ChildReference: "HO-2026-001234", ClaimedAge: &age, DateOfBirth: "2011-02-17", Sex: "male", Nationality: "Eritrean",
				Languages: []string{"Tigrinya", "Arabic"}, Needs: []string{"type 1 diabetes", "asked to be placed near his cousin"},
				ReceivedAt: time.Now().Add(-time.Hour)}
			if mode == "sealed-key-known" {
				for i := range b.N {
					if _, err := n.Store.DataKey(ctx, fmt.Sprintf("bench-%d", i)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			before := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				c := cmd
				c.ReferralID = fmt.Sprintf("bench-%d", i)
				if _, err := node.Engine.Handle(ctx, c.ReferralID, c, engine.Meta{Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// The process's CPU (engine and embedded server together):
			// wall time on a busy machine is not the cost.
			b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
			stored, err := n.Store.Load(ctx, events.ReferralSubject("bench-0"))
			if err != nil || len(stored) == 0 {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(stored[0].Raw)), "B/commit")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
