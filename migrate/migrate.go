// Package migrate is `ntsflow migrate-personal-data`: the forward migration
// of events written before sealing existed (issue 24), whose children's
// personal fields are in the clear in a log that cannot forget them. It
// copies the log into a working stream with those fields sealed under each
// child's key and the affected chains computed again, checks the copy,
// then swaps it in for the events stream, keeping every stream sequence
// and every durable consumer's position. The engine must be stopped.
//
// Every step can be cut short (kill -9) and the next run finishes it: the
// streams that exist, their metadata and their last sequences say where it
// stopped, and at every moment one complete copy of the log exists
// (docs/design/privacy.md, "Plaintext written before this issue").
//
//ntsflow:shell
package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Metadata the migration keeps on the working stream (and, while it fills
// it, on the new events stream), so that a run after a crash knows what
// the first one knew.
const (
	metaState     = "ntsflow.migration.state" // copying, checked
	metaSource    = "ntsflow.migration.source-last-sequence"
	metaConfig    = "ntsflow.migration.events-config"
	metaConsumers = "ntsflow.migration.consumers"
	metaManifest  = "ntsflow.migration.manifest"
	metaFilling   = "ntsflow.migration.filling"

	stateCopying = "copying"
	stateChecked = "checked"
)

// Options of a run.
type Options struct {
	// ChainKey keys the HMAC chain (as for verify).
	ChainKey []byte
	// DryRun reports what a run would do and changes nothing.
	DryRun bool
	// Manifest is where the record of the re-chained aggregates is written.
	Manifest string
	// Progress, if set, hears of long work about once a second.
	Progress io.Writer
	Log      *slog.Logger
	// Step, if set, is told of each step as it is reached: the crash tests
	// kill the process there.
	Step func(name string)
}

// Steps, in order, as Options.Step hears of them.
const (
	StepWorkingCreated    = "working-created"
	StepCopyHalf          = "copy-half"
	StepCopied            = "copied"
	StepChecked           = "checked"
	StepEventsDeleted     = "events-deleted"
	StepFillHalf          = "fill-half"
	StepFilled            = "filled"
	StepConsumersRestored = "consumers-restored"
	StepSnapshotsDeleted  = "snapshots-deleted"
	StepWorkingDeleted    = "working-deleted"
)

// Steps lists the steps in order.
var Steps = []string{StepWorkingCreated, StepCopyHalf, StepCopied, StepChecked, StepEventsDeleted, StepFillHalf, StepFilled,
	StepConsumersRestored, StepSnapshotsDeleted, StepWorkingDeleted}

// Outcome says what a run did.
type Outcome string

const (
	NothingToDo Outcome = "nothing to do"
	DryRun      Outcome = "dry run"
	Migrated    Outcome = "migrated"
)

// Count is what the migration finds, or would do.
type Count struct {
	Commits uint64 `json:"commits"`
	Events  uint64 `json:"events"`
	// Plaintext counts the events holding a child's personal fields in the
	// clear; Disposed those of them whose child was disposed of (their
	// fields are dropped, not sealed).
	Plaintext uint64 `json:"plaintextEvents"`
	Disposed  uint64 `json:"disposedEvents"`
	// Children with such events.
	Children int `json:"children"`
	// Rechained counts the events written again only for the chain;
	// Aggregates the aggregates whose chains change.
	Rechained  uint64 `json:"rechainedEvents"`
	Aggregates int    `json:"aggregates"`
	// RewrittenCommits are written anew; the others are copied byte for
	// byte.
	RewrittenCommits uint64 `json:"rewrittenCommits"`
	// Bytes is the events stream's size: the copy needs about as much
	// again free while it runs.
	Bytes uint64 `json:"bytes"`
}

// Result of a run.
type Result struct {
	Outcome Outcome `json:"outcome"`
	Count   Count   `json:"count"`
	// Resumed: the run finished what an earlier one had begun.
	Resumed bool `json:"resumed,omitempty"`
	// Manifest is where the record of the re-chained chains is.
	Manifest string        `json:"manifest,omitempty"`
	Took     time.Duration `json:"took"`
}

// Manifest is the record an auditor links a pre-migration backup's chains
// to the new ones with: per re-chained aggregate, the head of its chain
// before and after, and the first sequence re-chained. No personal data.
type Manifest struct {
	Kind         string    `json:"kind"`
	CopiedAt     time.Time `json:"copiedAt"`
	LastSequence uint64    `json:"lastSequence"`
	Count        Count     `json:"count"`
	Aggregates   []Chain   `json:"aggregates"`
}

// Chain is one re-chained aggregate.
type Chain struct {
	// Aggregate is the subject less its prefix (as verify names it).
	Aggregate     string `json:"aggregate"`
	FirstSequence uint64 `json:"firstSequence"`
	OldHead       string `json:"oldHead"`
	NewHead       string `json:"newHead"`
}

// ManifestKind names the manifest's format.
const ManifestKind = "ntsflow personal data migration, v1"

// Run migrates the log in store (opened with the key store, engine
// stopped), or finishes a migration cut short.
func Run(ctx context.Context, store *eventstore.Store, o Options) (Result, error) {
	start := time.Now()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Step == nil {
		o.Step = func(string) {}
	}
	r := &run{store: store, o: o}
	res, err := r.run(ctx)
	res.Took = time.Since(start)
	return res, err
}

type run struct {
	store *eventstore.Store
	o     Options
}

func (r *run) run(ctx context.Context) (Result, error) {
	ev, err := r.store.Facts(ctx, eventstore.EventsStream)
	if err != nil {
		return Result{}, err
	}
	wk, err := r.store.Facts(ctx, eventstore.MigrationStream)
	if err != nil {
		return Result{}, err
	}
	switch {
	case wk == nil && ev == nil:
		return Result{}, errors.New("there is no events stream (" + eventstore.EventsStream + ") here: nothing to migrate")
	case wk == nil && ev.Metadata[metaFilling] != "":
		// Cut short after the working copy was removed: only the events
		// stream's own configuration is left to give back.
		if r.o.DryRun {
			return Result{Outcome: DryRun, Resumed: true}, nil
		}
		r.o.Log.Info("finishing a migration cut short: giving the events stream its configuration back")
		return Result{Outcome: Migrated, Resumed: true, Manifest: ev.Metadata[metaManifest]}, r.store.RestoreEventsStream(ctx, json.RawMessage(ev.Metadata[metaFilling]))
	case wk != nil && wk.Metadata[metaState] != stateChecked:
		// A copy cut short, or not yet checked: the events stream is as it
		// was, so the copy is made afresh.
		if r.o.DryRun {
			return r.fresh(ctx, ev)
		}
		r.o.Log.Warn("a working copy from a run cut short was never checked: deleting it and copying again", "stream", eventstore.MigrationStream, "last_sequence", wk.LastSeq)
		if err := r.store.DeleteStream(ctx, eventstore.MigrationStream); err != nil {
			return Result{}, err
		}
		return r.fresh(ctx, ev)
	case wk == nil:
		return r.fresh(ctx, ev)
	}
	// A checked copy: the swap had begun, or was about to.
	res := Result{Outcome: Migrated, Resumed: true, Manifest: wk.Metadata[metaManifest]}
	if r.o.DryRun {
		res.Outcome = DryRun
		return res, nil
	}
	r.o.Log.Info("finishing a migration cut short", "manifest", res.Manifest)
	return res, r.swap(ctx, ev, wk)
}

// fresh migrates a log no run has yet begun on.
func (r *run) fresh(ctx context.Context, ev *eventstore.StreamFacts) (Result, error) {
	if ev == nil {
		return Result{}, errors.New("there is no events stream (" + eventstore.EventsStream + ") here: nothing to migrate")
	}
	if ev.Deleted > 0 || (ev.Msgs > 0 && ev.FirstSeq != 1) {
		return Result{}, fmt.Errorf("the events stream has %d deleted messages (sequences %d to %d hold %d): the migration keeps every sequence, since appends, checkpoints and voids refer to them, and cannot copy a stream with gaps; nothing was changed", ev.Deleted, ev.FirstSeq, ev.LastSeq, ev.Msgs)
	}
	consumers, err := r.store.DurableConsumers(ctx, eventstore.EventsStream)
	if err != nil {
		return Result{}, err
	}
	for _, c := range consumers {
		if c.InUse {
			return Result{}, fmt.Errorf("consumer %s is being read from: an engine is running on this store; stop every engine first (nothing was changed)", c.Name)
		}
	}
	r.o.Log.Info("verifying the log's chains before anything else", "commits", ev.LastSeq)
	rep, err := audit.Verify(ctx, r.store, r.o.ChainKey, r.progress("verify"))
	if err != nil {
		return Result{}, fmt.Errorf("verify the log: %w", err)
	}
	if !rep.OK() {
		p := rep.Problems[0]
		return Result{}, fmt.Errorf("the log does not verify (%s; the first, at sequence %d of %s: %s, %s): run 'ntsflow verify' for all of them and settle them first; nothing was changed", problems(len(rep.Problems)), p.Sequence, p.Aggregate, p.Kind, p.Detail)
	}
	voided := map[uint64]bool{}
	for _, v := range rep.Voided {
		voided[v.Sequence] = true
	}
	c := newCopier(r, voided)
	if r.o.DryRun {
		if err := c.walk(ctx, ev.LastSeq, nil); err != nil {
			return Result{}, err
		}
		c.count.Bytes = ev.Bytes
		return Result{Outcome: DryRun, Count: c.count}, nil
	}
	// Counted first, so that a log with nothing in the clear is left
	// untouched: a second run does nothing.
	if err := c.walk(ctx, ev.LastSeq, nil); err != nil {
		return Result{}, err
	}
	c.count.Bytes = ev.Bytes
	if c.count.Plaintext == 0 {
		r.o.Log.Info("no event holds a child's personal fields in the clear: nothing to do", "commits", c.count.Commits)
		return Result{Outcome: NothingToDo, Count: c.count}, nil
	}
	r.o.Log.Info("copying the log, sealed and re-chained", "plaintext_events", c.count.Plaintext, "children", c.count.Children, "aggregates", c.count.Aggregates, "commits", ev.LastSeq)
	cons, _ := json.Marshal(consumers)
	if err := r.store.CreateMigrationStream(ctx, ev.Config, map[string]string{
		metaState: stateCopying, metaSource: strconv.FormatUint(ev.LastSeq, 10), metaConfig: string(ev.Config), metaConsumers: string(cons),
	}); err != nil {
		return Result{}, err
	}
	r.o.Step(StepWorkingCreated)
	copied := newCopier(r, voided)
	if err := copied.walk(ctx, ev.LastSeq, r.store.SequenceWriter(eventstore.MigrationStream)); err != nil {
		return Result{}, err
	}
	copied.count.Bytes = ev.Bytes
	r.o.Step(StepCopied)
	if err := copied.check(ctx, ev.LastSeq); err != nil {
		return Result{}, fmt.Errorf("the copy does not check, so nothing was swapped (the events stream is as it was; the working copy %s is deleted by the next run): %w", eventstore.MigrationStream, err)
	}
	man := copied.manifest(ev.LastSeq)
	path := r.o.Manifest
	if err := writeManifest(path, man); err != nil {
		return Result{}, fmt.Errorf("write the manifest (nothing was swapped): %w", err)
	}
	if err := r.store.SetMetadata(ctx, eventstore.MigrationStream, metaManifest, path); err != nil {
		return Result{}, err
	}
	if err := r.store.SetMetadata(ctx, eventstore.MigrationStream, metaState, stateChecked); err != nil {
		return Result{}, err
	}
	r.o.Step(StepChecked)
	r.o.Log.Info("the copy checks: swapping it in", "manifest", path)
	wk, err := r.store.Facts(ctx, eventstore.MigrationStream)
	if err != nil {
		return Result{}, err
	}
	if err := r.swap(ctx, ev, wk); err != nil {
		return Result{}, err
	}
	return Result{Outcome: Migrated, Count: copied.count, Manifest: path}, nil
}

// swap replaces the events stream by the checked working copy wk, from
// wherever an earlier run stopped: ev is the events stream now (the old
// one, a new one being filled, or none).
func (r *run) swap(ctx context.Context, ev, wk *eventstore.StreamFacts) error {
	source, err := strconv.ParseUint(wk.Metadata[metaSource], 10, 64)
	if err != nil || wk.LastSeq != source {
		return fmt.Errorf("the working copy %s holds %d messages where its record says %d: run 'ntsflow verify' and ask for help before going on; nothing was changed", eventstore.MigrationStream, wk.LastSeq, source)
	}
	cfg := json.RawMessage(wk.Metadata[metaConfig])
	if ev != nil && ev.Metadata[metaFilling] == "" {
		// The old stream: retired only if it is still the log the copy was
		// made of (an engine started since would have written more).
		if ev.LastSeq != source {
			return fmt.Errorf("the events stream has %d messages, the copy was made of %d: an engine wrote to it after the copy was made; stop every engine, delete the stream %s with 'nats stream rm' and run this again to copy afresh (nothing was changed)", ev.LastSeq, source, eventstore.MigrationStream)
		}
		r.o.Log.Info("retiring the old events stream", "last_sequence", ev.LastSeq)
		if err := r.store.DeleteStream(ctx, eventstore.EventsStream); err != nil {
			return err
		}
		r.o.Step(StepEventsDeleted)
		ev = nil
	}
	var from uint64 = 1
	if ev == nil {
		if err := r.store.CreateEventsStreamAs(ctx, cfg, map[string]string{metaFilling: string(cfg), metaManifest: wk.Metadata[metaManifest]}); err != nil {
			return err
		}
	} else {
		from = ev.LastSeq + 1
	}
	r.o.Log.Info("filling the events stream from the working copy", "from", from, "to", source)
	w := r.store.SequenceWriter(eventstore.EventsStream)
	report := r.progress("swap")
	half := false
	err = r.store.Messages(ctx, eventstore.MigrationStream, from, source, func(m eventstore.Message) error {
		if err := w.Write(ctx, eventstore.FromMigrationSubject(m.Subject), m); err != nil {
			return err
		}
		report(m.Sequence, source)
		if !half && m.Sequence >= source/2 {
			half = true
			if err := w.Flush(ctx); err != nil {
				return err
			}
			r.o.Step(StepFillHalf)
		}
		return nil
	})
	if err == nil {
		err = w.Flush(ctx)
	}
	if err != nil {
		return err
	}
	report(source, source)
	r.o.Step(StepFilled)
	var consumers []eventstore.ConsumerPosition
	if err := json.Unmarshal([]byte(wk.Metadata[metaConsumers]), &consumers); err != nil {
		return fmt.Errorf("the consumers' positions kept on %s: %w", eventstore.MigrationStream, err)
	}
	if err := r.store.RestoreConsumers(ctx, eventstore.EventsStream, consumers); err != nil {
		return err
	}
	for _, c := range consumers {
		r.o.Log.Info("consumer restored where it was", "consumer", c.Name, "ack_floor", c.AckFloor)
	}
	r.o.Step(StepConsumersRestored)
	if err := r.store.DeleteSnapshots(ctx); err != nil {
		return err
	}
	r.o.Step(StepSnapshotsDeleted)
	rep, err := audit.Verify(ctx, r.store, r.o.ChainKey, r.progress("verify"))
	if err != nil {
		return err
	}
	if !rep.OK() {
		p := rep.Problems[0]
		return fmt.Errorf("the new events stream does not verify (%s; the first, at sequence %d: %s): the working copy %s is kept; ask for help before going on", problems(len(rep.Problems)), p.Sequence, p.Detail, eventstore.MigrationStream)
	}
	if err := r.store.DeleteStream(ctx, eventstore.MigrationStream); err != nil {
		return err
	}
	r.o.Step(StepWorkingDeleted)
	return r.store.RestoreEventsStream(ctx, cfg)
}

// progress reports what of a long step is done, about once a second.
func (r *run) progress(what string) func(done, total uint64) {
	start, last := time.Now(), time.Now()
	return func(done, total uint64) {
		if r.o.Progress == nil || (time.Since(last) < time.Second && done < total) {
			return
		}
		last = time.Now()
		took := time.Since(start).Seconds()
		rate := float64(done) / max(took, 1e-9)
		eta := "-"
		if rate > 0 && done < total {
			eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
		}
		fmt.Fprintf(r.o.Progress, "%s: %5.1f%%  %d/%d commits  %.0f commits/s  ETA %s\n", what, 100*float64(done)/float64(max(total, 1)), done, total, rate, eta)
	}
}

func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return strconv.Itoa(n) + " problems"
}

func writeManifest(path string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path+".part", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(path+".part", path)
}

// ReadManifest reads a manifest the migration wrote.
func ReadManifest(path string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	if m.Kind != ManifestKind {
		return m, fmt.Errorf("%s is not a migration manifest", path)
	}
	return m, nil
}

// DefaultManifest is where the manifest goes when no path is given: beside
// the data directory (not in it: it is no part of the store), or in the
// current directory for a cluster.
func DefaultManifest(dataDir string, at time.Time) string {
	name := "ntsflow-migration-" + at.UTC().Format("20060102T150405Z") + ".json"
	if dataDir == "" {
		return name
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	return filepath.Join(filepath.Dir(strings.TrimRight(abs, string(filepath.Separator))), name)
}

// digest is what an event said before the migration, and whether its
// child was disposed of (so it reads back without its personal fields).
type digest struct {
	sum      [32]byte
	disposed bool
}
