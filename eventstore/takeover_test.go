package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// consumeUntilDone runs a durable consumer of referral commits until it
// has acknowledged everything on the stream, then stops it.
func consumeUntilDone(t *testing.T, n *storetest.Node, durable string, fn func(eventstore.Stored) error) {
	t.Helper()
	c, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() { done <- n.Store.ConsumeEvents(c, durable, events.ReferralSubject("*"), false, fn) }()
	waitUntil(t, 30*time.Second, durable+" has acknowledged everything", func() bool {
		p, err := n.Store.ConsumerPending(c, eventstore.EventsStream, durable)
		return err == nil && p == 0
	})
	cancel()
	<-done
}

// seqs records the stream sequences a handler was given.
type seqs struct {
	mu  sync.Mutex
	got []uint64
}

func (s *seqs) handle(st eventstore.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, st.Sequence)
	return nil
}

func (s *seqs) sorted() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.got)
	slices.Sort(out)
	return out
}

// One consumer taking over from two starts just after the slower one's
// acknowledgements: it is given every commit either had yet to handle and
// none both had handled; the two are removed; what one of them had parked
// is replayed through the new one's handler; and taking over again, as
// every instance does when it starts, changes nothing.
func TestTakeOverStartsWhereTheSlowestHadGot(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	n.Store.Consumers = eventstore.ConsumerPolicy{MaxDeliveries: 1}
	appendN := func(k int) (last uint64) {
		for range k {
			id := fmt.Sprintf("r%d", time.Now().UnixNano())
			a, err := n.Store.Append(c, events.ReferralSubject(id), 0, "", commit(id, 1))
			if err != nil {
				t.Fatal(err)
			}
			last = a.Sequence
		}
		return last
	}
	appendN(2)
	// "slow" handles the first two commits, the first parked for good.
	consumeUntilDone(t, n, "slow", func(st eventstore.Stored) error {
		if st.Sequence == 1 {
			return fmt.Errorf("%w: cannot handle this one", eventstore.ErrPermanent)
		}
		return nil
	})
	appendN(2)
	consumeUntilDone(t, n, "fast", func(eventstore.Stored) error { return nil })
	last := appendN(2)

	if err := n.Store.TakeOver(c, "joined", events.ReferralSubject("*"), []string{"slow", "fast"}); err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{"slow", "fast"} {
		if _, err := n.Store.ConsumerPending(c, eventstore.EventsStream, old); err == nil {
			t.Fatalf("%s is still there after the take-over", old)
		}
	}
	var got seqs
	cctx, cancel := context.WithCancel(c)
	done := make(chan error, 1)
	go func() {
		done <- n.Store.ConsumeEvents(cctx, "joined", events.ReferralSubject("*"), false, got.handle)
	}()
	defer func() { cancel(); <-done }()
	waitUntil(t, 30*time.Second, "the joined consumer has acknowledged everything", func() bool {
		p, err := n.Store.ConsumerPending(c, eventstore.EventsStream, "joined")
		return err == nil && p == 0 && len(got.sorted()) >= 4
	})
	if s := got.sorted(); !slices.Equal(s, []uint64{3, 4, 5, last}) {
		t.Fatalf("the joined consumer was given %v, want [3 4 5 6]", s)
	}

	// An instance that died between making the joined consumer and
	// removing the others, or an older one still running, leaves one of
	// them there: the next take-over removes it and leaves the joined
	// consumer where it was.
	startOf := func(name string) (uint64, bool) {
		cs, err := n.Store.DurableConsumers(c, eventstore.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range cs {
			if cp.Name == name {
				var cfg struct {
					OptStartSeq uint64 `json:"opt_start_seq"`
				}
				if err := json.Unmarshal(cp.Config, &cfg); err != nil {
					t.Fatal(err)
				}
				return cfg.OptStartSeq, true
			}
		}
		return 0, false
	}
	start, _ := startOf("joined")
	if start != 3 {
		t.Fatalf("the joined consumer starts at %d, want 3", start)
	}
	consumeUntilDone(t, n, "fast", func(eventstore.Stored) error { return nil })
	if err := n.Store.TakeOver(c, "joined", events.ReferralSubject("*"), []string{"slow", "fast"}); err != nil {
		t.Fatal(err)
	}
	if again, _ := startOf("joined"); again != start {
		t.Fatalf("taken over again, the joined consumer starts at %d, not %d", again, start)
	}
	if _, there := startOf("fast"); there {
		t.Fatal("fast, made again, is still there after the next take-over")
	}

	parked, err := n.Store.ListParked(c, 0)
	if err != nil || len(parked) != 1 || parked[0].Consumer != "slow" {
		t.Fatalf("parked %+v (%v), want sequence 1 parked by slow", parked, err)
	}
	r, err := n.Store.ReplayParked(c, 0)
	if err != nil || len(r) != 1 || r[0].Outcome != "replayed" {
		t.Fatalf("replaying what slow parked: %+v %v", r, err)
	}
	if s := got.sorted(); !slices.Equal(s, []uint64{1, 3, 4, 5, last}) {
		t.Fatalf("after the replay the joined consumer was given %v, want [1 3 4 5 6]", s)
	}
}

// When one of the consumers taken over is not there while another is, how
// far it had got is unknown: the new consumer starts from the beginning
// rather than skip a commit it had yet to handle. With none there (a new
// store) it starts from the beginning too.
func TestTakeOverWithOneMissingStartsFromTheBeginning(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	for i := range 3 {
		id := fmt.Sprintf("m%d", i)
		if _, err := n.Store.Append(c, events.ReferralSubject(id), 0, "", commit(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	consumeUntilDone(t, n, "ran", func(eventstore.Stored) error { return nil })
	for _, tc := range []struct {
		durable string
		from    []string
	}{
		{"joined-one-missing", []string{"ran", "never-ran"}},
		{"joined-none-there", []string{"never-ran", "nor-this"}},
	} {
		if err := n.Store.TakeOver(c, tc.durable, events.ReferralSubject("*"), tc.from); err != nil {
			t.Fatal(err)
		}
		var got seqs
		consumeUntilDone(t, n, tc.durable, got.handle)
		if s := got.sorted(); !slices.Equal(s, []uint64{1, 2, 3}) {
			t.Fatalf("%s was given %v, want [1 2 3]", tc.durable, s)
		}
	}
}

// A commit a consumer was still retrying, above others it had
// acknowledged, holds its acknowledgement floor below it: the consumer
// taking over is given it (and the acknowledged ones after it again).
func TestTakeOverGivesWhatWasBeingRetried(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	// The retry comes a minute later: long after the take-over.
	n.Store.Consumers = eventstore.ConsumerPolicy{Backoff: func(int) time.Duration { return time.Minute }}
	for i := range 4 {
		id := fmt.Sprintf("h%d", i)
		if _, err := n.Store.Append(c, events.ReferralSubject(id), 0, "", commit(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	var done seqs
	cctx, cancel := context.WithCancel(c)
	stopped := make(chan error, 1)
	go func() {
		stopped <- n.Store.ConsumeEvents(cctx, "held", events.ReferralSubject("*"), false, func(st eventstore.Stored) error {
			if st.Sequence == 2 {
				return errors.New("the store is slow today")
			}
			return done.handle(st)
		})
	}()
	waitUntil(t, 30*time.Second, "held to handle all but the second commit", func() bool {
		p, err := n.Store.ConsumerPending(c, eventstore.EventsStream, "held")
		return err == nil && p == 1 && len(done.sorted()) == 3
	})
	cancel()
	<-stopped

	if err := n.Store.TakeOver(c, "joined", events.ReferralSubject("*"), []string{"held"}); err != nil {
		t.Fatal(err)
	}
	var got seqs
	consumeUntilDone(t, n, "joined", got.handle)
	if s := got.sorted(); !slices.Equal(s, []uint64{2, 3, 4}) {
		t.Fatalf("the joined consumer was given %v, want [2 3 4]", s)
	}
}
