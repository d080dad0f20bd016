package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The bounds the engine promises on a full disk (issue 21): not ready
// within 2 s of the first write that fails, writes accepted again within
// 30 s of space returning, without a restart.
const (
	notReadyWithin = 2 * time.Second
	writesBackIn   = 30 * time.Second
)

// acked is what the store has acknowledged: per subject, in order, the
// first event id of each commit.
type acked map[string][]string

// verify loads every subject and checks that each acknowledged commit is
// there, in order.
func (a acked) verify(t *testing.T, s *eventstore.Store) {
	t.Helper()
	n := 0
	for subj, ids := range a {
		got, err := s.Load(ctx(t), subj)
		if err != nil {
			t.Fatalf("load %s: %v", subj, err)
		}
		var have []string
		for _, st := range got {
			have = append(have, st.Commit.Events[0].ID)
		}
		if strings.Join(have, ",") != strings.Join(ids, ",") {
			t.Fatalf("%s: acknowledged %v, stored %v", subj, ids, have)
		}
		n += len(ids)
	}
	t.Logf("all %d acknowledged commits read back", n)
}

// writer appends commits round the subjects of a few referrals, each
// expecting its subject's last sequence, and remembers what was
// acknowledged.
type writer struct {
	store *eventstore.Store
	last  map[string]uint64
	acked acked
	n     int
	size  int // events per commit
}

func newWriter(s *eventstore.Store, size int) *writer {
	return &writer{store: s, last: map[string]uint64{}, acked: acked{}, size: size}
}

func (w *writer) append(ctx context.Context) error {
	subj := events.ReferralSubject(fmt.Sprintf("disk%d", w.n%4))
	id := fmt.Sprintf("w%d", w.n)
	a, err := w.store.Append(ctx, subj, w.last[subj], "msg-"+id, commit(id, w.size))
	if err != nil {
		return err
	}
	w.n++
	w.last[subj] = a.Sequence
	w.acked[subj] = append(w.acked[subj], id+"-0")
	return nil
}

// untilFailing appends until one append fails, and returns how long after
// that append was sent readiness said not ready. Readiness is watched
// while the append is in flight: on a full disk the server does not answer
// the write at all, so the caller only hears of it when its own deadline
// passes.
func (w *writer) untilFailing(t *testing.T, max int) (time.Duration, error) {
	t.Helper()
	for range max {
		sent := time.Now()
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		done := make(chan error, 1)
		go func() { done <- w.append(actx) }()
		var notReady time.Duration = -1
		var err error
	watch:
		for {
			select {
			case err = <-done:
				break watch
			default:
			}
			if notReady < 0 {
				pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
				if w.store.Ping(pctx) != nil {
					notReady = time.Since(sent)
				}
				pcancel()
			}
			select {
			case err = <-done:
				break watch
			case <-time.After(10 * time.Millisecond): // readiness polling interval
			}
		}
		cancel()
		if err == nil {
			continue
		}
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("append on a full disk: %v (want the store unavailable)", err)
		}
		if notReady < 0 {
			// The append returned before readiness was seen to change: give
			// readiness what is left of its bound.
			storetest.WaitFor(notReadyWithin+time.Second-time.Since(sent), func() bool {
				pctx, pcancel := context.WithTimeout(context.Background(), time.Second)
				perr := w.store.Ping(pctx)
				pcancel()
				if perr != nil {
					notReady = time.Since(sent)
				}
				return perr != nil
			})
			if notReady < 0 {
				t.Fatalf("a write failed (%v) and readiness still said ready %s after it was sent", err, time.Since(sent).Round(time.Millisecond))
			}
		}
		return notReady, err
	}
	t.Fatalf("%d appends and none failed: the disk never filled", max)
	return 0, nil
}

// untilWriting appends until one is acknowledged, and returns how long
// that took.
func (w *writer) untilWriting(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := w.append(actx)
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > writesBackIn {
			t.Fatalf("writes still refused %s after space returned: %v", time.Since(start).Round(time.Millisecond), err)
		}
		time.Sleep(50 * time.Millisecond) // pause between attempts, as a client's retry would
	}
}

// waitReady waits, bounded, for readiness to say ready.
func waitReady(t *testing.T, s *eventstore.Store, within time.Duration) {
	t.Helper()
	var err error
	if !storetest.WaitFor(within, func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = s.Ping(pctx)
		cancel()
		return err == nil
	}) {
		t.Fatalf("not ready %s after writes came back: %v", within, err)
	}
}

