package wiring_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

func TestBuildNeedsAStore(t *testing.T) {
	if _, err := wiring.Build(wiring.Config{}); !errors.Is(err, wiring.ErrNoStore) {
		t.Fatalf("no store: %v", err)
	}
}

// The node's engine is production's: a receipt records the referral and
// its deadline in one commit, and the metrics count the append.
func TestTheEngineIsProductions(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	node, err := wiring.Build(wiring.Config{Store: n.Store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	received := time.Now().Add(-time.Hour).UTC()
	c := aggregates.ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-1", ReceivedAt: received}
	if _, err := node.Engine.Handle(ctx, "r1", c, engine.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	_, stored, err := node.Engine.Load(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || len(stored[0].Commit.Events) != 2 || stored[0].Commit.Events[1].Type != events.TypeDeadlineSet {
		t.Fatalf("the receipt's commit: %+v", stored)
	}
	want, err := node.DeadlinePolicy.Compute(node.API.Calendar, events.RouteHotel, received)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := stored[0].Commit.Events[1].Data.(events.DeadlineSet)
	if !ok {
		t.Fatalf("deadline.set carries %T", stored[0].Commit.Events[1].Data)
	}
	if !got.DueAt.Equal(want.DueAt) || got.Policy != node.DeadlinePolicy.Version {
		t.Fatalf("deadline %+v, want %+v", got, want)
	}
	rec := httptest.NewRecorder()
	node.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "ntsflow_appends_total 1") {
		t.Fatalf("the append is not counted:\n%s", rec.Body.String())
	}
}

// What a test leaves out it says: with NoViews the API answers that this
// instance serves no views, as it did before the root.
func TestNoViewsLeavesTheViewsOutOfTheFaces(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	node, err := wiring.Build(wiring.Config{Store: n.Store, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	if node.API.Views != nil || node.Console.Views != nil || node.Views == nil {
		t.Fatalf("views: api %v, console %v, node %v", node.API.Views, node.Console.Views, node.Views)
	}
	ts := httptest.NewServer(node.API.Handler())
	defer ts.Close()
	res, err := http.Get(ts.URL + "/v1/capacity")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("capacity without views: %d", res.StatusCode)
	}
}
