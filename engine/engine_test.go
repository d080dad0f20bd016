package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

var received = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

func newEngine(t *testing.T) *engine.Engine {
	n := storetest.Start(t, storetest.Options{})
	return &engine.Engine{Store: n.Store, Now: func() time.Time { return received.Add(48 * time.Hour) }}
}

func receive(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-1", ReceivedAt: received}
	if _, err := e.Handle(context.Background(), id, c, engine.Meta{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
}

// Two writers race on one referral, many times: one placement wins, the
// other reloads, decides again on the new state, and is refused with a
// reason; or, for commands that both may do, both land, one after the
// other, never on the same version.
func TestRacingWritersOnOneReferral(t *testing.T) {
	e := newEngine(t)
	for round := range 40 {
		id := fmt.Sprintf("race%d", round)
		receive(t, e, id)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		outs := make([]engine.Outcome, 2)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[w], errs[w] = e.Handle(context.Background(), id, aggregates.Place{PlacementType: "U1", Provider: fmt.Sprint("carer", w), PlacedAt: received.Add(time.Hour)}, engine.Meta{Actor: fmt.Sprint("w", w)})
			}()
		}
		wg.Wait()
		wins := 0
		for w := range 2 {
			var r *aggregates.Refusal
			switch {
			case errs[w] == nil:
				wins++
				if outs[w].Version != 2 {
					t.Fatalf("round %d: winner at version %d", round, outs[w].Version)
				}
			case errors.As(errs[w], &r) && r.Code == "already_placed":
			default:
				t.Fatalf("round %d: writer %d: %v", round, w, errs[w])
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d placements won", round, wins)
		}
		ref, stored, err := e.Load(context.Background(), id)
		if err != nil || ref.Version != 2 || len(stored) != 2 {
			t.Fatalf("round %d: version %d, %d commits, %v", round, ref.Version, len(stored), err)
		}
	}
}

func TestRacingCompatibleCommandsBothLand(t *testing.T) {
	e := newEngine(t)
	receive(t, e, "r1")
	var wg sync.WaitGroup
	versions := make(chan int, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.Handle(context.Background(), "r1", aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: &w}, engine.Meta{})
			if err != nil {
				t.Error(err)
				return
			}
			versions <- out.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[int]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("two commands landed on version %d", v)
		}
		seen[v] = true
	}
	if ref, _, _ := e.Load(context.Background(), "r1"); ref.Version != 9 || ref.Searches != 8 {
		t.Fatalf("version %d searches %d", ref.Version, ref.Searches)
	}
}

func TestSameKeyTwiceGivesOneEventAndTheFirstOutcome(t *testing.T) {
	e := newEngine(t)
	receive(t, e, "r1")
	cmd := aggregates.Place{PlacementType: "U1", Provider: "carer", PlacedAt: received.Add(time.Hour)}
	first, err := e.Handle(context.Background(), "r1", cmd, engine.Meta{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	// Later commands move the referral on; the repeat still finds its outcome.
	if _, err := e.Handle(context.Background(), "r1", aggregates.RecordLeftCare{LeftAt: received.Add(2 * time.Hour), Reason: "moved"}, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	again, err := e.Handle(context.Background(), "r1", cmd, engine.Meta{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Sequence != first.Sequence || again.Version != first.Version || again.Events[0].ID != first.Events[0].ID {
		t.Fatalf("first %+v\nagain %+v", first, again)
	}
	_, err = e.Handle(context.Background(), "r1", aggregates.Place{PlacementType: "K2", Provider: "home", PlacedAt: received}, engine.Meta{IdempotencyKey: "k1"})
	if !errors.Is(err, engine.ErrKeyReused) {
		t.Fatalf("a different command with the same key: %v", err)
	}
	if ref, _, _ := e.Load(context.Background(), "r1"); ref.Version != 3 {
		t.Fatalf("version %d, want 3", ref.Version)
	}
}

// Concurrent copies of one keyed command: the server's message id dedupe
// and the history check together give one commit, and every copy the same
// outcome.
func TestConcurrentCopiesOfOneCommand(t *testing.T) {
	e := newEngine(t)
	for round := range 20 {
		id := fmt.Sprintf("dup%d", round)
		receive(t, e, id)
		cmd := aggregates.NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "tl"}
		var wg sync.WaitGroup
		outs := make([]engine.Outcome, 4)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if outs[w], err = e.Handle(context.Background(), id, cmd, engine.Meta{IdempotencyKey: "same"}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for w := 1; w < 4; w++ {
			if outs[w].Sequence != outs[0].Sequence || outs[w].Events[0].ID != outs[0].Events[0].ID {
				t.Fatalf("round %d: different outcomes %+v %+v", round, outs[0], outs[w])
			}
		}
		if ref, _, _ := e.Load(context.Background(), id); ref.Version != 2 {
			t.Fatalf("round %d: version %d", round, ref.Version)
		}
	}
}

func TestIfMatchStaleVersion(t *testing.T) {
	e := newEngine(t)
	receive(t, e, "r1")
	v := 0
	_, err := e.Handle(context.Background(), "r1", aggregates.Withdraw{Reason: "error"}, engine.Meta{ExpectedVersion: &v})
	var stale *engine.StaleError
	if !errors.As(err, &stale) || stale.Current != 1 {
		t.Fatalf("want stale at version 1, got %v", err)
	}
	v = 1
	if _, err := e.Handle(context.Background(), "r1", aggregates.Withdraw{Reason: "error"}, engine.Meta{ExpectedVersion: &v}); err != nil {
		t.Fatal(err)
	}
}

func TestAdultAssessmentIsOneCommitOfTwoEvents(t *testing.T) {
	e := newEngine(t)
	receive(t, e, "r1")
	if _, err := e.Handle(context.Background(), "r1", aggregates.RequestAgeAssessment{Method: "naab"}, engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	out, err := e.Handle(context.Background(), "r1", aggregates.RecordAgeAssessment{Method: "naab", Outcome: "adult"}, engine.Meta{Actor: "sw", CorrelationID: "corr"})
	if err != nil {
		t.Fatal(err)
	}
	ref, stored, _ := e.Load(context.Background(), "r1")
	last := stored[len(stored)-1]
	if len(stored) != 3 || len(last.Commit.Events) != 2 || last.Sequence != out.Sequence || ref.Status != aggregates.StatusWithdrawn || out.Version != 4 {
		t.Fatalf("commits %d, last %+v, state %+v", len(stored), last, ref)
	}
	for _, ev := range last.Commit.Events {
		if ev.Actor != "sw" || ev.CorrelationID != "corr" || ev.AggregateID != "r1" || ev.ID == "" || ev.RecordedAt.IsZero() {
			t.Fatalf("envelope not filled: %+v", ev)
		}
	}
}

func TestNewReferralIDIsStablePerKeyAndAuthority(t *testing.T) {
	a, b := engine.NewReferralID("E08000007", "k"), engine.NewReferralID("E08000007", "k")
	c := engine.NewReferralID("E09000001", "k")
	if a != b || a == c || engine.NewReferralID("E08000007", "") == engine.NewReferralID("E08000007", "") {
		t.Fatal("ids not derived as documented")
	}
}
