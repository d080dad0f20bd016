package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
)

// A search may be recorded any number of times on an open referral, so a
// second copy of it is written again unless the engine knows it for a
// repeat: what these tests need to tell dedupe from decision.
func search(offers int) aggregates.RecordPlacementSearch {
	return aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &offers}
}

// shape is how one command reaches the engine's loop.
type shape struct {
	name string
	run  func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error)
}

// referralOnly decides the referral's part of a pair as Handle would, and
// nothing for the region.
func referralOnly(cmd aggregates.Command) func(aggregates.Region, aggregates.Referral, time.Time) ([]events.Event, []events.Event, error) {
	return func(_ aggregates.Region, r aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
		evs, err := aggregates.Referrals.Decide(r, cmd, now)
		return nil, evs, err
	}
}

var shapes = []shape{
	{name: "one", run: func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
		return e.Handle(context.Background(), id, cmd, meta)
	}},
	{name: "two, the second written alone", run: func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
		return engine.HandlePair(context.Background(), e, aggregates.Regions, "north-west", aggregates.Referrals, id, cmd, meta, referralOnly(cmd))
	}},
	{name: "two, both written", run: func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
		return engine.HandlePair(context.Background(), e, aggregates.Regions, "north-west", aggregates.Referrals, id, cmd, meta,
			func(g aggregates.Region, r aggregates.Referral, now time.Time) ([]events.Event, []events.Event, error) {
				_, evs, err := referralOnly(cmd)(g, r, now)
				return []events.Event{events.New(now, events.RegionRotaAdvanced{Region: "north-west", ReferralID: id, Authority: "E08000007", Position: g.Next})}, evs, err
			})
	}},
	{name: "a batch", run: func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
		// A referral this engine holds beside it, so that the command is
		// batched with another wherever the batch's rules allow.
		mate := id + "-mate"
		if _, _, err := e.Load(context.Background(), mate); err != nil {
			t.Fatal(err)
		}
		res := engine.HandleBatch(context.Background(), e, aggregates.Referrals, []engine.BatchItem[aggregates.Command]{
			{ID: id, Cmd: cmd, Meta: meta}, {ID: mate, Cmd: search(0), Meta: engine.Meta{Actor: "t"}}})
		if res[1].Err != nil {
			t.Fatalf("the batch's other command: %v", res[1].Err)
		}
		return res[0].Outcome, res[0].Err
	}},
	{name: "a batch written alone", run: func(t *testing.T, e *engine.Engine, id string, cmd aggregates.Command, meta engine.Meta) (engine.Outcome, error) {
		res := engine.HandleBatch(context.Background(), e, aggregates.Referrals, []engine.BatchItem[aggregates.Command]{{ID: id, Cmd: cmd, Meta: meta}})
		return res[0].Outcome, res[0].Err
	}},
}

// receiveFor receives a shape's own referral, with a mate for the batch,
// through e.
func receiveFor(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	receive(t, e, id)
	receive(t, e, id+"-mate")
}

func commits(t *testing.T, e *engine.Engine, id string) int {
	t.Helper()
	_, stored, err := engine.Load(context.Background(), e.Store, aggregates.Referrals, id)
	if err != nil {
		t.Fatal(err)
	}
	return len(stored)
}

// The same key twice gives the first outcome and writes nothing; the key
// with another request is refused; OnCommitted hears of the first only.
// One, two or a batch, the answers are the same.
func TestLoopIdempotentRetryIsTheSameForEveryShape(t *testing.T) {
	a, _ := twoEngines(t)
	for i, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			id := "idem" + string(rune('a'+i))
			committed := 0
			a.OnCommitted = func(after any, recorded []events.Event) {
				if r, ok := after.(aggregates.Referral); ok && r.Searches > 0 && recorded[0].AggregateID == id {
					committed++
				}
			}
			receiveFor(t, a, id)
			meta := engine.Meta{Actor: "t", IdempotencyKey: "k-" + id}
			first, err := s.run(t, a, id, search(1), meta)
			if err != nil || first.Version != 2 || first.Replayed {
				t.Fatalf("first: %+v, %v", first, err)
			}
			again, err := s.run(t, a, id, search(1), meta)
			if err != nil || !again.Replayed || again.Sequence != first.Sequence || again.Version != first.Version || len(again.Events) != 1 || again.Events[0].ID != first.Events[0].ID {
				t.Fatalf("repeat: %+v, %v; want the first outcome %+v replayed", again, err, first)
			}
			if _, err := s.run(t, a, id, search(2), meta); !errors.Is(err, engine.ErrKeyReused) {
				t.Fatalf("the key with another request: %v, want ErrKeyReused", err)
			}
			if n := commits(t, a, id); n != 2 {
				t.Fatalf("%d commits, want 2: the receipt and one search", n)
			}
			if committed != 1 {
				t.Fatalf("OnCommitted heard of %d searches on the referral, want 1", committed)
			}
		})
	}
	a.OnCommitted = nil
}

