package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
)

// Issue 21, item 5: the limits hold for every caller, not only the API's
// (the console and the sagas call the engine directly), through each of
// the engine's ways in: Handle, HandlePair and HandleBatch.
func TestEveryWayInKeepsTheLimits(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	before, err := e.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	refusedFor := func(what string, err error, field string) {
		t.Helper()
		var r *aggregates.Refusal
		if !errors.As(err, &r) || r.Kind != aggregates.Invalid || r.Field != field {
			t.Errorf("%s: want an invalid %s, got %v", what, field, err)
		}
	}

	pause := aggregates.PauseAuthority{Authority: "E08000001", Reason: strings.Repeat("a", 501), Until: received.Add(240 * time.Hour), Members: []string{"E08000001"}}
	_, err = engine.Handle(ctx, e, aggregates.Regions, "north-west", aggregates.RegionCommand(pause), engine.Meta{Actor: "console"})
	refusedFor("Handle: a pause reason of 501", err, "reason")

	decided := false
	_, err = engine.HandlePair(ctx, e, aggregates.Regions, "north-west", aggregates.Referrals, "r1",
		aggregates.Allocate{Authority: "E08000007", Reason: "sibling\x00"}, engine.Meta{Actor: "console"},
		func(aggregates.Region, aggregates.Referral, time.Time) ([]events.Event, []events.Event, error) {
			decided = true
			return nil, nil, errors.New("decided on input that breaks its limits")
		})
	refusedFor("HandlePair: an allocation reason with NUL", err, "reason")
	if decided {
		t.Error("HandlePair decided before checking the limits")
	}

	zero := 0
	res := engine.HandleBatch(ctx, e, aggregates.Cares, []engine.BatchItem[aggregates.CareCommand]{
		{ID: "r2", Cmd: aggregates.RecordStrategyDiscussion{Episode: &zero, HeldAt: received, Attendees: []string{"police"}}, Meta: engine.Meta{Actor: "saga"}},
	})
	refusedFor("HandleBatch: episode 0", res[0].Err, "episode")

	if after, _ := e.Store.LastSequence(ctx); after != before {
		t.Errorf("the stream grew from %d to %d", before, after)
	}
}
