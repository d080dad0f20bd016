package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The issue-17 mix, as an outside harness offers it to serve over HTTP:
// each referral is received, its professionals notified, an in-house
// search and a commissioned search recorded, and the child placed, one
// command at a time. Times are the sending moment's, so a referral's
// deadline lies days ahead, as a new referral's does (a referral received
// in the past would have the deadline saga record breaches at once, work
// a live referral does not cause).
var mixSteps = []struct {
	name string
	path string // after /v1/referrals/{id}/; "" is the receipt
	body func(now string) string
}{
	{"receive", "", func(now string) string {
		return `{"receivingAuthority":"E08000007","route":"hotel","hotel":"Hotel A","childReference":"HO-123","claimedAge":15,"receivedAt":"` + now + `","languages":["Pashto"]}`
	}},
	{"notify", "notifications", func(string) string {
		return `{"professions":["commissioning","placements","fostering"],"notifiedBy":"team leader"}`
	}},
	{"in-house search", "placement-searches", func(string) string { return `{"track":"in-house","offersFound":0}` }},
	{"commissioned search", "placement-searches", func(string) string {
		return `{"track":"commissioned","offersFound":2,"placementTypes":["U4","H5"]}`
	}},
	{"place", "placement", func(now string) string {
		return `{"placementType":"U4","provider":"Independent fostering agency","placedAt":"` + now + `"}`
	}},
}

// MixResult is what one window of the mix saw from the client's side.
type MixResult struct {
	Rate int
	Sent int
	// Accepted counts the answers 200 and 201; ByStep counts them by the
	// mix's step.
	Accepted int
	ByStep   map[string]int
	// Errors by kind: "timeout", "connection", or "HTTP <status>".
	Errors map[string]int
	// Replaced counts follow-ups sent as receipts instead, because their
	// referral's previous command had not yet been answered (sending them
	// would only measure 404s and conflicts).
	Replaced int
	// Latency of every command from the instant it was due to be sent, so
	// a stall is charged to every command it delays (no coordinated
	// omission).
	Latency []time.Duration
	// Took runs from the first due instant to the last answer.
	Took time.Duration
}

// OfferMix offers the mix to the API at base for window at rate commands a
// second, open loop: each command is sent at its instant whether or not
// earlier ones have been answered. Each referral in flight gets its next
// command gap after its last, so rate × gap referrals are in flight; gap 0
// is a tenth of the window, which takes each referral through the mix
// twice and makes each command a fifth of those sent, at every rate and
// window. (With a fixed number in flight, short windows at low rates never
// reach the later commands: 1,000 referrals at 300/s for 10 s get three
// commands each.)
func OfferMix(ctx context.Context, base string, rate int, window, gap time.Duration) MixResult {
	if gap <= 0 {
		gap = window / 10
	}
	slots := make([]*mixSlot, max(1, int(float64(rate)*gap.Seconds())))
	for i := range slots {
		slots[i] = &mixSlot{}
	}
	return offerMix(ctx, base, rate, window, slots)
}

// mixSlot is one referral the mix takes through its steps: id and the
// step its next command is (0, a receipt: a new referral).
type mixSlot struct {
	mu   sync.Mutex
	id   string
	step int
	busy bool
}

// ColdReferral is a referral seeded for the cold mix: its id and the step
// of the mix its next command is.
type ColdReferral struct {
	ID   string
	Step int
}

// OfferColdMix offers the mix as OfferMix does, but over referrals seeded
// beforehand (SeedCold), in turn: each referral's next command comes only
// after a command to every other, so with ten times as many referrals as
// the engine's cache holds, every follow-up loads its referral from the
// store, as a step taken hours or days after the last one does in life.
func OfferColdMix(ctx context.Context, base string, rate int, window time.Duration, referrals []ColdReferral) MixResult {
	slots := make([]*mixSlot, len(referrals))
	for i, r := range referrals {
		slots[i] = &mixSlot{id: r.ID, step: r.Step}
	}
	return offerMix(ctx, base, rate, window, slots)
}

// mixPost posts body to base+path and reads the answer.
func mixPost(client *http.Client, base, path, body string) (int, []byte, error) {
	res, err := client.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func newMixClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}, Timeout: 10 * time.Second}
}

