package publisher_test

import (
	"context"
	"testing"
	"time"

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
	eng := &engine.Engine{Store: n.Store, Log: quiet}
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
	if err := p.Handle(ctx, st); err != nil {
		t.Fatal(err)
	}
}
