package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
)

// The referral's use cases on a real embedded JetStream: who may receive,
// change and answer, decided once for both faces, and nothing written when
// the answer is no.
func TestReferralUseCases(t *testing.T) {
	ctx, eng := useCaseRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: eng, Authorities: reg, Rota: rota.Facts{Authorities: reg}}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	manchester := app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"})
	northWest := app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	received := time.Now().Add(-time.Hour)
	meta := func(k string) engine.Meta { return engine.Meta{Actor: "test", IdempotencyKey: k} }
	kindOf := func(err error) app.Kind { return app.Classify(err).Kind }

	t.Run("an authority receives only its own referrals", func(t *testing.T) {
		cmd := aggregates.ReceiveReferral{ReceivingAuthority: "E08000003", Route: events.RouteHotel, Hotel: "H", ChildReference: "C1", ReceivedAt: received}
		_, err := u.Receive(ctx, stockport, cmd, meta("k1"))
		var denied *app.Forbidden
		if !errors.As(err, &denied) || denied.Field != "receivingAuthority" || kindOf(err) != app.Denied {
			t.Fatalf("Stockport receiving for Manchester: %v; want Forbidden on receivingAuthority", err)
		}
		ref, _, err := eng.Load(ctx, engine.NewReferralID("E08000003", "k1"))
		if err != nil || ref.Status != aggregates.StatusNone {
			t.Fatalf("a refused receipt wrote: %s, %v", ref.Status, err)
		}
	})
	t.Run("an authority does not refer into a region", func(t *testing.T) {
		cmd := aggregates.ReceiveReferral{Region: "north-west", Route: events.RouteHotel, Hotel: "H", ChildReference: "C2", ReceivedAt: received}
		if _, err := u.Receive(ctx, stockport, cmd, meta("k2")); kindOf(err) != app.Denied {
			t.Fatalf("Stockport referring into the North West: %v; want Denied", err)
		}
	})

	own, err := u.Receive(ctx, stockport, aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "C3", ReceivedAt: received}, meta("k3"))
	if err != nil {
		t.Fatal(err)
	}
	if own.AggregateID != engine.NewReferralID("E08000007", "k3") {
		t.Fatalf("the id minted is %q, not the one the key names", own.AggregateID)
	}
	notify := aggregates.NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "team leader"}

	t.Run("another authority's referral is no referral", func(t *testing.T) {
		if _, err := u.Act(ctx, manchester, own.AggregateID, app.ActNotify, notify, meta("k4")); !errors.Is(err, app.ErrNoReferral) || kindOf(err) != app.NotFound {
			t.Fatalf("Manchester notifying on Stockport's referral: %v; want no referral", err)
		}
	})
	t.Run("the region reads but does not change an authority's referral", func(t *testing.T) {
		if _, err := u.Act(ctx, northWest, own.AggregateID, app.ActNotify, notify, meta("k5")); kindOf(err) != app.Denied {
			t.Fatalf("the North West notifying on Stockport's referral: %v; want Denied", err)
		}
	})
	t.Run("the authority changes its own", func(t *testing.T) {
		// Version 3: production's receipt carries its deadline (two events).
		out, err := u.Act(ctx, stockport, own.AggregateID, app.ActNotify, notify, meta("k6"))
		if err != nil || out.Version != 3 {
			t.Fatalf("Stockport notifying on its referral: version %d, %v", out.Version, err)
		}
	})
	t.Run("an answer is given for the caller's authority", func(t *testing.T) {
		// Stockport's referral was received directly: nothing to accept,
		// which the decider (not the role rule) says.
		_, err := u.Act(ctx, stockport, own.AggregateID, app.ActAccept, aggregates.AcceptAllocation{Authority: "E08000003"}, meta("k7"))
		if kindOf(err) != app.Refused {
			t.Fatalf("accepting a referral received directly: %v; want the decider's refusal", err)
		}
		if _, err := u.Act(ctx, northWest, own.AggregateID, app.ActAccept, aggregates.AcceptAllocation{}, meta("k8")); kindOf(err) != app.Denied {
			t.Fatalf("a region accepting: %v; want Denied", err)
		}
	})
	t.Run("only the region's partnership allocates, and only what awaits allocation", func(t *testing.T) {
		auditor := app.As(auth.Principal{Name: "au", Kind: auth.Auditor})
		now := time.Now()
		if _, err := u.Allocate(ctx, northWest, own.AggregateID, aggregates.Allocate{}, meta("k10"), nil, now); kindOf(err) != app.Refused {
			t.Fatalf("allocating a referral received directly: %v; want the refusal", err)
		}
		referred, err := u.Receive(ctx, northWest, aggregates.ReceiveReferral{Region: "north-west", Route: events.RouteHotel, Hotel: "H", ChildReference: "C4", ReceivedAt: received}, meta("k11"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Allocate(ctx, auditor, referred.AggregateID, aggregates.Allocate{}, meta("k12"), nil, now); kindOf(err) != app.Denied {
			t.Fatalf("an auditor allocating: %v; want Denied", err)
		}
		if _, err := u.Allocate(ctx, stockport, referred.AggregateID, aggregates.Allocate{}, meta("k13"), nil, now); !errors.Is(err, app.ErrNoReferral) {
			t.Fatalf("an authority allocating a referral it cannot see: %v; want no referral", err)
		}
		out, err := u.Allocate(ctx, northWest, referred.AggregateID, aggregates.Allocate{}, meta("k14"), nil, now)
		if err != nil || out.Version != 3 {
			t.Fatalf("the North West allocating its referral: version %d, %v", out.Version, err)
		}
	})
	t.Run("If-Match on an id never used is no referral", func(t *testing.T) {
		v := 3
		m := meta("k9")
		m.ExpectedVersion = &v
		if _, err := u.Act(ctx, app.Anyone(), "never-used", app.ActNotify, notify, m); !errors.Is(err, app.ErrNoReferral) {
			t.Fatalf("If-Match on a new id: %v; want no referral", err)
		}
	})
}
