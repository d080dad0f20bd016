package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/simulate"
	"github.com/ntsflow/ntsflow/wiring"
)

// TestMeasureMigration times a migration of a realistic log, for
// BENCHMARKS.md and the closing note: NTSFLOW_MEASURE_MIGRATION=N
// generated referrals (the simulate generator: dates of birth, needs,
// missing episodes; none referred into a region, whose allocation is
// a command on two aggregates the engine takes apart) recorded by an engine
// with no key store, as before sealing, then migrated in process. Not run
// otherwise: it takes minutes.
func TestMeasureMigration(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("NTSFLOW_MEASURE_MIGRATION"))
	if n == 0 {
		t.Skip("set NTSFLOW_MEASURE_MIGRATION=referrals to measure")
	}
	node := storetest.Start(t, storetest.Options{Durable: true})
	key := bytes.Repeat([]byte{3}, 32)
	if err := os.WriteFile(filepath.Join(node.Dir, eventstore.ChainKeyFileName), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := wiring.Build(wiring.Config{Store: node.Store, ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	w.Engine.Keys = nil // as before sealing
	var codes []string
	for _, a := range refdata.Default().Authorities() {
		codes = append(codes, a.Code)
	}
	lcs := simulate.Generate(simulate.Options{Seed: 24, Referrals: n, Start: time.Now().AddDate(0, 0, -90), Span: 60 * 24 * time.Hour, Authorities: codes,
		IDPrefix: "m-", DatesOfBirth: true, MissingPercent: 8})
	start := time.Now()
	work := make(chan simulate.Lifecycle)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lc := range work {
				for _, s := range lc.Steps {
					_, err := w.Engine.Handle(context.Background(), s.ReferralID, s.Command, engine.Meta{Actor: "measure"})
					if _, refused := errors.AsType[*aggregates.Refusal](err); err != nil && !refused {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for _, lc := range lcs {
		work <- lc
	}
	close(work)
	wg.Wait()
	ctx := context.Background()
	last, _ := node.Store.LastSequence(ctx)
	t.Logf("recorded %d referrals, %d commits, unsealed, in %s", n, last, time.Since(start).Round(time.Millisecond))
	dir := node.Dir
	node.Stop()

	var out, errb bytes.Buffer
	start = time.Now()
	code := run([]string{"migrate-personal-data", "--data-dir", dir, "--manifest", filepath.Join(t.TempDir(), "manifest.json")}, &out, &errb)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("stderr:\n%s", errb.String())
	t.Logf("migrate-personal-data: %s (whole command, server start included: %s, %.0f commits/s)", out.String(), took.Round(time.Millisecond), float64(last)/took.Seconds())
	out.Reset()
	start = time.Now()
	if code := run([]string{"verify", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out.String())
	}
	t.Logf("verify after: %s", time.Since(start).Round(time.Millisecond))
}
