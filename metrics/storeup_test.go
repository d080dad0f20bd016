package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/refdata"
)

func storeUp(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ntsflow_store_up" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("ntsflow_store_up not exported")
	return 0
}

// A store that cannot write still answers reads, so ntsflow_store_up said
// 1 and the store-unavailable alert stayed quiet while every command
// failed. It now says 0 while writes fail (here JetStream's storage limit,
// error 10023; a full disk alike), and 1 again once there is room.
func TestStoreUpIsZeroWhileWritesFail(t *testing.T) {
	n := storetest.Start(t, storetest.Options{MaxStore: 2 << 20})
	m := metrics.New(nil, n.Store, refdata.Default(), calendar.Default(), "test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if up := storeUp(t, m); up != 1 {
		t.Fatalf("store up %v before anything failed", up)
	}
	free := fillStore(ctx, t, n)
	_, err := n.Store.Append(ctx, events.ReferralSubject("up"), 0, "", events.Commit{Command: "test", Events: []events.Event{{
		ID: "up-0", Type: events.TypePlacementSearched, SchemaVersion: 1, AggregateID: "up",
		OccurredAt: time.Unix(0, 0).UTC(), RecordedAt: time.Unix(0, 0).UTC(), Actor: "t",
		Data: events.PlacementSearched{Track: "in-house"},
	}}})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append past the storage limit: %v", err)
	}
	if up := storeUp(t, m); up != 0 {
		t.Fatalf("store up %v while writes fail", up)
	}
	free()
	// The server counts the space released as the stream's files go.
	if !storetest.WaitFor(10*time.Second, func() bool { return storeUp(t, m) == 1 }) {
		t.Fatal("store up still 0 10s after there was room again")
	}
}

// fillStore fills a node started with MaxStore 2 MiB until JetStream
// refuses writes (its storage limit, as a full disk would); free makes
// room again.
func fillStore(ctx context.Context, t *testing.T, n *storetest.Node) (free func()) {
	t.Helper()
	js := n.Store.JetStream()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILLER", Subjects: []string{"filler.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for i := range 40 { // past the 2 MiB allowed
		if _, err := js.Publish(ctx, fmt.Sprintf("filler.%d", i), block); err != nil {
			break
		}
	}
	return func() {
		t.Helper()
		if err := js.DeleteStream(ctx, "FILLER"); err != nil {
			t.Fatal(err)
		}
	}
}
