package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// A store that refuses writes for lack of room still answers reads, so a
// read-only probe said ready while every command failed. Readiness now
// reports failing writes, and says ready again once there is room. (A
// real full disk is in fulldisk_test.go: the stream's size limit, later
// raised, stands in for it here.) Both with the embedded server's own view
// of its storage and without it, as with --nats-url.
func TestReadinessReportsFailingWritesAndRecovers(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "remote"}[remote], func(t *testing.T) {
			readinessReportsFailingWritesAndRecovers(t, remote)
		})
	}
}

func readinessReportsFailingWritesAndRecovers(t *testing.T, remote bool) {
	n := storetest.Start(t, storetest.Options{Store: eventstore.Config{MaxBytes: 4000}})
	if remote {
		n.Store.Storage = nil
	}
	c := ctx(t)
	subj := events.ReferralSubject("full")
	var last uint64
	var failed int
	for i := 0; i < 200 && failed < 5; i++ {
		ack, err := n.Store.Append(c, subj, last, "", commit(fmt.Sprintf("f%d", i), 1))
		switch {
		case err == nil:
			last = ack.Sequence
		case errors.Is(err, eventstore.ErrUnavailable):
			failed++
		default:
			t.Fatal(err)
		}
	}
	if failed < 5 {
		t.Fatal("the stream never filled")
	}
	if err := n.Store.Ping(c); err == nil || !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("readiness with every write failing: %v", err)
	}
	// Room again.
	js := n.Store.JetStream()
	str, err := js.Stream(c, eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := str.CachedInfo().Config
	cfg.MaxBytes = 1 << 20
	if _, err := js.UpdateStream(c, cfg); err != nil {
		t.Fatal(err)
	}
	if err := n.Store.Ping(c); err != nil {
		t.Fatalf("readiness once there is room: %v", err)
	}
	if _, err := n.Store.Append(c, subj, last, "", commit("after", 1)); err != nil {
		t.Fatalf("append once there is room: %v", err)
	}
}

// nats-server stops JetStream when a write fails for lack of disk space
// and never starts it again itself, so writes kept failing after space was
// freed until a restart. KeepJetStream enables it again. (The test stops
// JetStream the way the server's out-of-space handler does; filling a real
// disk needs a mount this test cannot make.)
func TestJetStreamStoppedForLackOfSpaceComesBack(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	subj := events.ReferralSubject("oos")
	ack, err := n.Store.Append(c, subj, 0, "", commit("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithCancel(c)
	done := make(chan struct{})
	go func() {
		n.Embedded.KeepJetStream(kctx, 50*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	defer cancel()
	// A follower, as the views run one: following again a second after it
	// stops.
	seen := make(chan uint64, 16)
	follows := make(chan struct{}, 16)
	go func() {
		from := uint64(1)
		for kctx.Err() == nil {
			follows <- struct{}{}
			n.Store.Follow(kctx, from, func(st eventstore.Stored) error {
				seen <- st.Sequence
				from = st.Sequence + 1
				return nil
			})
			select {
			case <-kctx.Done():
			case <-time.After(time.Second): // the views' pause before following again
			}
		}
	}()
	<-follows
	if got := <-seen; got != ack.Sequence {
		t.Fatalf("follower saw %d first, want %d", got, ack.Sequence)
	}
	if err := n.Embedded.Server.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		actx, acancel := context.WithTimeout(c, time.Second)
		a, err := n.Store.Append(actx, subj, ack.Sequence, "", commit("b", 1))
		acancel()
		if err == nil {
			if a.Sequence != ack.Sequence+1 {
				t.Fatalf("appended at %d after %d", a.Sequence, ack.Sequence)
			}
			break
		}
		var apiErr *jetstream.APIError
		if !errors.Is(err, eventstore.ErrUnavailable) && !errors.As(err, &apiErr) {
			t.Fatalf("append while JetStream is down: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes still failing after JetStream should be back: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if err := n.Store.Ping(c); err != nil {
		t.Fatalf("readiness after recovery: %v", err)
	}
	// The follower is told JetStream started again and follows afresh at
	// once, rather than when it misses the server's heartbeats (10 s and
	// more), so it sees the commit made since within a few seconds.
	appended := time.Now()
	select {
	case got := <-seen:
		if got != ack.Sequence+1 {
			t.Fatalf("follower saw %d after the restart, want %d", got, ack.Sequence+1)
		}
		t.Logf("follower saw the new commit %s after it was appended", time.Since(appended).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("follower has not seen the commit appended after JetStream started again, %s on", time.Since(appended).Round(time.Millisecond))
	}
	// JetStream started again on the same files, not beside them: the next
	// start of the engine still finds the whole log. (Enabling it with the
	// running config's store directory used to move the log one directory
	// down, where the next start did not look: the log seemed empty.)
	cancel()
	<-done
	dir := n.Dir
	n.Stop()
	again := storetest.Start(t, storetest.Options{Dir: dir})
	got, err := again.Store.Load(c, subj)
	if err != nil || len(got) != 2 {
		t.Fatalf("after a restart of the engine: %d commits, %v (want both)", len(got), err)
	}
}
