package publisher_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/publisher"
	"github.com/ntsflow/ntsflow/refdata"
)

// A referral whose subject begins with a message an operator voided (it
// has no events): the publisher still publishes the referral's events.
func TestPublishesAReferralWhoseFirstMessageWasVoided(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	ctx := context.Background()
	bad, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject("v1"), []byte(`not a commit`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Void(ctx, eng, engine.VoidRequest{Subject: events.ReferralSubject("v1"), Sequence: bad.Sequence, Reason: "published by hand"}, engine.Meta{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	out, err := eng.Handle(ctx, "v1", aggregates.ReceiveReferral{ReferralID: "v1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-V1", ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher.Publisher{Engine: eng, Store: n.Store, Registry: refdata.Default(), Log: quiet}
	var st eventstore.Stored
	if err := n.Store.ReadRange(ctx, out.Sequence, out.Sequence, func(s eventstore.Stored) error { st = s; return nil }); err != nil {
		t.Fatal(err)
	}
	msgs, err := p.Messages(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d public messages for the receipt, want 1", len(msgs))
	}
}

// A message on a referral's subject that does not decode is parked by the
// publisher, and the referral's later commits wait behind it. Once an
// operator voids it, a replay clears it and what waited is published, in
// order.
func TestAVoidReleasesWhatWaitedBehindAParkedMessage(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	ctx := context.Background()
	runPublisher(t, n, eng)
	parked := func(want int) []eventstore.Parked {
		t.Helper()
		var p []eventstore.Parked
		var err error
		if !storetest.WaitFor(15*time.Second, func() bool {
			p, err = n.Store.ListParked(ctx, 0)
			return err != nil || len(p) == want
		}) {
			t.Fatalf("%d parked, want %d: %+v", len(p), want, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	placed := func() uint64 {
		t.Helper()
		str, err := n.Store.JetStream().Stream(ctx, eventstore.PublicStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := str.Info(ctx, jetstream.WithSubjectFilter("nts.public.>"))
		if err != nil {
			t.Fatal(err)
		}
		var total uint64
		for subj, c := range info.State.Subjects {
			if strings.HasSuffix(subj, ".placed") {
				total += c
			}
		}
		return total
	}
	if _, err := eng.Handle(ctx, "w1", aggregates.ReceiveReferral{ReferralID: "w1", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-W1", ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "tester"}); err != nil {
		t.Fatal(err)
	}
	bad, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject("w1"), []byte(`not a commit`))
	if err != nil {
		t.Fatal(err)
	}
	parked(1)
	if _, err := engine.Void(ctx, eng, engine.VoidRequest{Subject: events.ReferralSubject("w1"), Sequence: bad.Sequence, Reason: "published by hand"}, engine.Meta{Actor: "operator"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Handle(ctx, "w1", aggregates.Place{PlacementType: "U4", Provider: "P", PlacedAt: time.Now().Add(-time.Minute)}, engine.Meta{Actor: "tester"}); err != nil {
		t.Fatal(err)
	}
	// The void and the placement wait behind the parked message.
	parked(3)
	if placed() != 0 {
		t.Fatal("a commit was published past a parked one of its referral")
	}
	res, err := n.Store.ReplayParked(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != "replayed" {
			t.Errorf("replay of %d: %s %s", r.StreamSequence, r.Outcome, r.Err)
		}
	}
	parked(0)
	if got := placed(); got != 1 {
		t.Fatalf("%d placements published after the replay, want 1", got)
	}
}
