package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/simulate"
)

// commandPath is where each command goes in the API.
func commandPath(c aggregates.Command) string {
	switch c.(type) {
	case aggregates.NotifyProfessionals:
		return "notifications"
	case aggregates.RecordPlacementSearch:
		return "placement-searches"
	case aggregates.RequestAgeAssessment:
		return "age-assessment-requests"
	case aggregates.RecordAgeAssessment:
		return "age-assessments"
	case aggregates.Place:
		return "placement"
	case aggregates.Withdraw:
		return "withdrawal"
	case aggregates.RecordLeftCare:
		return "leaving-care"
	case aggregates.Allocate:
		return "allocation"
	case aggregates.AcceptAllocation:
		return "acceptance"
	case aggregates.ReportMissing:
		return "missing-episodes"
	case aggregates.RecordReturn:
		return "missing-episodes/returned"
	case aggregates.RecordStrategyDiscussion:
		return "missing-episodes/strategy-discussion"
	case aggregates.RecordReturnInterview:
		return "missing-episodes/return-interview"
	}
	return ""
}

var cmdSimulate = &Command{
	Name:      "simulate",
	UsageLine: "simulate [--server URL] [--referrals N] [--seed S]",
	Short:     "drive a running engine with generated referrals, for demos",
	Long: `Drives a running engine for demos: generated referrals (the seeded generator the
tests and benchmarks use) go through realistic lifecycles over the API: most
placed in 2 to 8 working days, some late, some age-assessed, some withdrawn,
some left open; every child with a date of birth, and some placed children
missing after their placement (--missing-percent), most returning. Each command carries an idempotency key derived from the seed,
so running it twice records nothing twice. About 30% are referred into the scheme
for their region instead, allocated by the rota and accepted (this needs an
engine without --tokens, or a token that may both allocate and accept).`,
	Flags: func(fs *flag.FlagSet) runFunc {
		engine := engineFlags(fs, "the running engine", "bearer token, if the engine has --tokens (a region or authority role that may write)")
		n := fs.Int("referrals", 100, "how many referrals")
		seed := fs.Uint64("seed", 1, "generator seed: the same seed gives the same history")
		days := fs.Int("days", 60, "spread the referrals' receipt over this many past days")
		workers := fs.Int("concurrency", 4, "referrals driven at once")
		missing := fs.Int("missing-percent", 8, "of the placed children, how many go missing after the placement (0 to 100)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := engine.ready(); err != nil {
				return err
			}
			var codes []string
			for _, a := range refdata.Default().Authorities() {
				codes = append(codes, a.Code)
			}
			lcs := simulate.Generate(simulate.Options{Seed: *seed, Referrals: *n, Start: time.Now().AddDate(0, 0, -*days-20), Span: time.Duration(*days) * 24 * time.Hour, Authorities: codes, IDPrefix: fmt.Sprintf("sim%d-", *seed), ReferredPercent: 30,
				DatesOfBirth: true, MissingPercent: *missing})
			engine.http.Timeout = 30 * time.Second
			var sent, already, refused, failed atomic.Int64
			post := func(path, key string, body any) (string, bool) {
				b, _ := json.Marshal(body)
				req := engine.request(ctx, "POST", path, bytes.NewReader(b))
				req.Header.Set("Idempotency-Key", key)
				req.Header.Set("X-Actor", "simulate")
				res, err := engine.http.Do(req)
				if err != nil {
					failed.Add(1)
					return "", false
				}
				defer res.Body.Close()
				out, _ := io.ReadAll(res.Body)
				replayed := res.Header.Get("Idempotent-Replayed") == "true"
				switch {
				case replayed:
					already.Add(1) // a run with the same seed: the engine returned the first outcome
					if res.StatusCode < 300 {
						var r struct{ ReferralID string }
						json.Unmarshal(out, &r)
						return r.ReferralID, true
					}
				case res.StatusCode < 300:
					sent.Add(1)
					var r struct{ ReferralID string }
					json.Unmarshal(out, &r)
					return r.ReferralID, true
				case res.StatusCode < 500:
					refused.Add(1) // the rules said no: a generated step that does not apply
				default:
					failed.Add(1)
				}
				return "", false
			}
			start := time.Now()
			work := make(chan simulate.Lifecycle)
			var wg sync.WaitGroup
			for range *workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for lc := range work {
						id, ok := post("/v1/referrals", lc.ReferralID+"-0", lc.Steps[0].Command)
						if !ok {
							continue
						}
						for i, s := range lc.Steps[1:] {
							post("/v1/referrals/"+id+"/"+commandPath(s.Command), fmt.Sprintf("%s-%d", lc.ReferralID, i+1), s.Command)
						}
						for i, c := range lc.Care {
							post("/v1/referrals/"+id+"/"+commandPath(c), fmt.Sprintf("%s-care-%d", lc.ReferralID, i), c)
						}
					}
				}()
			}
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
		feed:
			for i, lc := range lcs {
				select {
				case work <- lc:
				case <-ctx.Done():
					break feed
				case <-tick.C:
					fmt.Fprintf(stderr, "simulate: %d/%d referrals, %d commands recorded, %.0f/s\n", i, len(lcs), sent.Load(), float64(sent.Load())/time.Since(start).Seconds())
					select {
					case work <- lc:
					case <-ctx.Done():
						break feed
					}
				}
			}
			close(work)
			wg.Wait()
			fmt.Fprintf(stdout, "simulated %d referrals: %d commands recorded, %d already recorded (same idempotency key), %d refused by the rules, %d failed, in %s\n", len(lcs), sent.Load(), already.Load(), refused.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))
			if err := ctx.Err(); err != nil {
				return err // interrupted
			}
			if failed.Load() > 0 {
				return exitWith(1, nil) // the failures are counted above
			}
			return nil
		}
	},
}
