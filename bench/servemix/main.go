// Command servemix offers the issue-17 command mix to a running ntsflow serve at a
// fixed rate, open loop, and reports latency, errors and serve's CPU per
// command (from /proc/PID/stat): the issue-17 measurement of serve as a
// whole (API, engine, views, sagas, publisher and embedded server). See
// BENCHMARKS.md for how it is run against fresh serves.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func cpu(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		panic(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

const receive = `{"receivingAuthority":"E08000007","route":"hotel","hotel":"Hotel A","childReference":"HO-123","claimedAge":15,"receivedAt":"2025-06-02T10:00:00Z","languages":["Pashto"]}`

var steps = []struct{ path, body string }{
	{"notifications", `{"professions":["commissioning","placements","fostering"],"notifiedBy":"team leader"}`},
	{"placement-searches", `{"track":"in-house","offersFound":0}`},
	{"placement-searches", `{"track":"commissioned","offersFound":2,"placementTypes":["U4","H5"]}`},
	{"placement", `{"placementType":"U4","provider":"Independent fostering agency","placedAt":"2025-06-05T09:30:00Z"}`},
}

type slot struct {
	mu   sync.Mutex
	id   string
	step int
	busy bool
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "")
	pid := flag.Int("pid", 0, "serve's pid")
	rate := flag.Int("rate", 300, "commands/s")
	dur := flag.Duration("for", 10*time.Second, "")
	nslots := flag.Int("slots", 1000, "referrals in flight")
	label := flag.String("label", "", "")
	flag.Parse()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}, Timeout: 10 * time.Second}
	slots := make([]*slot, *nslots)
	for i := range slots {
		slots[i] = &slot{}
	}
	post := func(path, body string) (int, []byte) {
		res, err := client.Post(*base+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	n := int(float64(*rate) * dur.Seconds())
	interval := time.Second / time.Duration(*rate)
	lat := make([]time.Duration, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	c0 := cpu(*pid)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		s := slots[i%len(slots)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.mu.Lock()
			mine := !s.busy
			step, id := s.step, s.id
			if mine {
				s.busy = true
			}
			s.mu.Unlock()
			var code int
			if !mine || step == 0 {
				var b []byte
				code, b = post("/v1/referrals", receive)
				if mine {
					var r struct {
						ReferralID string `json:"referralId"`
					}
					json.NewDecoder(bytes.NewReader(b)).Decode(&r)
					s.mu.Lock()
					if code == 201 && r.ReferralID != "" {
						s.id, s.step = r.ReferralID, 1
					}
					s.busy = false
					s.mu.Unlock()
				}
			} else {
				st := steps[step-1]
				code, _ = post("/v1/referrals/"+id+"/"+st.path, st.body)
				s.mu.Lock()
				s.step++
				if s.step > len(steps) {
					s.step = 0
				}
				s.busy = false
				s.mu.Unlock()
			}
			lat[i] = time.Since(due)
			codes[i] = code
		}()
	}
	wg.Wait()
	took := time.Since(start)
	used := cpu(*pid) - c0
	errs := map[int]int{}
	ok := 0
	for _, c := range codes {
		if c == 200 || c == 201 {
			ok++
		} else {
			errs[c]++
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("%s rate %d/s: sent %d in %.1fs, ok %d, errors %v; p50 %.2f p95 %.2f p99 %.2f max %.2f ms; serve CPU %.3f ms/command (%.2f cores)\n",
		*label, *rate, n, took.Seconds(), ok, errs, q(.5), q(.95), q(.99), float64(lat[len(lat)-1].Microseconds())/1000, float64(used.Microseconds())/1000/float64(n), used.Seconds()/took.Seconds())
}
