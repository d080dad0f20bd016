package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/wiring"
)

var quiet = slog.New(slog.DiscardHandler)

// HTTP offers commands to the API at a fixed rate for a while, open loop:
// each request is sent at its scheduled instant whether or not earlier ones
// have answered, and its latency is counted from that instant (so a stall
// is charged to every request it delays: no coordinated omission).
func HTTP(ctx context.Context, store *eventstore.Store, rates []int, each time.Duration) ([]Row, error) {
	// Production's node, its views left out: the load is the commands'.
	node, err := wiring.Build(wiring.Config{Store: store, Log: quiet, NoViews: true})
	if err != nil {
		return nil, err
	}
	eng := node.Engine
	// A plain listener on loopback: net/http/httptest would link its
	// published test TLS key into the product binary.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: node.API.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}, Timeout: 10 * time.Second}
	// Many referrals, so the load is the engine's, not one referral's queue.
	var ids []string
	for i := range 200 {
		id := fmt.Sprintf("http%d", i)
		c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: id, ReceivedAt: time.Now().Add(-time.Hour)}
		if _, err := eng.Handle(ctx, id, c, engine.Meta{}); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	var rows []Row
	for _, rate := range rates {
		n := int(float64(rate) * each.Seconds())
		interval := time.Second / time.Duration(rate)
		lat := make([]time.Duration, n)
		errs := make([]bool, n)
		var wg sync.WaitGroup
		c0, err := ProcessCPU()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		for i := range n {
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", base+"/v1/referrals/"+ids[i%len(ids)]+"/placement-searches", strings.NewReader(`{"track":"in-house","offersFound":1,"placementTypes":["U1"]}`))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				lat[i] = time.Since(due)
				if err != nil || res.StatusCode != 200 {
					errs[i] = true
				}
				if res != nil {
					res.Body.Close()
				}
			}()
		}
		wg.Wait()
		c1, _ := ProcessCPU()
		r := Row{Group: "HTTP commands, open loop (latency from the scheduled send)", Name: fmt.Sprintf("%d req/s offered for %s", rate, each), Ops: n, Events: n,
			// The client's share (sending, reading answers) is in it too.
			CPUPerOpMs: float64((c1 - c0).Microseconds()) / 1000 / float64(n)}
		for _, e := range errs {
			if e {
				r.Errors++
			}
		}
		fill(&r, lat, time.Since(start))
		rows = append(rows, r)
	}
	return rows, nil
}

// Load measures loading a referral of 10, 50 and 500 commits (each among
// other referrals' commits, as in a real stream), many times.
func Load(ctx context.Context, store *eventstore.Store, sizes []int, times int) ([]Row, error) {
	loader := store.NewLoader(4096)
	c := commitOf(1, 256)
	for _, size := range sizes {
		for i := range size {
			if err := loader.Add(ctx, events.ReferralSubject(fmt.Sprintf("load%d", size)), c); err != nil {
				return nil, err
			}
			for j := range 3 {
				loader.Add(ctx, events.ReferralSubject(fmt.Sprintf("noise%d-%d-%d", size, i, j)), c)
			}
		}
	}
	if err := loader.Wait(ctx); err != nil {
		return nil, err
	}
	var rows []Row
	for _, size := range sizes {
		lat := make([]time.Duration, 0, times)
		start := time.Now()
		for range times {
			t := time.Now()
			got, err := store.Load(ctx, events.ReferralSubject(fmt.Sprintf("load%d", size)))
			if err != nil || len(got) != size {
				return nil, fmt.Errorf("load %d: got %d, %v", size, len(got), err)
			}
			lat = append(lat, time.Since(t))
		}
		r := Row{Group: "aggregate load (batched direct get, decode included)", Name: fmt.Sprintf("referral of %d events", size), Ops: times, Events: times * size}
		fill(&r, lat, time.Since(start))
		rows = append(rows, r)
	}
	return rows, nil
}

// Timers sets n deadlines falling due at the same second, through the real
// saga (receipt, deadline.set, one sentinel schedule per instant), and
// measures for each the time from that second to its breach on record;
// and counts breaches lost and doubled.
func Timers(ctx context.Context, store *eventstore.Store, n int, workers int) (Row, error) {
	// Every deadline must be armed before it falls due: arming (the
	// receipt, carrying its deadline, and the sentinel schedules) runs at
	// roughly 150 referrals a second per saga instance on two cores.
	due := 3*time.Second + time.Duration(n/(150*workers))*time.Second
	policy, _ := deadline.ParsePolicy(fmt.Appendf(nil, `{"version":"bench","routes":{"hotel":{"duration":%q},"entry-authority":{"duration":%q}},"warnBefore":{"duration":%q},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`, due.String(), due.String(), (due - time.Second).String()))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fmu sync.Mutex
	var serverLag []time.Duration // due to fired by the server, breaches only
	// Each worker is an instance as serve runs it (its own views, which
	// tell its saga who is due), all on one store.
	var eng *engine.Engine
	for range workers {
		node, err := wiring.Build(wiring.Config{Store: store, Log: quiet, Deadline: &policy})
		if err != nil {
			return Row{}, err
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
		go node.Run(rctx, wiring.Views, wiring.DeadlineSaga)
	}
	received := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprint("timer", i)
			eng.Handle(ctx, id, aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: id, ReceivedAt: received}, engine.Meta{})
		}()
	}
	wg.Wait()
	armed := time.Since(received)
	fireAt := received.Add(due).Truncate(time.Second).Add(time.Second)
	// Wait past the fire time until every breach is in, or long enough.
	time.Sleep(time.Until(fireAt))
	var lat []time.Duration
	lost, doubled := 0, 0
	deadlineAt := time.Now().Add(5*time.Minute + time.Duration(n)*time.Millisecond)
	for {
		lat, lost, doubled = lat[:0], 0, 0
		for i := range n {
			stored, err := store.Load(ctx, events.ReferralSubject(fmt.Sprint("timer", i)))
			if err != nil {
				return Row{}, err
			}
			b := 0
			for _, st := range stored {
				for _, e := range st.Commit.Events {
					if e.Type == events.TypeDeadlineBreached {
						b++
						lat = append(lat, e.RecordedAt.Sub(fireAt))
					}
				}
			}
			if b == 0 {
				lost++
			} else if b > 1 {
				doubled++
			}
		}
		if lost == 0 || time.Now().After(deadlineAt) {
			break
		}
		// A bounded poll (deadlineAt): the breaches land as the saga
		// records them, and reading them all back is the check.
		time.Sleep(2 * time.Second)
	}
	r := Row{Group: "deadline timers (server-side message schedules)", Name: fmt.Sprintf("%d deadlines due in the same second, %d saga instance(s)", n, workers), Ops: n, Events: n - lost,
		Errors: lost, Note: fmt.Sprintf("lost %d, doubled %d; armed in %s", lost, doubled, armed.Round(time.Millisecond))}
	if doubled > 0 {
		r.Conflicts = doubled
	}
	fill(&r, lat, time.Duration(r.MaxMs*float64(time.Millisecond))+time.Millisecond)
	r.EventsPerSec = 0
	fmu.Lock()
	var s Row
	fill(&s, serverLag, time.Second)
	fmu.Unlock()
	r.Note += fmt.Sprintf("; of which the server's firing (due to fired message stored): p50 %.0f ms, p99 %.0f ms, max %.0f ms", s.P50ms, s.P99ms, s.MaxMs)
	return r, nil
}
