package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// roomForWrites is the space left under the events stream's size limit
// that counts as room again (many commits' worth).
const roomForWrites = 64 << 10

// roomToRestart is the disk space that must be free before the embedded
// server's JetStream is started again after a storage failure. Starting it
// on a disk that is still full would fail again at once, and a stream that
// cannot write its state while being recovered is left out until the next
// start: better to wait for room.
const roomToRestart = 4 << 20

// restartGap is the least time between two restarts of the embedded
// JetStream, so that a cause the free space does not show (a permission
// error, a disk that fills again at once) does not keep it restarting.
const restartGap = 5 * time.Second

// writeHealth remembers whether appends have been failing: a full disk or
// a stream at its size limit still answers reads and stream info, so a
// probe that only reads says ready while every command gets a 503.
type writeHealth struct {
	mu       sync.Mutex
	failures int
	since    time.Time
	last     error
}

func (w *writeHealth) note(err error) {
	// The caller gave up (a client went away): that says nothing of the
	// store.
	if errors.Is(err, context.Canceled) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.failures, w.last = 0, nil
		return
	}
	if w.failures == 0 {
		w.since = time.Now().UTC()
	}
	w.failures++
	w.last = err
}

func (w *writeHealth) failing() (int, time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failures, w.since, w.last
}

// checkWrites is readiness's view of writes. One failed append is enough
// to say not ready (the bound is 2 s from the first failed write, and a
// full disk fails every write after it), until the cause is seen to have
// gone: the server can write (with the embedded server, Storage says so;
// with a remote one, JetStream answers for the account) and the events
// stream is below its size limit.
func (s *Store) checkWrites(ctx context.Context) error {
	n, since, last := s.writes.failing()
	if n == 0 {
		return nil
	}
	answers := s.Storage != nil // Ping asked it already, and it could write
	if !answers {
		_, err := s.js.AccountInfo(ctx)
		answers = err == nil
	}
	if answers {
		info, err := s.stream.Info(ctx)
		if err == nil && (info.Config.MaxBytes <= 0 || info.Config.MaxBytes-int64(info.State.Bytes) >= roomForWrites) {
			s.writes.note(nil)
			return nil
		}
	}
	return fmt.Errorf("%w: the last %d appends failed (since %s): %v", ErrUnavailable, n, since.Format(time.RFC3339), last)
}

// writeFailed notes a failed write for readiness and returns the error to
// give, wrapping ErrUnavailable. With the embedded server, its reason (a
// full disk) is given with the writer's (often only that its deadline
// passed, unanswered).
func (s *Store) writeFailed(err error) error {
	s.writes.note(err)
	if s.Storage != nil {
		if serr := s.Storage(); serr != nil {
			return fmt.Errorf("%w (%w)", serr, err)
		}
	}
	return unavailable(err)
}

// refuseWhileFailing answers a write at once, without sending it, while
// writes have been failing and the embedded server still says it cannot
// write: sent, it would wait unanswered until its deadline. Healthy
// writes pay one mutex here and nothing more.
func (s *Store) refuseWhileFailing() error {
	if s.Storage == nil {
		return nil
	}
	if n, _, _ := s.writes.failing(); n == 0 {
		return nil
	}
	return s.Storage()
}

// storageState is what the embedded server says of its ability to write.
type storageState int

const (
	storageOK storageState = iota
	// storageStopped: JetStream is not running (the server stopped it after
	// a write failed, or a restart is under way).
	storageStopped
	// storageWriteFailed: a stream's store failed a write (a full disk):
	// nats-server then refuses every later write to that stream, for good,
	// until its JetStream starts again.
	storageWriteFailed
	// storageLimit: JetStream has used all the storage it allows itself
	// (error 10023, "insufficient resources").
	storageLimit
)

// storage looks at the embedded server's JetStream: whether it runs,
// whether any stream's store has failed a write, and how much of its
// storage limit it uses.
func (e *Embedded) storage() (storageState, int64, error) {
	s := e.Server
	if !s.JetStreamEnabled() {
		return storageStopped, 0, fmt.Errorf("%w: the embedded JetStream is stopped (nats-server stops it when it cannot write its files); the engine starts it again once there is room", ErrUnavailable)
	}
	if h := s.Healthz(&server.HealthzOptions{}); h != nil && h.Error != "" {
		if strings.Contains(h.Error, "write error") {
			return storageWriteFailed, 0, fmt.Errorf("%w: the event store cannot write to its disk (%s); writes resume by themselves once space is freed", ErrUnavailable, h.Error)
		}
		// A stream not read back from its files, say after JetStream
		// started on a disk still full.
		return storageWriteFailed, 0, fmt.Errorf("%w: the embedded JetStream reports a fault (%s)", ErrUnavailable, h.Error)
	}
	info, err := s.Jsz(nil)
	if err != nil || info.Disabled {
		return storageStopped, 0, fmt.Errorf("%w: the embedded JetStream is stopped", ErrUnavailable)
	}
	used := int64(info.Store)
	if limit := info.Config.MaxStore; limit > 0 && used > limit {
		return storageLimit, used, fmt.Errorf("%w: the event store's disk space is used up: JetStream has used %d bytes of the %d it allows itself on this disk (error 10023, insufficient resources); writes resume by themselves once space is freed", ErrUnavailable, used, limit)
	}
	return storageOK, used, nil
}

// CheckStorage reports whether the embedded server can write: nil, or an
// error wrapping ErrUnavailable that says why not in words. It looks at
// the server itself, so it knows of a failed write at once, before the
// writer does (nats-server does not answer a write its disk refused; the
// writer only hears of it when its own deadline passes).
func (e *Embedded) CheckStorage() error {
	_, _, err := e.storage()
	return err
}

