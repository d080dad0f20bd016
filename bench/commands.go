package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/wiring"
)

// ProcessCPU is the CPU time this process has used (user and system), read
// from /proc as an outside harness would read serve's: with the server
// embedded, it is the engine's CPU and the server's together.
func ProcessCPU() (time.Duration, error) { return CPUOf(os.Getpid()) }

// CommandOptions shape the command part.
type CommandOptions struct {
	Writers int
	// Commands each writer runs per round; Rounds interleave the engine
	// with the raw baseline.
	Commands, Rounds int
	// Active is how many referrals each writer keeps in flight: their
	// commands interleave in the stream, as real referrals' do.
	Active int
}

// Commands runs referral lifecycles through the engine, closed loop (receive,
// notify, an in-house search, a commissioned search, place: the mix),
// interleaved in rounds with raw synchronous publishes of a commit of the
// same size from as many goroutines, and reports for each the rate, the
// latency and the CPU per operation of the whole process (engine and
// embedded server), from /proc.
func Commands(ctx context.Context, store *eventstore.Store, o CommandOptions, prefix string) ([]Row, error) {
	node, err := wiring.Build(wiring.Config{Store: store, Log: quiet, NoViews: true})
	if err != nil {
		return nil, err
	}
	eng := node.Engine
	received := time.Now().Add(-time.Hour).UTC()
	one := 1
	steps := []aggregates.Command{
		aggregates.NotifyProfessionals{Professions: []string{"commissioning", "placements", "fostering"}, NotifiedBy: "team leader"},
		aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &one},
		aggregates.RecordPlacementSearch{Track: "commissioned", OffersFound: &one, PlacementTypes: []string{"U4"}},
		aggregates.Place{PlacementType: "U4", Provider: "Independent fostering agency", PlacedAt: received.Add(30 * time.Minute)},
	}
	sample := commitOf(1, 400)
	data, err := events.EncodeCommit(sample)
	if err != nil {
		return nil, err
	}
	type variant struct {
		name string
		op   func(w int, n int, lat *[]time.Duration) int
		lat  []time.Duration
		errs int
		took time.Duration
		cpu  time.Duration
		ops  int
	}
	// Each writer's referrals in flight and where each stands (0: not yet
	// received).
	type slot struct {
		id   string
		step int
	}
	active := make([][]slot, o.Writers)
	next := make([]int, o.Writers)
	newSlot := func(w int) slot {
		next[w]++
		return slot{id: fmt.Sprintf("%s-%d-%d", prefix, w, next[w])}
	}
	for w := range active {
		for range o.Active {
			active[w] = append(active[w], newSlot(w))
		}
	}
	pos := make([]int, o.Writers)
	rawN := make([]int, o.Writers)
	variants := []*variant{
		{name: "raw JetStream publish (sync, same commit size)", op: func(w, n int, lat *[]time.Duration) int {
			errs := 0
			for range n {
				rawN[w]++
				t := time.Now()
				if _, err := store.PublishUnchecked(ctx, events.ReferralSubject(fmt.Sprintf("%sraw-%d-%d", prefix, w, rawN[w])), data); err != nil {
					errs++
				}
				*lat = append(*lat, time.Since(t))
			}
			return errs
		}},
		{name: "ntsflow commands (receive, notify, 2 searches, place)", op: func(w, n int, lat *[]time.Duration) int {
			errs := 0
			for range n {
				i := pos[w] % len(active[w])
				pos[w]++
				s := &active[w][i]
				var cmd aggregates.Command
				if s.step == 0 {
					cmd = aggregates.ReceiveReferral{ReferralID: s.id, ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: s.id, ReceivedAt: received}
				} else {
					cmd = steps[s.step-1]
				}
				t := time.Now()
				if _, err := eng.Handle(ctx, s.id, cmd, engine.Meta{Actor: "bench"}); err != nil {
					errs++
				}
				*lat = append(*lat, time.Since(t))
				if s.step++; s.step > len(steps) {
					*s = newSlot(w)
				}
			}
			return errs
		}},
	}
	for range o.Rounds {
		for _, v := range variants {
			lats := make([][]time.Duration, o.Writers)
			errs := make([]int, o.Writers)
			c0, err := ProcessCPU()
			if err != nil {
				return nil, err
			}
			t0 := time.Now()
			var wg sync.WaitGroup
			for w := range o.Writers {
				wg.Go(func() { errs[w] = v.op(w, o.Commands, &lats[w]) })
			}
			wg.Wait()
			v.took += time.Since(t0)
			c1, _ := ProcessCPU()
			v.cpu += c1 - c0
			for w := range o.Writers {
				v.lat = append(v.lat, lats[w]...)
				v.errs += errs[w]
			}
			v.ops += o.Writers * o.Commands
		}
	}
	var rows []Row
	for _, v := range variants {
		r := Row{Group: fmt.Sprintf("commands, closed loop, %d writers, %d rounds interleaved", o.Writers, o.Rounds), Name: v.name, Ops: v.ops, Events: v.ops, Errors: v.errs,
			CPUPerOpMs: float64(v.cpu.Microseconds()) / 1000 / float64(v.ops)}
		fill(&r, v.lat, v.took)
		rows = append(rows, r)
	}
	if rows[0].EventsPerSec > 0 {
		rows[1].Ratio = rows[1].EventsPerSec / rows[0].EventsPerSec
	}
	return rows, nil
}
