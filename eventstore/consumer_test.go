package eventstore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait standing in for a condition
	}
}

// A handler that keeps failing on one commit is logged (sequence, consumer,
// deliveries) and counted on every failure, retried a bounded number of
// times, then parked where an operator can list it; an ordered consumer
// goes on with other aggregates' commits and parks the same aggregate's
// later commits behind it; once the handler is fixed, replaying hands them
// back in order and clears them.
func TestPoisonMessageIsParkedAndReplayed(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	var logs storetest.LogBuffer
	var mu sync.Mutex
	var failures []eventstore.ConsumerFailure
	n.Store.Consumers = eventstore.ConsumerPolicy{
		MaxDeliveries: 3,
		Backoff:       func(int) time.Duration { return 20 * time.Millisecond },
		Log:           slog.New(slog.NewJSONHandler(&logs, nil)),
		OnFailure: func(f eventstore.ConsumerFailure) {
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		},
	}
	bad, good := events.ReferralSubject("bad"), events.ReferralSubject("good")
	a1, err := n.Store.Append(c, bad, 0, "", commit("bad", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store.Append(c, good, 0, "", commit("good", 1)); err != nil {
		t.Fatal(err)
	}
	a3, err := n.Store.Append(c, bad, a1.Sequence, "", commit("bad", 1))
	if err != nil {
		t.Fatal(err)
	}

	var fixed bool
	var handled []uint64
	cctx, cancel := context.WithCancel(c)
	done := make(chan error, 1)
	go func() {
		done <- n.Store.ConsumeEvents(cctx, "test-ordered", events.SubjectPrefix+">", true, func(st eventstore.Stored) error {
			mu.Lock()
			defer mu.Unlock()
			if st.Subject == bad && !fixed {
				return errors.New("cannot encode this commit")
			}
			handled = append(handled, st.Sequence)
			return nil
		})
	}()
	defer func() { cancel(); <-done }()

	// The ordered consumer gets past the poison commit to the good one.
	waitUntil(t, 10*time.Second, "the good commit handled past the poison one", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 1
	})
	waitUntil(t, 10*time.Second, "both commits of the bad referral parked", func() bool {
		p, err := n.Store.ListParked(c, 0)
		return err == nil && len(p) == 2
	})
	parked, _ := n.Store.ListParked(c, 0)
	if p := parked[0]; p.Consumer != "test-ordered" || p.Subject != bad || p.StreamSequence != a1.Sequence || p.Deliveries != 3 || !strings.Contains(p.Error, "cannot encode") || p.Stream != eventstore.EventsStream {
		t.Fatalf("first parked record: %+v", p)
	}
	if p := parked[1]; p.StreamSequence != a3.Sequence || !strings.Contains(p.Error, "parked") {
		t.Fatalf("second parked record (parked behind the first): %+v", p)
	}
	if counts, err := n.Store.ParkedCounts(c); err != nil || counts["test-ordered"] != 2 {
		t.Fatalf("parked counts %v (%v)", counts, err)
	}
	// A park is reported once its record is written: the second may be
	// listed a moment before it is reported.
	var retries, parks int
	reported := func() bool {
		mu.Lock()
		defer mu.Unlock()
		retries, parks = 0, 0
		for _, f := range failures {
			switch f.Outcome {
			case eventstore.OutcomeRetry:
				retries++
			case eventstore.OutcomeParked:
				parks++
			}
		}
		return parks >= 2
	}
	waitUntil(t, 10*time.Second, "both parks reported", reported)
	if retries != 2 || parks != 2 {
		t.Fatalf("failures reported: %d retries, %d parked; want 2 and 2", retries, parks)
	}
	out := logs.String()
	for _, want := range []string{`"consumer":"test-ordered"`, `"sequence":1`, `"deliveries":1`, `"deliveries":3`, "parked a message"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure log lacks %s:\n%s", want, out)
		}
	}

	// Replaying the second first is refused: order per referral holds.
	if r, err := n.Store.ReplayParked(c, parked[1].Sequence); err != nil || r[0].Outcome != "waiting" {
		t.Fatalf("replaying out of order: %+v %v", r, err)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	r, err := n.Store.ReplayParked(c, 0)
	if err != nil || len(r) != 2 || r[0].Outcome != "replayed" || r[1].Outcome != "replayed" {
		t.Fatalf("replay all: %+v %v", r, err)
	}
	mu.Lock()
	got := append([]uint64(nil), handled...)
	mu.Unlock()
	if len(got) != 3 || got[1] != a1.Sequence || got[2] != a3.Sequence {
		t.Fatalf("handled in order %v, want [2 %d %d]", got, a1.Sequence, a3.Sequence)
	}
	if p, _ := n.Store.ListParked(c, 0); len(p) != 0 {
		t.Fatalf("still parked after replay: %+v", p)
	}
	// A new commit of the referral now goes straight through.
	if _, err := n.Store.Append(c, bad, a3.Sequence, "", commit("bad", 1)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a new commit handled after the replay", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 4
	})
}

// A store failure is not the message's fault: it is retried, logged and
// counted, and never parks the message; a panicking handler is a failure
// like any other, not a crash.
func TestUnavailableRetriesAndPanicParks(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	var mu sync.Mutex
	var failures []eventstore.ConsumerFailure
	n.Store.Consumers = eventstore.ConsumerPolicy{
		MaxDeliveries: 2,
		Backoff:       func(int) time.Duration { return 10 * time.Millisecond },
		Log:           slog.New(slog.DiscardHandler),
		OnFailure: func(f eventstore.ConsumerFailure) {
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		},
	}
	if _, err := n.Store.Append(c, events.ReferralSubject("u"), 0, "", commit("u", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store.Append(c, events.ReferralSubject("p"), 0, "", commit("p", 1)); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(c)
	done := make(chan error, 1)
	go func() {
		done <- n.Store.ConsumeEvents(cctx, "test-unordered", events.SubjectPrefix+">", false, func(st eventstore.Stored) error {
			if st.Subject == events.ReferralSubject("p") {
				panic("boom")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(failures) < 6 {
				return eventstore.ErrUnavailable
			}
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	waitUntil(t, 10*time.Second, "the panicking message parked", func() bool {
		p, err := n.Store.ListParked(c, 0)
		return err == nil && len(p) == 1
	})
	waitUntil(t, 10*time.Second, "the unavailable one handled in the end", func() bool {
		pending, err := n.Store.ConsumerPending(c, eventstore.EventsStream, "test-unordered")
		return err == nil && pending == 0
	})
	p, _ := n.Store.ListParked(c, 0)
	if p[0].Subject != events.ReferralSubject("p") || !strings.Contains(p[0].Error, "panicked") {
		t.Fatalf("parked %+v", p[0])
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		if f.Subject == events.ReferralSubject("u") && f.Outcome != eventstore.OutcomeRetry {
			t.Fatalf("an unavailable store parked a message: %+v", f)
		}
	}
}
