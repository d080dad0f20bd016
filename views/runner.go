// Package views keeps the projections (package projections, pure folds)
// live: a runner per view drives its fold from the stream, keeps its
// checkpoint, snapshots it, rebuilds it beside the live one, and folds it
// as of any past moment (runner.go); set.go is the engine's set of views.
//
//ntsflow:shell
package views

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
)

// Stats counts what a fold met besides the events it applied.
type Stats struct {
	Applied uint64 `json:"applied"`
	// Unknown is no longer counted: a view stops at an event of a type it
	// cannot read (see UnknownEventError) instead of skipping it. Kept so
	// older snapshots and clients still read.
	Unknown uint64 `json:"unknown"`
	// Corrupt: commits that did not decode at all, skipped and logged. No
	// build can apply them (they are not ours, or were written wrongly);
	// verify reports them.
	Corrupt uint64 `json:"corrupt"`
	// Voided: commits holding events this build cannot read that an
	// operator voided (engine.Void), passed over because the log says so.
	Voided uint64 `json:"voided"`
}

// UnknownEventError is a commit holding an event of a type, or a schema
// version, this build cannot read. A view does not pass it: it stops there
// until a build that reads it runs.
type UnknownEventError struct {
	Sequence uint64
	Subject  string
	Type     string
}

func (e *UnknownEventError) Error() string {
	return fmt.Sprintf("stream sequence %d (%s) holds an event of type %q this build cannot read; the view stops before it until an engine that reads it runs, or an operator voids it", e.Sequence, e.Subject, e.Type)
}

// voidCheck reports whether an operator voided a stored commit.
type voidCheck func(eventstore.Stored) bool

// voidLookup looks for a void of a commit on the commit's own subject,
// where engine.Void records it. It is asked only of a commit a view would
// otherwise stop at, so it costs one load of one subject, rarely. A load
// that fails counts as no void: the view stops, and says why in the log.
func voidLookup(ctx context.Context, store Log, log *slog.Logger) voidCheck {
	return func(st eventstore.Stored) bool {
		lctx := ctx
		if lctx == nil { // the live follower's: it has no request to answer
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
		}
		stored, err := store.LoadAll(lctx, st.Subject)
		if err != nil {
			log.Error("could not look for a void of a commit the views cannot read; they stop before it", "sequence", st.Sequence, "subject", st.Subject, "err", err)
			return false
		}
		return eventstore.VoidedIn(stored)[st.Sequence]
	}
}

// errRewind: a view that had stopped learnt of a void of the commit it
// stopped at; the follower starts again from the views' checkpoints so
// that the view applies what it refused meanwhile.
var errRewind = errors.New("a stopped view's commit was voided: follow again from the checkpoints")

// apply folds one commit into v. The caller advances its checkpoint to the
// commit's sequence only after this returns without an error: a
// checkpoint never passes an event that was not applied. A commit with an
// event this build cannot read is not applied at all (not even its other
// events): the error names it, unless an operator voided it (voided, if
// set, looks that up), when it is passed over and counted.
func apply[V any](spec projections.Spec[V], v V, st eventstore.Stored, asOf time.Time, stats *Stats, voided voidCheck) (V, error) {
	if errors.Is(st.Err, eventstore.ErrUnavailable) {
		// Whole, but not readable now (its child's key did not answer):
		// the fold stops before it rather than pass it for good.
		return v, st.Err
	}
	if st.Err != nil {
		stats.Corrupt++
		return v, nil
	}
	for _, e := range st.Commit.Events {
		if !asOf.IsZero() && e.RecordedAt.After(asOf) {
			continue
		}
		if _, unknown := e.Data.(events.Unknown); unknown {
			if voided != nil && voided(st) {
				stats.Voided++
				return v, nil
			}
			return v, &UnknownEventError{Sequence: st.Sequence, Subject: st.Subject, Type: e.Type}
		}
	}
	for _, e := range st.Commit.Events {
		if !asOf.IsZero() && e.RecordedAt.After(asOf) {
			continue
		}
		v = spec.Apply(v, e)
		stats.Applied++
	}
	return v, nil
}

