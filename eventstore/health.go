package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// writeFailuresUnready is how many appends in a row must fail, with the
// store unavailable, before readiness reports that writes are failing.
const writeFailuresUnready = 3

// roomForWrites is the space left under the events stream's size limit
// that counts as room again (many commits' worth).
const roomForWrites = 64 << 10

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
	if w.failures < writeFailuresUnready {
		return 0, time.Time{}, nil
	}
	return w.failures, w.since, w.last
}

// checkWrites is readiness's view of writes: when the last appends failed,
// it looks whether the cause has gone (JetStream answers for the account
// and the events stream is below its size limit) and, if so, forgets them;
// else it says writes are failing.
func (s *Store) checkWrites(ctx context.Context) error {
	n, since, last := s.writes.failing()
	if n == 0 {
		return nil
	}
	if _, err := s.js.AccountInfo(ctx); err == nil {
		info, err := s.stream.Info(ctx)
		if err == nil && (info.Config.MaxBytes <= 0 || info.Config.MaxBytes-int64(info.State.Bytes) >= roomForWrites) {
			s.writes.note(nil)
			return nil
		}
	}
	return fmt.Errorf("%w: the last %d appends failed (since %s): %v", ErrUnavailable, n, since.Format(time.RFC3339), last)
}

// KeepJetStream watches the embedded server's JetStream until ctx ends and
// enables it again when it has stopped. nats-server shuts JetStream down
// when a write fails for lack of disk space and never starts it again by
// itself, so without this every write keeps failing until a restart even
// after space is freed. Each attempt recomputes the storage limit from the
// space now free.
func (e *Embedded) KeepJetStream(ctx context.Context, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	cfg := e.jsConfig
	t := time.NewTicker(every)
	defer t.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if e.Server.JetStreamEnabled() {
			down = false
			continue
		}
		if !down {
			log.Error("embedded JetStream has stopped (the server stops it when the disk is full); enabling it again once there is room")
			down = true
		}
		c := cfg // each attempt its own copy: the server keeps the pointer
		if err := e.Server.EnableJetStream(&c); err != nil {
			log.Warn("embedded JetStream not enabled yet", "err", err)
			continue
		}
		log.Info("embedded JetStream enabled again")
		down = false
	}
}

// jetStreamConfig is what the server was started with, with the storage
// limits left to be computed from the space free when it is enabled again.
func jetStreamConfig(s *server.Server) server.JetStreamConfig {
	var c server.JetStreamConfig
	if cur := s.JetStreamConfig(); cur != nil {
		c = *cur
	}
	c.MaxStore, c.MaxMemory = 0, 0
	return c
}