// offerMix sends rate commands a second for window, the i-th to slot i
// modulo the slots.
func offerMix(ctx context.Context, base string, rate int, window time.Duration, slots []*mixSlot) MixResult {
	client := newMixClient()
	defer client.CloseIdleConnections()
	post := func(path, body string) (int, []byte, error) { return mixPost(client, base, path, body) }
	n := int(float64(rate) * window.Seconds())
	interval := time.Second / time.Duration(rate)
	res := MixResult{Rate: rate, ByStep: map[string]int{}, Errors: map[string]int{}, Latency: make([]time.Duration, 0, n)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(due)):
		}
		if ctx.Err() != nil {
			break
		}
		res.Sent++
		s := slots[i%len(slots)]
		wg.Go(func() {
			s.mu.Lock()
			mine := !s.busy
			step, id := s.step, s.id
			if mine {
				s.busy = true
			}
			s.mu.Unlock()
			now := time.Now().UTC().Format(time.RFC3339Nano)
			path := "/v1/referrals"
			if mine && step > 0 {
				path += "/" + id + "/" + mixSteps[step].path
			} else {
				step = 0
			}
			code, body, err := post(path, mixSteps[step].body(now))
			lat := time.Since(due)
			ok := err == nil && (code == http.StatusOK || code == http.StatusCreated)
			if mine {
				s.mu.Lock()
				switch {
				case step == 0:
					var r struct {
						ReferralID string `json:"referralId"`
					}
					json.NewDecoder(bytes.NewReader(body)).Decode(&r)
					if ok && r.ReferralID != "" {
						s.id, s.step = r.ReferralID, 1
					}
				case ok:
					s.step = (s.step + 1) % len(mixSteps)
				default:
					// A follow-up that failed starts a new referral
					// rather than retrying into the same failure.
					s.step = 0
				}
				s.busy = false
				s.mu.Unlock()
			}
			mu.Lock()
			defer mu.Unlock()
			res.Latency = append(res.Latency, lat)
			if !mine {
				res.Replaced++
			}
			switch {
			case ok:
				res.Accepted++
				res.ByStep[mixSteps[step].name]++
			case err != nil:
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					res.Errors["timeout"]++
				} else {
					res.Errors["connection"]++
				}
			default:
				res.Errors[fmt.Sprintf("HTTP %d", code)]++
			}
		})
	}
	wg.Wait()
	res.Took = time.Since(start)
	return res
}

// stepCounts lists the accepted commands by step, in the mix's order.
func (m MixResult) stepCounts() string {
	var parts []string
	for _, s := range mixSteps {
		parts = append(parts, fmt.Sprintf("%s %d", s.name, m.ByStep[s.name]))
	}
	return strings.Join(parts, ", ")
}

func (m MixResult) errorKinds() string {
	if len(m.Errors) == 0 {
		return "none"
	}
	var kinds []string
	for k := range m.Errors {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, m.Errors[k]))
	}
	return strings.Join(parts, ", ")
}

// SeedCold prepares the cold mix on the serve at base: n referrals, the
// j-th taken through j modulo 5 of the mix's steps (none: its next command
// is a receipt), so that offered in turn their next commands are a fifth
// each of the mix's steps. Closed loop, workers at a time; any command
// refused stops the seeding with the reason, since a seed with holes would
// measure 404s instead of loads.
func SeedCold(ctx context.Context, base string, n, workers int) ([]ColdReferral, error) {
	out := make([]ColdReferral, n)
	client := newMixClient()
	defer client.CloseIdleConnections()
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				r := ColdReferral{Step: j % len(mixSteps)}
				for step := range r.Step {
					path := "/v1/referrals"
					if step > 0 {
						path += "/" + r.ID + "/" + mixSteps[step].path
					}
					code, body, err := mixPost(client, base, path, mixSteps[step].body(time.Now().UTC().Format(time.RFC3339Nano)))
					if err == nil && code != http.StatusOK && code != http.StatusCreated {
						err = fmt.Errorf("answered %d: %s", code, bytes.TrimSpace(body))
					}
					if err == nil && step == 0 {
						var res struct {
							ReferralID string `json:"referralId"`
						}
						if err = json.Unmarshal(body, &res); err == nil && res.ReferralID == "" {
							err = errors.New("the receipt's answer has no referralId")
						}
						r.ID = res.ReferralID
					}
					if err != nil {
						errs <- fmt.Errorf("seeding referral %d of %d, %s: %w", j+1, n, mixSteps[step].name, err)
						return
					}
				}
				out[j] = r
			}
		})
	}
	var err error
feed:
	for j := range n {
		select {
		case jobs <- j:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs // nil once closed and empty
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