// recordedPast reports whether every event of a commit was recorded after
// t (a commit that does not decode tells nothing).
func recordedPast(st eventstore.Stored, t time.Time) bool {
	for _, e := range st.Commit.Events {
		if !e.RecordedAt.After(t) {
			return false
		}
	}
	return len(st.Commit.Events) > 0
}

// Progress of a long fold.
type Progress struct {
	Done, Total uint64
	Rate        float64 // commits per second
	ETA         time.Duration
}

// FoldOptions bound a fold.
type FoldOptions struct {
	// UpTo is the last stream sequence to fold (0: the stream's last now).
	UpTo uint64
	// AsOf, if set, folds only events recorded at or before it.
	AsOf time.Time
	// Progress, if set, is called about once a second.
	Progress func(Progress)
}

// Fold builds a view from zero: the whole log, or the log as of a moment.
// It returns the view and the sequence it has applied up to.
func Fold[V any](ctx context.Context, store Log, spec projections.Spec[V], o FoldOptions) (V, uint64, Stats, error) {
	v := spec.New()
	var stats Stats
	to := o.UpTo
	if to == 0 {
		last, err := store.LastSequence(ctx)
		if err != nil {
			return v, 0, stats, err
		}
		to = last
	}
	var seq uint64
	start, lastReport := time.Now(), time.Now()
	// Engines' clocks are within ClockSkew of the server's: once the server
	// stored commits that much after the moment, none recorded before it
	// can follow.
	// The server's times alone do not do: a log copied by
	// `ntsflow migrate-personal-data` carries the copy's, every commit
	// stored long after every moment before it. So the fold stops only
	// once the engine's own clock, as recorded, is past the moment too, by
	// twice the skew (two engines may be that far apart).
	stopAfter, recordedAfter := time.Time{}, time.Time{}
	if !o.AsOf.IsZero() {
		stopAfter, recordedAfter = o.AsOf.Add(10*time.Minute), o.AsOf.Add(20*time.Minute)
	}
	errStop := errors.New("stop")
	voided := voidLookup(ctx, store, slog.Default())
	// Read, decode and fold on separate goroutines (readahead.go), the fold
	// still commit by commit in stream order.
	err := readAhead(ctx, store, 1, to, runtime.GOMAXPROCS(0), func(st eventstore.Stored) error {
		if !stopAfter.IsZero() && st.Time.After(stopAfter) && recordedPast(st, recordedAfter) {
			return errStop
		}
		var err error
		if v, err = apply(spec, v, st, o.AsOf, &stats, voided); err != nil {
			return err
		}
		seq = st.Sequence
		if o.Progress != nil && time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			o.Progress(progress(seq, to, start))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return v, seq, stats, err
	}
	if o.Progress != nil {
		o.Progress(progress(seq, to, start))
	}
	return v, seq, stats, nil
}

func progress(done, total uint64, start time.Time) Progress {
	p := Progress{Done: done, Total: total}
	if secs := time.Since(start).Seconds(); secs > 0 {
		p.Rate = float64(done) / secs
		if p.Rate > 0 && total > done {
			p.ETA = time.Duration(float64(total-done) / p.Rate * float64(time.Second))
		}
	}
	return p
}

// Runner keeps one live view up to date with the stream.
type Runner[V any] struct {
	Spec  projections.Spec[V]
	Store Store
	Log   *slog.Logger
	// SnapshotEvery is how often the view is snapshotted when it has moved
	// (default 10s; negative: never).
	SnapshotEvery time.Duration

	// OnSnapshotFailure, if set, hears of each snapshot that could not be
	// saved (for a metric; the failure is also logged).
	OnSnapshotFailure func(view string, err error)

	// applyMu is held while commits are applied to the live view (by the
	// follower, or by Rebuild catching up before its swap); mu only while
	// the view changes, so reads never wait for the network.
	applyMu  sync.Mutex
	mu       sync.RWMutex
	stalled  *Stall
	view     V
	seq      uint64
	lastTime time.Time
	stats    Stats
	started  bool
	advanced chan struct{} // closed and replaced whenever seq moves
	rebuild  *Progress
	lastSnap uint64

	snapMu sync.Mutex // held by Snapshot
}

// Status is a view's position, for the API and metrics.
type Status struct {
	Name     string `json:"name"`
	Sequence uint64 `json:"sequence"`
	// LastApplied is when the server stored the last commit the view
	// applied.
	LastApplied time.Time `json:"lastApplied,omitzero"`
	Stats       Stats     `json:"stats"`
	Rebuilding  *Progress `json:"rebuilding,omitempty"`
	// Stalled, if set, is the event the view stopped before: it has not
	// moved past it and will not until an engine that reads it runs.
	Stalled *Stall `json:"stalled,omitempty"`
}

// Stall is where and why a view stopped.
type Stall struct {
	Sequence uint64 `json:"sequence"`
	// Subject is the commit's: what a void of it names.
	Subject string    `json:"subject"`
	Type    string    `json:"type"`
	Since   time.Time `json:"since"`
}

// NewRunner makes a runner for a view, starting from the empty view.
func NewRunner[V any](spec projections.Spec[V], store Store, log *slog.Logger) *Runner[V] {
	return &Runner[V]{Spec: spec, Store: store, Log: log, view: spec.New(), advanced: make(chan struct{})}
}

// Run follows the stream until ctx ends: it resumes from the view's
// snapshot if there is one of this schema, else rebuilds from zero; a
// stream that stops answering is followed again, from the checkpoint.
func (r *Runner[V]) Run(ctx context.Context) error {
	r.start(ctx)
	for ctx.Err() == nil {
		err := r.Store.Follow(ctx, r.next(), r.applyLive)
		if ctx.Err() != nil {
			break
		}
		pause := time.Second
		if errors.Is(err, errRewind) {
			continue
		}
		if _, stalled := errors.AsType[*UnknownEventError](err); stalled {
			pause = 10 * time.Second // logged once when it stopped; look again now and then
		} else {
			r.log().Warn("view stopped following the stream; resuming from its checkpoint", "view", r.Spec.Name, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	return ctx.Err()
}

// start resumes the view from its snapshot, if there is one of this
// schema, and snapshots it every SnapshotEvery until ctx ends: what Run,
// or a Set's shared follower, does before following.
func (r *Runner[V]) start(ctx context.Context) {
	r.resume(ctx)
	if r.SnapshotEvery < 0 {
		return
	}
	every := r.SnapshotEvery
	if every == 0 {
		every = 10 * time.Second
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.Snapshot(ctx)
			}
		}
	}()
}

// next is the stream sequence the view applies next.
func (r *Runner[V]) next() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seq + 1
}

func (r *Runner[V]) applyLive(st eventstore.Stored) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	voided := r.voidedLive(st)
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.Sequence <= r.seq {
		return nil // already applied (a resumed follow can overlap)
	}
	if r.stalled != nil && st.Sequence > r.stalled.Sequence {
		if st.Subject == r.stalled.Subject && slices.Contains(st.Commit.Voids(), r.stalled.Sequence) {
			// An operator voided the commit it stopped at: it goes on
			// from there, and must first apply what it refused meanwhile.
			r.log().Warn("a view's stop was voided by an operator; it goes on from there", "view", r.Spec.Name, "sequence", r.stalled.Sequence, "void_sequence", st.Sequence)
			r.stalled = nil
			return errRewind
		}
		// Stopped before an event it cannot read, so before everything
		// after it too (a follower shared with other views goes on).
		return &UnknownEventError{Sequence: r.stalled.Sequence, Subject: r.stalled.Subject, Type: r.stalled.Type}
	}
	if st.Err != nil {
		r.log().Error("view skipped a commit that does not decode", "view", r.Spec.Name, "sequence", st.Sequence, "err", st.Err)
	}
	voidedBefore := r.stats.Voided
	v, err := apply(r.Spec, r.view, st, time.Time{}, &r.stats, voided)
	var unknown *UnknownEventError
	if errors.As(err, &unknown) {
		if r.stalled == nil || r.stalled.Sequence != unknown.Sequence {
			r.stalled = &Stall{Sequence: unknown.Sequence, Subject: unknown.Subject, Type: unknown.Type, Since: time.Now().UTC()}
			r.log().Error("view stopped at an event this build cannot read; it serves its state before it and reports not ready until an engine that reads it runs or an operator voids that commit (docs/runbook.md#message-nobody-can-read)", "view", r.Spec.Name, "sequence", unknown.Sequence, "subject", unknown.Subject, "type", unknown.Type)
		}
		return err
	}
	if r.stats.Voided > voidedBefore {
		r.log().Warn("view passed over a commit an operator voided", "view", r.Spec.Name, "sequence", st.Sequence, "subject", st.Subject)
	}
	r.stalled = nil
	r.view = v
	r.seq, r.lastTime = st.Sequence, st.Time
	close(r.advanced)
	r.advanced = make(chan struct{})
	return nil
}

