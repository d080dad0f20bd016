package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// Issue 24, item 6: the read audit must not slow commands. Commands (one
// placement search each, over HTTP, on a durable embedded store as serve
// runs it) while two readers read referrals as fast as they can, with the
// read audit off and on, in the same run:
//
//	go test -run '^$' -bench BenchmarkCommandsBesideReads -benchtime 3000x -count 3 ./api/
func BenchmarkCommandsBesideReads(b *testing.B) {
	for _, audited := range []bool{false, true} {
		name := "read-audit=off"
		if audited {
			name = "read-audit=on"
		}
		b.Run(name, func(b *testing.B) {
			n := storetest.Start(b, storetest.Options{Durable: true})
			node := buildNode(b, n, wiring.Config{Log: slog.New(slog.DiscardHandler), NoViews: true}, wiring.ReadAudit)
			if !audited {
				node.API.Reads = nil
			}
			ts := httptest.NewServer(node.API.Handler())
			b.Cleanup(ts.Close)
			client := ts.Client()
			send := func(method, url, body string) int {
				req, _ := http.NewRequest(method, url, strings.NewReader(body))
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			var ids []string
			for range 20 {
				res, err := client.Post(ts.URL+"/v1/referrals", "application/json", strings.NewReader(receiveBody))
				if err != nil {
					b.Fatal(err)
				}
				var out struct{ ReferralID string }
				json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode != 201 || out.ReferralID == "" {
					b.Fatalf("receive: %d", res.StatusCode)
				}
				ids = append(ids, out.ReferralID)
			}
			ctx, stop := context.WithCancel(context.Background())
			var reads atomic.Int64
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; ctx.Err() == nil; i++ {
						if send("GET", ts.URL+"/v1/referrals/"+ids[i%len(ids)], "") == 200 {
							reads.Add(1)
						}
					}
				}()
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if s := send("POST", ts.URL+"/v1/referrals/"+ids[i%len(ids)]+"/placement-searches", `{"track":"in-house","offersFound":0}`); s != 200 {
					b.Fatalf("command: %d", s)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			wg.Wait()
			b.ReportMetric(float64(reads.Load())/elapsed.Seconds(), "reads/s")
			if audited {
				st := node.Reads.Stats()
				b.ReportMetric(float64(st.Direct), "direct-writes")
				if st.Failed > 0 {
					b.Fatalf("%d reads not recorded", st.Failed)
				}
			}
		})
	}
}
