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

// Timers sets n deadlines falling due at the same second (TimerBurst),
// just after the raw floors on the same store, and returns its row.
func Timers(ctx context.Context, store *eventstore.Store, n int, workers int) (Row, error) {
	r, err := TimerBurst(ctx, store, TimerOptions{N: n, Instances: workers, Raw: true})
	return r.Row, err
}