// voidedLive looks for a void of a commit the live view is about to meet
// and cannot read, before the view is locked: its readers do not wait for
// the load. Commits it will not apply (already applied, or behind a stop)
// are not looked up. Called with applyMu held, so the view's position
// cannot move meanwhile.
func (r *Runner[V]) voidedLive(st eventstore.Stored) voidCheck {
	if !slices.ContainsFunc(st.Commit.Events, func(e events.Event) bool { _, u := e.Data.(events.Unknown); return u }) {
		return nil
	}
	r.mu.RLock()
	skip := st.Sequence <= r.seq || (r.stalled != nil && st.Sequence > r.stalled.Sequence)
	r.mu.RUnlock()
	if skip {
		return nil
	}
	found := voidLookup(nil, r.Store, r.log())(st)
	return func(eventstore.Stored) bool { return found }
}

// A snapshot is one JSON object, streamed both ways: written through a
// pipe into the object store as it is encoded, read back token by token
// as it arrives, so neither end holds the whole view as one []byte (at
// 280,000 referrals, encoding those []bytes was more than half of serve's
// peak memory while it caught up).
// Its members: schema, catalogue (the event catalogue of the build that
// folded it, events.CatalogueVersion: another build folds again from
// zero), sequence, stats, then the view, last, so a snapshot of another
// schema or catalogue is refused before its view is read.
type snapshotHead struct {
	Schema    string
	Catalogue string
	Sequence  uint64
	Stats     Stats
}

