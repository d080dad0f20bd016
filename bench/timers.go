package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/wiring"
)

// TimerOptions shape a burst of deadlines falling due in the same second.
type TimerOptions struct {
	N int
	// Instances are saga instances (nodes as serve builds them) on the
	// store; 0 means one.
	Instances int
	// ArmPerSecond is the rate at which the harness counts on recording
	// the receipts: the deadline is set far enough ahead for all of them
	// at that rate (0: 300 a second). A burst armed too slowly is refused,
	// since its last referrals would be recorded late rather than fired.
	ArmPerSecond int
	// Raw, if set, measures the raw JetStream floors on the same store just
	// before the burst: n commit-sized messages as single synchronous
	// publishes, and as atomic batches.
	Raw bool
	// AtFire, if set, is called when the deadlines fall due; what it
	// returns is called when the last breach is on record (a profile of
	// the burst alone, say).
	AtFire func() func()
}

// TimerResult is a burst's figures: the row, and the raw floors measured
// in the same run (zero when not asked for).
type TimerResult struct {
	Row
	// RawSync is n synchronous publishes' time (measured on at most
	// 10,000 and scaled), RawBatched n messages' in atomic batches of 100.
	RawSync, RawBatched time.Duration
}

// commitBytes is about a breach commit's size as stored.
const commitBytes = 900