// A command sent twice under one message id (a saga's fire handled twice,
// by this instance or by another) is recorded once, and every later copy
// answers with the first's outcome. One, two or a batch: a command written
// with others in one atomic batch carries its message id there too
// (docs/design/atomic-appends.md).
func TestLoopMsgIDDedupesForEveryShape(t *testing.T) {
	a, b := twoEngines(t)
	for i, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			id := "msgid" + string(rune('a'+i))
			receiveFor(t, a, id)
			region := regionCommits(t, a)
			meta := engine.Meta{Actor: "saga", MsgID: "test:" + id + ":search"}
			first, err := s.run(t, a, id, search(1), meta)
			if err != nil || first.Replayed {
				t.Fatalf("first: %+v, %v", first, err)
			}
			wrote := regionCommits(t, a) - region
			// The second copy through the instance that wrote the first
			// (its cache holds it), the third through another (it loads
			// afresh, so every expected sequence it sends is right).
			for copy, e := range []*engine.Engine{a, b} {
				again, err := s.run(t, e, id, search(1), meta)
				if err != nil || !again.Replayed || again.Sequence != first.Sequence || again.Version != first.Version {
					t.Fatalf("copy %d: %+v, %v; want the first outcome %+v replayed", copy+2, again, err, first)
				}
			}
			if n := commits(t, a, id); n != 2 {
				t.Fatalf("%d commits, want 2: the message id was not honoured", n)
			}
			if n := regionCommits(t, a) - region; n != wrote {
				t.Fatalf("the region has %d commits more after three copies, %d after the first: the message id was not honoured", n, wrote)
			}
		})
	}
}

func regionCommits(t *testing.T, e *engine.Engine) int {
	t.Helper()
	_, stored, err := engine.Load(context.Background(), e.Store, aggregates.Regions, "north-west")
	if err != nil {
		t.Fatal(err)
	}
	return len(stored)
}

// HandlePair honours the caller's message id when only its second
// aggregate is written: before the one loop it used the first event's id
// and wrote a saga's repeated fire twice.
func TestPairHonoursMsgID(t *testing.T) {
	a, _ := twoEngines(t)
	receive(t, a, "pairmsg")
	meta := engine.Meta{Actor: "saga", MsgID: "test:pairmsg:search"}
	var outs [2]engine.Outcome
	for i := range outs {
		var err error
		outs[i], err = engine.HandlePair(context.Background(), a, aggregates.Regions, "north-west", aggregates.Referrals, "pairmsg", search(1), meta, referralOnly(search(1)))
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := commits(t, a, "pairmsg"); n != 2 {
		t.Fatalf("%d commits after the same message twice, want 2", n)
	}
	if !outs[1].Replayed || outs[1].Sequence != outs[0].Sequence {
		t.Fatalf("second copy %+v: want the first's outcome (sequence %d) replayed", outs[1], outs[0].Sequence)
	}
}

// A stale If-Match is refused as stale, naming both versions, with
// nothing written; one that is stale only against this engine's cache
// (another instance moved the referral to it) is accepted after a fresh
// load.
func TestLoopStaleIfMatchIsTheSameForEveryShape(t *testing.T) {
	a, b := twoEngines(t)
	for i, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			id := "stale" + string(rune('a'+i))
			receiveFor(t, a, id)
			old := 0
			_, err := s.run(t, a, id, search(1), engine.Meta{Actor: "t", ExpectedVersion: &old})
			var stale *engine.StaleError
			if !errors.As(err, &stale) || stale.Kind != "referral" || stale.Expected != 0 || stale.Current != 1 {
				t.Fatalf("If-Match 0 at version 1: %v, want a stale error", err)
			}
			if n := commits(t, a, id); n != 1 {
				t.Fatalf("%d commits after a stale If-Match, want 1", n)
			}
			if _, err := b.Handle(context.Background(), id, search(0), engine.Meta{Actor: "other instance"}); err != nil {
				t.Fatal(err)
			}
			now := 2 // a's cache still says 1
			out, err := s.run(t, a, id, search(1), engine.Meta{Actor: "t", ExpectedVersion: &now})
			if err != nil || out.Version != 3 {
				t.Fatalf("If-Match 2, current in the store, behind in the cache: %+v, %v", out, err)
			}
		})
	}
}

// A refusal decided on this engine's cache is decided again on a fresh
// load before it is given: here the other instance received the referral
// after this one had found nothing. A refusal the fresh state confirms is
// given, with its reason.
func TestLoopRefusalAfterAFreshLoadIsTheSameForEveryShape(t *testing.T) {
	a, b := twoEngines(t)
	for i, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			id := "fresh" + string(rune('a'+i))
			receive(t, a, id+"-mate")
			var refusal *aggregates.Refusal
			if _, err := s.run(t, a, id, search(1), engine.Meta{Actor: "t"}); !errors.As(err, &refusal) {
				t.Fatalf("a search before the receipt: %v, want a refusal", err)
			}
			receive(t, b, id) // a's cache holds no commits for id
			out, err := s.run(t, a, id, search(1), engine.Meta{Actor: "t"})
			if err != nil || out.Version != 2 {
				t.Fatalf("refused on a stale cache: %+v, %v", out, err)
			}
			if _, err := b.Handle(context.Background(), id, aggregates.Withdraw{Reason: "family-reunion"}, engine.Meta{Actor: "other instance"}); err != nil {
				t.Fatal(err)
			}
			_, err = s.run(t, a, id, search(1), engine.Meta{Actor: "t"})
			if !errors.As(err, &refusal) {
				t.Fatalf("a search on a referral withdrawn by the other instance: %v, want a refusal", err)
			}
			if n := commits(t, a, id); n != 3 {
				t.Fatalf("%d commits, want 3: the receipt, the search, the withdrawal", n)
			}
		})
	}
}