// snapshotChunk is what the encoder hands the pipe at a time: the object
// store's chunk size, so each chunk it stores is full.
const snapshotChunk = 128 << 10

func writeSnapshot(enc *jsontext.Encoder, h snapshotHead, view func(*jsontext.Encoder) error) error {
	stats, err := json.Marshal(h.Stats)
	if err != nil {
		return err
	}
	for _, t := range []jsontext.Token{jsontext.BeginObject, jsontext.String("schema"), jsontext.String(h.Schema), jsontext.String("catalogue"), jsontext.String(h.Catalogue),
		jsontext.String("sequence"), jsontext.Uint(h.Sequence), jsontext.String("stats")} {
		if err := enc.WriteToken(t); err != nil {
			return err
		}
	}
	if err := enc.WriteValue(stats); err != nil {
		return err
	}
	if err := enc.WriteToken(jsontext.String("view")); err != nil {
		return err
	}
	if err := view(enc); err != nil {
		return err
	}
	return enc.WriteToken(jsontext.EndObject)
}

func (r *Runner[V]) resume(ctx context.Context) {
	if r.Spec.InMemory {
		r.log().Info("view kept in memory only (it holds children's references); rebuilding from zero", "view", r.Spec.Name)
		return
	}
	v, h, err := r.loadSnapshot(ctx)
	switch {
	case errors.Is(err, eventstore.ErrNoSnapshot):
		return
	case errors.Is(err, errSnapshotOther):
		r.log().Info("view snapshot of another schema or event catalogue; rebuilding from zero", "view", r.Spec.Name, "snapshot_schema", h.Schema, "schema", r.Spec.Schema,
			"snapshot_catalogue", h.Catalogue, "catalogue", events.CatalogueVersion())
		return
	case err != nil:
		r.log().Warn("view snapshot unreadable; rebuilding from zero", "view", r.Spec.Name, "err", err)
		return
	}
	r.mu.Lock()
	r.view, r.seq, r.stats, r.lastSnap = v, h.Sequence, h.Stats, h.Sequence
	// Wake whoever waits for a sequence the snapshot already holds: no
	// commit may follow to do it.
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.mu.Unlock()
	r.log().Info("view resumed from its snapshot", "view", r.Spec.Name, "sequence", h.Sequence)
}

