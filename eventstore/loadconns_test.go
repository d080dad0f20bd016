package eventstore_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// Loads spread over several connections return exactly what was appended,
// commit for commit, while appends go on beside them.
func TestLoadsAcrossConnectionsReturnWhatWasAppended(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	store := openWithLoadConns(t, n, 4)
	if got := len(store.LoadConnsForTest()); got != 3 {
		t.Fatalf("LoadConns 4 opened %d extra connections, want 3", got)
	}
	const subjects, commitsEach = 60, 6
	// Subjects interleaved in the stream, so a load that strayed onto
	// another subject's messages would show.
	want := make([][]uint64, subjects)
	for i := range commitsEach {
		for s := range subjects {
			var last uint64
			if len(want[s]) > 0 {
				last = want[s][len(want[s])-1]
			}
			ack, err := n.Store.Append(c, events.ReferralSubject(fmt.Sprintf("pool-%d", s)), last, "", commit(fmt.Sprintf("p%d-%d", s, i), 1))
			if err != nil {
				t.Fatal(err)
			}
			want[s] = append(want[s], ack.Sequence)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40*subjects)
	for g := range 40 {
		wg.Go(func() {
			for k := range subjects {
				s := (g + k) % subjects
				got, err := store.Load(c, events.ReferralSubject(fmt.Sprintf("pool-%d", s)))
				if err != nil {
					errs <- err
					continue
				}
				if len(got) != len(want[s]) {
					errs <- fmt.Errorf("pool-%d: %d commits loaded, %d appended", s, len(got), len(want[s]))
					continue
				}
				for i, st := range got {
					id := fmt.Sprintf("p%d-%d-0", s, i)
					if st.Sequence != want[s][i] || len(st.Commit.Events) != 1 || st.Commit.Events[0].ID != id {
						errs <- fmt.Errorf("pool-%d commit %d: sequence %d event %v, want sequence %d event %s", s, i, st.Sequence, st.Commit.Events, want[s][i], id)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A pool connection that has failed makes the loads sent on it fail, saying
// which connection and that the store is unavailable; the others still
// load. Nothing is retried out of sight on another connection, so a broken
// connection shows in errors and logs rather than only as slowness.
func TestLoadOnAFailedPoolConnectionIsReported(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	c := ctx(t)
	store := openWithLoadConns(t, n, 4)
	subj := events.ReferralSubject("pool-broken")
	if _, err := n.Store.Append(c, subj, 0, "", commit("b", 1)); err != nil {
		t.Fatal(err)
	}
	store.LoadConnsForTest()[1].Close()
	failed := 0
	for range 8 {
		got, err := store.Load(c, subj)
		if err != nil {
			failed++
			if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "(loads 2)") {
				t.Errorf("load on the closed connection: %v; want ErrUnavailable naming the connection", err)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("loaded %d commits, want 1", len(got))
		}
	}
	// Round robin over four connections: two of eight loads land on the
	// closed one.
	if failed != 2 {
		t.Errorf("%d of 8 loads failed, want the 2 sent on the closed connection", failed)
	}
}

// Close closes the pool's connections and no others.
func TestCloseClosesOnlyThePool(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	store := openWithLoadConns(t, n, 3)
	store.Close()
	store.Close()
	for i, nc := range store.LoadConnsForTest() {
		if !nc.IsClosed() {
			t.Errorf("pool connection %d still open after Close", i)
		}
	}
	if n.Conn.IsClosed() {
		t.Error("Close closed the connection the store was opened on")
	}
	if _, err := n.Store.Load(ctx(t), events.ReferralSubject("x")); err != nil {
		t.Errorf("the first store no longer loads: %v", err)
	}
}
