package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

func notifyItems(ids ...string) []engine.BatchItem[aggregates.Command] {
	var items []engine.BatchItem[aggregates.Command]
	for _, id := range ids {
		items = append(items, engine.BatchItem[aggregates.Command]{ID: id, Cmd: notify, Meta: engine.Meta{Actor: "t"}})
	}
	return items
}

// Given referrals this engine holds, their commands land as one atomic
// batch: consecutive sequences, each on its own referral, each version
// one more.
func TestHandleBatchWritesOneBatch(t *testing.T) {
	a, _ := twoEngines(t)
	for _, id := range []string{"b1", "b2", "b3"} {
		receive(t, a, id)
	}
	res := engine.HandleBatch(context.Background(), a, aggregates.Referrals, notifyItems("b1", "b2", "b3"))
	for i, r := range res {
		if r.Err != nil || r.Outcome.Version != 2 || len(r.Outcome.Events) != 1 {
			t.Fatalf("item %d: %+v", i, r)
		}
		if i > 0 && r.Outcome.Sequence != res[i-1].Outcome.Sequence+1 {
			t.Fatalf("sequences %d then %d: not one batch", res[i-1].Outcome.Sequence, r.Outcome.Sequence)
		}
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		ref, stored, err := a.Load(context.Background(), id)
		if err != nil || len(stored) != 2 || len(ref.Professions) != 3 {
			t.Fatalf("%s after the batch: %d commits, %v", id, len(stored), err)
		}
	}
}

// When another instance moved one referral, the batch conflicts and
// nothing of it is written: every item runs alone, decided again, and a
// command the new state refuses is refused with a reason. An item the
// engine has not loaded runs alone from the start.
func TestHandleBatchConflictRunsEachAlone(t *testing.T) {
	a, b := twoEngines(t)
	for _, id := range []string{"c1", "c2"} {
		receive(t, a, id)
	}
	receive(t, b, "c3") // a has never seen c3
	if _, err := b.Handle(context.Background(), "c2", notify, engine.Meta{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	res := engine.HandleBatch(context.Background(), a, aggregates.Referrals, notifyItems("c1", "c2", "c3"))
	if res[0].Err != nil || res[0].Outcome.Version != 2 {
		t.Fatalf("c1: %+v", res[0])
	}
	var refusal *aggregates.Refusal
	if !errors.As(res[1].Err, &refusal) || refusal.Code != aggregates.CodeAlreadyNotified {
		t.Fatalf("c2, notified meanwhile by the other instance: %+v; want already notified", res[1])
	}
	if res[2].Err != nil || res[2].Outcome.Version != 2 {
		t.Fatalf("c3: %+v", res[2])
	}
	_, stored, err := a.Load(context.Background(), "c2")
	if err != nil || len(stored) != 2 {
		t.Fatalf("c2 holds %d commits (%v): the conflicting batch wrote something", len(stored), err)
	}
}

// appendsOf counts the engine's append attempts from now on.
func appendsOf(e *engine.Engine) *atomic.Int64 {
	var n atomic.Int64
	e.OnAppend = func(error) { n.Add(1) }
	return &n
}

// When one referral of a batch moved, the batch is refused whole; the
// others did not move, so they are written as one more batch, and only
// the one that moved runs alone: three writes for twelve commands, not
// one each.
func TestHandleBatchWritesAgainWhatDidNotMove(t *testing.T) {
	a, b := twoEngines(t)
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = fmt.Sprint("m", i)
		receive(t, a, ids[i])
	}
	if _, err := b.Handle(context.Background(), "m5", notify, engine.Meta{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	appends := appendsOf(a)
	res := engine.HandleBatch(context.Background(), a, aggregates.Referrals, notifyItems(ids...))
	var refusal *aggregates.Refusal
	for i, r := range res {
		if i == 5 {
			if !errors.As(r.Err, &refusal) || refusal.Code != aggregates.CodeAlreadyNotified {
				t.Fatalf("m5, notified meanwhile by the other instance: %+v; want already notified", r)
			}
			continue
		}
		if r.Err != nil || r.Outcome.Version != 2 {
			t.Fatalf("m%d: %+v", i, r)
		}
	}
	// The refused batch, the batch of the eleven, and m5 alone (which
	// decides nothing on a fresh load and writes nothing).
	if got := appends.Load(); got != 2 {
		t.Fatalf("%d appends for a batch of 12 with one moved; want 2 (the refused batch and the batch of the others)", got)
	}
}

// Items that bring the commits they were decided on are batched even when
// the engine holds none of them (its cache overrun by a burst, here
// turned off).
func TestHandleBatchOnTheCommitsItsItemsBring(t *testing.T) {
	a, _ := twoEngines(t)
	ids := []string{"h1", "h2", "h3", "h4"}
	for _, id := range ids {
		receive(t, a, id)
	}
	cold := coldEngine(a)
	items := notifyItems(ids...)
	for i := range items {
		_, stored, err := engine.Load(context.Background(), a.Store, aggregates.Referrals, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		items[i].Stored = stored
	}
	appends := appendsOf(cold)
	res := engine.HandleBatch(context.Background(), cold, aggregates.Referrals, items)
	for i, r := range res {
		if r.Err != nil || r.Outcome.Version != 2 {
			t.Fatalf("%s: %+v", ids[i], r)
		}
	}
	if got := appends.Load(); got != 1 {
		t.Fatalf("%d appends for 4 commands on the commits they brought; want one batch", got)
	}
}