// keepJetStream runs the embedded server's self-healing for the test, as
// serve does.
func keepJetStream(t *testing.T, n *storetest.Node) {
	kctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		n.Embedded.KeepJetStream(kctx, 250*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// A real full disk (ENOSPC): nats-server does not answer the write, marks
// the stream's store as failed for good and leaves JetStream running, so
// readiness said ready throughout and every write failed until a restart,
// even after space was freed. Now readiness goes not ready within 2 s of
// the first failed write, and writes are accepted again within 30 s of
// space returning, with every acknowledged commit still there.
func TestFullDiskHealsWithoutRestart(t *testing.T) {
	dir := storetest.Tmpfs(t, 32<<20)
	n := storetest.Start(t, storetest.Options{Dir: filepath.Join(dir, "store"), Durable: true})
	keepJetStream(t, n)
	w := newWriter(n.Store, 2)
	for range 40 {
		if err := w.append(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	filler := storetest.Fill(t, dir)

	notReady, err := w.untilFailing(t, 2000)
	t.Logf("first failed write: %v; not ready %s after it was sent", err, notReady.Round(time.Millisecond))
	if notReady > notReadyWithin {
		t.Errorf("readiness went not ready %s after the first failed write (bound %s)", notReady.Round(time.Millisecond), notReadyWithin)
	}
	pctx, cancel := context.WithTimeout(context.Background(), time.Second)
	perr := n.Store.Ping(pctx)
	cancel()
	if perr == nil || !strings.Contains(perr.Error(), "no space left") {
		t.Errorf("readiness on a full disk should say why: %v", perr)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	back := w.untilWriting(t)
	t.Logf("writes accepted again %s after space returned", back.Round(time.Millisecond))
	waitReady(t, n.Store, writesBackIn-back)
	for range 10 {
		if err := w.append(ctx(t)); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	}
	w.acked.verify(t, n.Store)

	// And the next start of the engine finds it all.
	n.Stop()
	again := storetest.Start(t, storetest.Options{Dir: filepath.Join(dir, "store"), Durable: true})
	w.acked.verify(t, again.Store)
}

// JetStream's own storage limit, as the embedded server computes it at
// start (three quarters of the disk space then free): writes get error
// 10023 "insufficient resources" at once, and the limit stayed where it
// was after space was freed, so writes stayed refused until a restart.
// Now readiness goes not ready at the first refusal, and the engine starts
// JetStream again with a limit computed from the space now free.
func TestStorageLimitFromDiskSpaceHealsWithoutRestart(t *testing.T) {
	const size = 32 << 20
	dir := storetest.Tmpfs(t, size)
	filler := storetest.Fill(t, dir)
	// Leave 4 MiB free: JetStream then allows itself about 3.
	if err := os.Truncate(filler, size-4<<20); err != nil {
		t.Fatal(err)
	}
	n := storetest.Start(t, storetest.Options{Dir: filepath.Join(dir, "store"), Durable: true})
	keepJetStream(t, n)
	w := newWriter(n.Store, 20)

	notReady, err := w.untilFailing(t, 5000)
	t.Logf("first failed write: %v; not ready %s after it was sent", err, notReady.Round(time.Millisecond))
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10023 {
		t.Fatalf("want JetStream's error 10023 (insufficient resources), got %v", err)
	}
	if notReady > notReadyWithin {
		t.Errorf("readiness went not ready %s after the first failed write (bound %s)", notReady.Round(time.Millisecond), notReadyWithin)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	back := w.untilWriting(t)
	t.Logf("writes accepted again %s after space returned", back.Round(time.Millisecond))
	waitReady(t, n.Store, writesBackIn-back)
	w.acked.verify(t, n.Store)
}

// JetStream's storage limit when it is configured (no tmpfs needed): the
// events stream's writes get error 10023 at once while another stream
// holds the space. Readiness said ready throughout (the account and the
// stream still answered). Now it goes not ready at the first refusal, and
// ready again, with writes accepted, once the space is released.
func TestConfiguredStorageLimitReadinessAndRecovery(t *testing.T) {
	n := storetest.Start(t, storetest.Options{MaxStore: 2 << 20})
	keepJetStream(t, n)
	c := ctx(t)
	js := n.Store.JetStream()
	if _, err := js.CreateStream(c, jetstream.StreamConfig{Name: "FILLER", Subjects: []string{"filler.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for i := range 24 { // 1.5 MiB of the 2 allowed
		if _, err := js.Publish(c, fmt.Sprintf("filler.%d", i), block); err != nil {
			t.Fatalf("filler %d: %v", i, err)
		}
	}
	w := newWriter(n.Store, 20)
	notReady, err := w.untilFailing(t, 2000)
	t.Logf("first failed write: %v; not ready %s after it was sent", err, notReady.Round(time.Millisecond))
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10023 {
		t.Fatalf("want JetStream's error 10023 (insufficient resources), got %v", err)
	}
	if notReady > notReadyWithin {
		t.Errorf("readiness went not ready %s after the first failed write (bound %s)", notReady.Round(time.Millisecond), notReadyWithin)
	}
	if perr := n.Store.Ping(c); perr == nil || !strings.Contains(perr.Error(), "10023") {
		t.Errorf("readiness at the limit should say why: %v", perr)
	}

	if err := js.DeleteStream(c, "FILLER"); err != nil {
		t.Fatal(err)
	}
	back := w.untilWriting(t)
	t.Logf("writes accepted again %s after space returned", back.Round(time.Millisecond))
	waitReady(t, n.Store, writesBackIn-back)
	w.acked.verify(t, n.Store)
}