// errSnapshotOther: the snapshot was made for another schema of the view,
// or by a build with another event catalogue (one that may have passed
// events this build reads).
var errSnapshotOther = errors.New("snapshot of another schema or event catalogue")

// loadSnapshot reads the view's snapshot as it arrives from the object
// store, and only to the end: the store checks the object's digest then.
func (r *Runner[V]) loadSnapshot(ctx context.Context) (V, snapshotHead, error) {
	var v V
	var h snapshotHead
	res, err := r.Store.OpenSnapshot(ctx, r.Spec.Name)
	if err != nil {
		return v, h, err
	}
	defer res.Close()
	dec := jsontext.NewDecoder(res)
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return v, h, fmt.Errorf("a snapshot is a JSON object (%v)", err)
	}
	for {
		t, err := dec.ReadToken()
		if err != nil {
			return v, h, err
		}
		if t.Kind() != '"' {
			return v, h, errors.New("snapshot without a view")
		}
		name := t.String()
		if name == "view" {
			break
		}
		val, err := dec.ReadValue()
		if err != nil {
			return v, h, err
		}
		switch name {
		case "schema":
			err = json.Unmarshal(val, &h.Schema)
		case "catalogue":
			err = json.Unmarshal(val, &h.Catalogue)
		case "sequence":
			err = json.Unmarshal(val, &h.Sequence)
		case "stats":
			err = json.Unmarshal(val, &h.Stats)
		}
		if err != nil {
			return v, h, fmt.Errorf("snapshot member %s: %w", name, err)
		}
	}
	if h.Schema != r.Spec.Schema || h.Catalogue != events.CatalogueVersion() {
		return v, h, errSnapshotOther
	}
	if r.Spec.Load != nil {
		v, err = r.Spec.Load(dec)
	} else {
		var val jsontext.Value
		if val, err = dec.ReadValue(); err == nil {
			v = r.Spec.New()
			err = json.Unmarshal(val, &v)
		}
	}
	if err != nil {
		return v, h, fmt.Errorf("snapshot view: %w", err)
	}
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '}' {
		return v, h, fmt.Errorf("snapshot does not end after its view (%v)", err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return v, h, fmt.Errorf("snapshot does not end where it should, or fails its digest: %v", err)
	}
	return v, h, nil
}

// Snapshot saves the view with its checkpoint, if it moved since the last.
// The view is held only while its spec's Save takes what the snapshot
// needs (sharing its entries, not copying them); the writing and the
// upload happen after, while the view moves on.
func (r *Runner[V]) Snapshot(ctx context.Context) error {
	if r.Spec.InMemory {
		return nil
	}
	r.snapMu.Lock() // one at a time: two uploads of one name would leave chunks behind
	defer r.snapMu.Unlock()
	r.mu.Lock()
	if r.seq == r.lastSnap {
		r.mu.Unlock()
		return nil
	}
	h := snapshotHead{Schema: r.Spec.Schema, Catalogue: events.CatalogueVersion(), Sequence: r.seq, Stats: r.stats}
	var view func(*jsontext.Encoder) error
	if r.Spec.Save != nil {
		view = r.Spec.Save(r.view)
	} else {
		b, err := json.Marshal(r.view)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		view = func(enc *jsontext.Encoder) error { return enc.WriteValue(b) }
	}
	r.mu.Unlock()
	if err := r.saveSnapshot(ctx, h, view); err != nil {
		r.log().Error("view snapshot not saved; the next start resumes from the last one saved and folds forward from it", "view", r.Spec.Name, "sequence", h.Sequence, "last_saved", r.lastSaved(), "err", err)
		if r.OnSnapshotFailure != nil {
			r.OnSnapshotFailure(r.Spec.Name, err)
		}
		return err
	}
	r.mu.Lock()
	r.lastSnap = h.Sequence
	r.mu.Unlock()
	return nil
}