// TimerBurst sets o.N deadlines falling due at the same second, through
// the real saga (receipts carrying their deadline, sentinel schedules, the
// sweep), and measures for each the time from that second to its breach
// stored by the server; and counts breaches lost and doubled.
func TimerBurst(ctx context.Context, store *eventstore.Store, o TimerOptions) (TimerResult, error) {
	n, instances := o.N, max(o.Instances, 1)
	armRate := o.ArmPerSecond
	if armRate <= 0 {
		armRate = 300
	}
	var res TimerResult
	if o.Raw {
		var err error
		// Single synced writes run at a few hundred to a few thousand a
		// second: their rate is taken on at most 10,000 and scaled to n.
		k := min(n, 10_000)
		if res.RawSync, err = store.RawBurst(ctx, k, commitBytes, 16, 1); err != nil {
			return res, fmt.Errorf("raw synchronous publishes: %w", err)
		}
		res.RawSync = res.RawSync * time.Duration(n) / time.Duration(k)
		if res.RawBatched, err = store.RawBurst(ctx, n, commitBytes, 1, 100); err != nil {
			return res, fmt.Errorf("raw atomic batches: %w", err)
		}
	}
	due := 5*time.Second + time.Duration(n/armRate)*time.Second
	// No warning before the breach (warnBefore zero puts it at the
	// deadline, and a referral past its deadline is given the breach
	// alone): the burst is the breaches', as at the end of a deadline day,
	// whose warnings were recorded a working day before.
	policy, _ := deadline.ParsePolicy(fmt.Appendf(nil, `{"version":"bench","routes":{"hotel":{"duration":%q},"entry-authority":{"duration":%q}},"warnBefore":{},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`, due.String(), due.String()))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fmu sync.Mutex
	var serverLag []time.Duration // due to fired by the server, breaches only
	var breaches atomic.Int64
	// Each instance is a node as serve runs it (its own views, which tell
	// its saga who is due), all on one store.
	var eng *engine.Engine
	for range instances {
		node, err := wiring.Build(wiring.Config{Store: store, Log: quiet, Deadline: &policy})
		if err != nil {
			return res, err
		}
		if eng == nil {
			eng = node.Engine
		}
		node.Deadline.OnFired = func(kind string, due, fired, _ time.Time) {
			if kind == deadline.KindBreach {
				fmu.Lock()
				serverLag = append(serverLag, fired.Sub(due.Truncate(time.Second).Add(time.Second)))
				fmu.Unlock()
			}
		}
		recorded := node.Deadline.OnRecorded
		node.Deadline.OnRecorded = func(t string, ref aggregates.Referral) {
			if t == events.TypeDeadlineBreached {
				breaches.Add(1)
			}
			if recorded != nil {
				recorded(t, ref)
			}
		}
		go node.Run(rctx, wiring.Views, wiring.DeadlineSaga)
	}
	received := time.Now()
	if err := ReceiveAll(ctx, eng, "timer", n, received, 64); err != nil {
		return res, err
	}
	armed := time.Since(received)
	fireAt := received.Add(due).Truncate(time.Second).Add(time.Second)
	if armed > due-time.Second {
		return res, fmt.Errorf("recording %d receipts took %s, past their deadline in %s: lower ArmPerSecond (%d)", n, armed.Round(time.Millisecond), due, armRate)
	}
	time.Sleep(time.Until(fireAt))
	var stop func()
	if o.AtFire != nil {
		stop = o.AtFire()
	}
	// Wait for the saga to report every breach, or for it to stop making
	// progress for a minute; the read-back below is the check either way.
	last, lastAt := int64(-1), time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	for {
		got := breaches.Load()
		if got >= int64(n) {
			break
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > time.Minute {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		}
	}
	tick.Stop()
	if stop != nil {
		stop()
	}
	lat, lost, doubled, err := readBreaches(ctx, store, n, fireAt)
	if err != nil {
		return res, err
	}
	r := Row{Group: "deadline timers (server-side message schedules)", Name: fmt.Sprintf("%d deadlines due in the same second, %d saga instance(s)", n, instances), Ops: n, Events: n - lost,
		Errors: lost, Conflicts: doubled, Note: fmt.Sprintf("lost %d, doubled %d; receipts recorded in %s", lost, doubled, armed.Round(time.Millisecond))}
	fill(&r, lat, time.Duration(r.MaxMs*float64(time.Millisecond))+time.Millisecond)
	r.EventsPerSec = 0
	fmu.Lock()
	var s Row
	fill(&s, serverLag, time.Second)
	fmu.Unlock()
	r.Note += fmt.Sprintf("; of which the server's firing (due to fired message stored): p50 %.0f ms, p99 %.0f ms, max %.0f ms", s.P50ms, s.P99ms, s.MaxMs)
	if o.Raw {
		r.Note += fmt.Sprintf("; raw JetStream, %d messages of %d B just before: synchronous publishes from 16 clients %s (%.0f/s, scaled from at most 10,000), atomic batches of 100 %s (%.0f/s)",
			n, commitBytes, res.RawSync.Round(time.Millisecond), float64(n)/res.RawSync.Seconds(), res.RawBatched.Round(time.Millisecond), float64(n)/res.RawBatched.Seconds())
	}
	res.Row = r
	return res, nil
}

// readBreaches reads every referral of the burst back: the lateness of
// each breach (stored by the server, from the second it was due), and the
// referrals with none and with more than one.
func readBreaches(ctx context.Context, store *eventstore.Store, n int, fireAt time.Time) (lat []time.Duration, lost, doubled int, err error) {
	var mu sync.Mutex
	next := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				stored, err := store.Load(ctx, events.ReferralSubject(fmt.Sprint("timer", i)))
				if err != nil {
					errs <- err
					return
				}
				var mine []time.Duration
				for _, st := range stored {
					for _, e := range st.Commit.Events {
						if e.Type == events.TypeDeadlineBreached {
							mine = append(mine, st.Time.Sub(fireAt))
						}
					}
				}
				mu.Lock()
				switch {
				case len(mine) == 0:
					lost++
				case len(mine) > 1:
					doubled++
				}
				lat = append(lat, mine...)
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
		}
		if err != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return lat, lost, doubled, err
}

// ReceiveAll records n referrals, prefix0 to prefix<n-1>, all received at
// at, parallel at a time through eng: a burst's referrals, whose deadlines
// fall due together.
func ReceiveAll(ctx context.Context, eng *engine.Engine, prefix string, n int, at time.Time, parallel int) error {
	var wg sync.WaitGroup
	var refused atomic.Int64
	var first atomic.Value
	sem := make(chan struct{}, parallel)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprint(prefix, i)
			c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, ReceivedAt: at}
			if _, err := eng.Handle(ctx, id, c, engine.Meta{Actor: "bench"}); err != nil {
				refused.Add(1)
				first.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if k := refused.Load(); k > 0 {
		return fmt.Errorf("%d of %d receipts were not recorded, the first because: %v", k, n, first.Load())
	}
	return nil
}