// KeepJetStream watches the embedded server until ctx ends, every
// interval, and starts its JetStream again after a storage failure once
// there is room, in process, on the same store directory: what a restart
// of the engine would do, without the restart. Clients keep their
// connections; durable consumers are read back from disk with their
// acknowledgements, and the engine's consumers pull from them again.
//
// Why it is needed (nats-server 2.15, single server):
//   - A write the disk refuses (ENOSPC) marks that stream's store as failed
//     for good: every later write to it fails, unanswered, while JetStream
//     itself keeps running and answers reads. Only a new store, that is
//     JetStream starting again, clears it.
//   - JetStream's storage limit, when not configured, is three quarters of
//     the disk space free when it started. Freeing space does not raise it:
//     writes keep failing with error 10023 until it starts again.
//   - A clustered server, or one whose files cannot be written at all,
//     shuts its JetStream down and never starts it again itself.
//
// Nothing acknowledged is lost: the server acknowledges a commit only once
// it is written (and, by default here, synced), and starting JetStream
// again recovers each stream from its files. A write that failed was not
// acknowledged; the client's retry with the same message id is the one
// that counts.
func (e *Embedded) KeepJetStream(ctx context.Context, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	down := false
	looks := 0 // consecutive looks that found it unable to write
	var lastRestart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		state, used, err := e.storage()
		if state == storageOK {
			if down {
				log.Info("embedded JetStream writes again")
			}
			down, looks = false, 0
			continue
		}
		// One look may catch a stream between its files and its record
		// (being created or deleted); a failed store stays failed.
		if looks++; looks < 2 {
			continue
		}
		if !down {
			log.Error("embedded JetStream cannot write; starting it again once there is room", "err", err)
			down = true
		}
		if time.Since(lastRestart) < restartGap {
			continue
		}
		free := diskFree(e.dataDir)
		if !e.roomFor(state, used, free) {
			continue
		}
		lastRestart = time.Now()
		if err := e.restartJetStream(); err != nil {
			log.Warn("embedded JetStream not started again yet", "err", err, "disk_free_bytes", free)
			continue
		}
		log.Info("embedded JetStream started again after a storage failure", "disk_free_bytes", free)
		e.restarted()
	}
}

// roomFor says whether starting JetStream again would help now.
func (e *Embedded) roomFor(state storageState, used, free int64) bool {
	if free < 0 {
		return true // unknown on this system: try, no more often than restartGap
	}
	if state != storageLimit {
		return free >= roomToRestart
	}
	if e.maxStore > 0 {
		// A limit the operator set does not grow with free space: writes
		// come back as the server's usage falls under it.
		return false
	}
	// The limit it would compute now (see KeepJetStream), with what its
	// streams hold counted back in, as nats-server does on start.
	return free/4*3+used/4*3 >= used+roomToRestart
}

// restartJetStream stops the server's JetStream (if it still runs) and
// starts it again on the same directory, with the storage limit computed
// afresh unless one was configured.
func (e *Embedded) restartJetStream() error {
	s := e.Server
	if s.JetStreamEnabled() {
		if err := s.ShutdownJetStream(); err != nil {
			return fmt.Errorf("stop JetStream: %w", err)
		}
	}
	c := e.jsConfig // each attempt its own copy: the server keeps the pointer
	if err := s.EnableJetStream(&c); err != nil {
		return fmt.Errorf("start JetStream: %w", err)
	}
	if !s.JetStreamEnabled() {
		return errors.New("start JetStream: not enabled")
	}
	return nil
}

// jetStreamConfig is what the server was started with, to start its
// JetStream again. EnableJetStream places the store under StoreDir's
// "jetstream" directory, so it is given the data directory, not the
// running config's StoreDir (which already ends in "jetstream": passing it
// back would start an empty store beside the real one). A zero MaxStore
// lets the server compute the limit from the space free then.
func jetStreamConfig(s *server.Server, dataDir string, maxStore int64) server.JetStreamConfig {
	var c server.JetStreamConfig
	if cur := s.JetStreamConfig(); cur != nil {
		c = *cur
	}
	c.StoreDir = dataDir
	c.MaxStore = max(maxStore, 0)
	return c
}

// restarts tells the store's consumers that JetStream under them started
// again. A pull request or an ordered consumer's subscription made before
// is gone with the old JetStream, and the client library would only notice
// when heartbeats stop coming (up to 30 s); told, they stop and start
// afresh at once, from their acknowledgements or checkpoints.
type restarts struct {
	mu sync.Mutex
	ch chan struct{}
}

func (r *restarts) wait() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch == nil {
		r.ch = make(chan struct{})
	}
	return r.ch
}

func (r *restarts) signal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch != nil {
		close(r.ch)
		r.ch = nil
	}
}

// JetStreamRestarted tells the store that the JetStream it uses started
// again (Embedded.OnRestart): its consumers start their subscriptions
// afresh now.
func (s *Store) JetStreamRestarted() { s.restarts.signal() }

// onRestart calls stop if JetStream starts again before unwatch is
// called; restarted says whether it did.
func (s *Store) onRestart(stop func()) (restarted func() bool, unwatch func()) {
	ch := s.restarts.wait()
	done := make(chan struct{})
	var fired atomic.Bool
	go func() {
		select {
		case <-ch:
			fired.Store(true)
			stop()
		case <-done:
		}
	}()
	return fired.Load, func() { close(done) }
}

// OnRestart registers fn to be called each time KeepJetStream has started
// the server's JetStream again (Store.JetStreamRestarted, say).
func (e *Embedded) OnRestart(fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onRestart = append(e.onRestart, fn)
}

func (e *Embedded) restarted() {
	e.mu.Lock()
	fns := slices.Clone(e.onRestart)
	e.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