// saveSnapshot encodes the snapshot into a pipe that the object store
// reads and stores chunk by chunk.
func (r *Runner[V]) saveSnapshot(ctx context.Context, h snapshotHead, view func(*jsontext.Encoder) error) error {
	pr, pw := io.Pipe()
	wrote := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, snapshotChunk)
		err := writeSnapshot(jsontext.NewEncoder(bw), h, view)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err) // nil: the reader sees the end
		wrote <- err
	}()
	err := r.Store.WriteSnapshot(ctx, r.Spec.Name, pr)
	// A Put that stopped early leaves the writer blocked on the pipe:
	// closing the reading end lets it return.
	pr.CloseWithError(errors.New("snapshot upload ended"))
	if werr := <-wrote; err == nil && werr != nil {
		err = werr
	}
	return err
}

// Read calls fn with the live view and the sequence it has reached. fn
// must not keep the view or change it.
func (r *Runner[V]) Read(fn func(v V, seq uint64)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(r.view, r.seq)
}

// Status reports where the view stands.
func (r *Runner[V]) Status() Status {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := Status{Name: r.Spec.Name, Sequence: r.seq, LastApplied: r.lastTime, Stats: r.stats}
	if r.stalled != nil {
		st := *r.stalled
		s.Stalled = &st
	}
	if r.rebuild != nil {
		p := *r.rebuild
		s.Rebuilding = &p
	}
	return s
}

// WaitFor blocks until the view has applied sequence seq, or ctx ends.
func (r *Runner[V]) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.RLock()
		reached, ch := r.seq >= seq, r.advanced
		r.mu.RUnlock()
		if reached {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("view %s has not reached sequence %d: %w", r.Spec.Name, seq, ctx.Err())
		case <-ch:
		}
	}
}

// Rebuild folds a new view from zero beside the live one, which keeps
// answering, then catches it up and swaps it in. progress hears how far it
// has got.
func (r *Runner[V]) Rebuild(ctx context.Context, progress func(Progress)) error {
	r.mu.Lock()
	if r.rebuild != nil {
		r.mu.Unlock()
		return fmt.Errorf("view %s is already rebuilding", r.Spec.Name)
	}
	r.rebuild = &Progress{}
	target := r.seq
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.rebuild = nil
		r.mu.Unlock()
	}()
	fresh, seq, stats := r.Spec.New(), uint64(0), Stats{}
	if target > 0 {
		var err error
		fresh, seq, stats, err = Fold(ctx, r.Store, r.Spec, FoldOptions{UpTo: target, Progress: func(p Progress) {
			r.mu.Lock()
			r.rebuild = &p
			r.mu.Unlock()
			if progress != nil {
				progress(p)
			}
		}})
		if err != nil {
			return err
		}
	}
	// Catch up with what the live view applied meanwhile, holding the live
	// view still (applyMu) but not its readers, then swap under the lock.
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.RLock()
	live := r.seq
	r.mu.RUnlock()
	if err := r.Store.ReadRange(ctx, seq+1, live, func(st eventstore.Stored) error {
		var err error
		fresh, err = apply(r.Spec, fresh, st, time.Time{}, &stats, voidLookup(ctx, r.Store, r.log()))
		seq = st.Sequence
		return err
	}); err != nil {
		return err
	}
	r.mu.Lock()
	r.view, r.stats = fresh, stats
	r.mu.Unlock()
	r.log().Info("view rebuilt and swapped in", "view", r.Spec.Name, "sequence", seq)
	return nil
}

func (r *Runner[V]) lastSaved() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lastSnap
}

func (r *Runner[V]) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
