package api_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// GET /v1/parked shows what a consumer parked; POST /v1/parked/replay hands
// it back once the handler is fixed.
func TestParkedListedAndReplayed(t *testing.T) {
	ts, n := newServer(t)
	id := create(t, ts.URL)
	n.Store.Consumers = eventstore.ConsumerPolicy{MaxDeliveries: 2, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
	var fixed atomic.Bool
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Store.ConsumeEvents(ctx, "test-consumer", "nts.events.>", true, func(st eventstore.Stored) error {
			if !fixed.Load() {
				return errors.New("no rule for this commit")
			}
			return nil
		})
	}()
	defer func() { cancel(); <-done }()
	var list []any
	for deadline := time.Now().Add(10 * time.Second); len(list) == 0; time.Sleep(10 * time.Millisecond) { // a poll interval
		if time.Now().After(deadline) {
			t.Fatal("nothing parked")
		}
		r := do(t, "GET", ts.URL+"/v1/parked", "")
		if r.status != 200 {
			t.Fatalf("GET /v1/parked: %d %s", r.status, r.body)
		}
		list, _ = r.json(t)["parked"].([]any)
	}
	p := list[0].(map[string]any)
	if p["consumer"] != "test-consumer" || p["subject"] != "nts.events.referral."+id || p["error"] != "no rule for this commit" || p["deliveries"] != 2.0 {
		t.Fatalf("parked: %v", p)
	}
	fixed.Store(true)
	r := do(t, "POST", ts.URL+"/v1/parked/replay", `{}`)
	res, _ := r.json(t)["results"].([]any)
	if r.status != 200 || len(res) != 1 || res[0].(map[string]any)["outcome"] != "replayed" {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", ts.URL+"/v1/parked/replay", `{"sequence":99}`); r.status != 404 {
		t.Fatalf("replay of nothing: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", ts.URL+"/v1/parked", ""); len(r.json(t)["parked"].([]any)) != 0 {
		t.Fatalf("still parked: %s", r.body)
	}
}
