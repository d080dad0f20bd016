// Package bench measures the engine against raw JetStream in the same run
// on the same server: each figure beside its baseline. It owns the
// harnesses `ntsflow bench` runs on an operator's hardware: the engine in
// process on an embedded server, and serve as a whole, started as a child
// process and offered the issue-17 HTTP mix, with its CPU read from /proc
// and its fsyncs counted with strace. The tests here, and TestBenchQuick
// in cmd/ntsflow, run a seconds-long smoke of each harness in CI, checking
// that it works, never the figures.
//
//ntsflow:shell
package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/simulate"
	"github.com/ntsflow/ntsflow/views"
)

// Authorities the generated referrals go to: every authority, so views
// have realistic cardinality.
func authorities() []string {
	var out []string
	for _, a := range refdata.Default().Authorities() {
		out = append(out, a.Code)
	}
	return out
}

// LoadHistory writes a generated history of at least events events (many
// referrals through their lifecycle, decided by the real deciders) into an
// empty store. Same seed, same history.
func LoadHistory(ctx context.Context, store *eventstore.Store, seed uint64, events int, progress io.Writer) (nEvents, nCommits int, err error) {
	cal := calendar.Default()
	policy := deadline.DefaultPolicy()
	now := time.Now()
	loader := store.NewLoader(8192)
	start, last := time.Now(), time.Now()
	for chunk := uint64(0); nEvents < events; chunk++ {
		lcs := simulate.Generate(simulate.Options{Seed: seed + chunk, Referrals: 1000, Start: now.AddDate(0, -14, 0), Span: 365 * 24 * time.Hour,
			Authorities: authorities(), Calendar: cal, IDPrefix: fmt.Sprintf("b%d-", chunk), ReferredPercent: 30, DatesOfBirth: true, MissingPercent: 5})
		hist := simulate.NewHistorian(policy, cal, now)
		for _, lc := range lcs {
			commits, err := hist.History(lc)
			if err != nil {
				return nEvents, nCommits, err
			}
			for _, c := range commits {
				if err := loader.Add(ctx, c.Subject, c.Commit); err != nil {
					return nEvents, nCommits, err
				}
				nCommits++
				nEvents += len(c.Commit.Events)
			}
		}
		if progress != nil && time.Since(last) > 2*time.Second {
			last = time.Now()
			fmt.Fprintf(progress, "loading history: %d/%d events, %.0f events/s\n", nEvents, events, float64(nEvents)/time.Since(start).Seconds())
		}
	}
	if err := loader.Wait(ctx); err != nil {
		return nEvents, nCommits, err
	}
	if last, err := store.LastSequence(ctx); err != nil || last != uint64(nCommits) {
		return nEvents, nCommits, fmt.Errorf("loaded %d commits, the stream holds %d (%v)", nCommits, last, err)
	}
	return nEvents, nCommits, nil
}

// RebuildRow is one rebuild measurement.
type RebuildRow struct {
	Name         string  `json:"name"`
	Commits      uint64  `json:"commits"`
	Events       uint64  `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSecond"`
	RatioToRaw   float64 `json:"ratioToRaw"`
}

// Rebuild measures a raw ordered-consumer read of the whole stream (the
// baseline: no decoding) and then a fold from zero of each view, over the
// same stream in the same run.
func Rebuild(ctx context.Context, store *eventstore.Store, events uint64) ([]RebuildRow, error) {
	last, err := store.LastSequence(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	msgs, _, err := store.CountRaw(ctx, last)
	if err != nil {
		return nil, err
	}
	raw := RebuildRow{Name: "raw JetStream ordered consumer (no decoding)", Commits: msgs, Events: events, Seconds: time.Since(start).Seconds()}
	raw.EventsPerSec = float64(events) / raw.Seconds
	raw.RatioToRaw = 1
	rows := []RebuildRow{raw}
	cal := calendar.Default()
	for _, name := range views.Names() {
		start := time.Now()
		_, st, err := views.FoldNamed(ctx, store, cal, name, views.FoldOptions{UpTo: last})
		if err != nil {
			return rows, err
		}
		applied := st.Applied
		r := RebuildRow{Name: "rebuild " + name, Commits: last, Events: applied, Seconds: time.Since(start).Seconds()}
		r.EventsPerSec = float64(applied) / r.Seconds
		r.RatioToRaw = r.EventsPerSec / raw.EventsPerSec
		rows = append(rows, r)
	}
	return rows, nil
}
