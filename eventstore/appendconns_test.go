package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// Appends spread over several connections keep every rule one connection
// kept: of writers racing on the same expected sequence exactly one wins
// and the others are told of the conflict, and a message id sent again on
// another connection is recognised as the same commit.
func TestAppendsAcrossConnectionsKeepVersionsAndIdempotency(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	opened, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := eventstore.Open(opened, n.Conn, eventstore.Config{AppendConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if got := len(store.AppendConnsForTest()); got != 3 {
		t.Fatalf("AppendConns 4 opened %d extra connections, want 3", got)
	}
	subject := events.ReferralSubject("append-pool")
	var last uint64
	for round := range 5 {
		var wins, conflicts int
		expected := last
		var mu sync.Mutex
		var wg sync.WaitGroup
		// Eight writers, two on each connection in turn, expect the same
		// sequence.
		for w := range 8 {
			wg.Go(func() {
				ack, err := store.Append(c, subject, expected, "", commit(fmt.Sprintf("r%d-w%d", round, w), 1))
				mu.Lock()
				defer mu.Unlock()
				var ce *eventstore.ConflictError
				switch {
				case err == nil:
					wins++
					last = ack.Sequence
				case errors.As(err, &ce):
					conflicts++
				default:
					t.Errorf("round %d writer %d: %v", round, w, err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || conflicts != 7 {
			t.Fatalf("round %d: %d writers won and %d were told of a conflict; want 1 and 7", round, wins, conflicts)
		}
	}
	// The same message id four times, one after another, so on each of
	// the four connections in turn: one commit stored. (The server checks
	// the expected sequence before the id, so a resend expects where the
	// subject now stands, as a retry after reloading does.)
	next := events.ReferralSubject("append-pool-id")
	var first uint64
	for i := range 4 {
		ack, err := store.Append(c, next, first, "the-same-command", commit("id-once", 1))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if i == 0 {
			first = ack.Sequence
		} else if !ack.Duplicate || ack.Sequence != first {
			t.Fatalf("send %d: sequence %d duplicate %v; want the first's %d, duplicate", i, ack.Sequence, ack.Duplicate, first)
		}
	}
	got, err := store.Load(c, next)
	if err != nil || len(got) != 1 {
		t.Fatalf("loaded %d commits (%v), want 1", len(got), err)
	}
}
