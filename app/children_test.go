package app_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/rota"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// The children in care on a real embedded JetStream, with production's
// views: each role sees its own children, auditors see them without their
// references, a reference used twice resolves to both, and a child's
// journey holds the care recorded through the care use case and the
// social worker the team allocated.
func TestChildrenScopeByRoleAndJourney(t *testing.T) {
	ctx, n := viewsRig(t)

	const stockportCode, manchesterCode, cityCode = "E08000007", "E08000003", "E09000001"
	reg := n.Views.Registry
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg, Views: n.Views}}
	q := app.Queries{Views: n.Views}
	facts := app.CareFacts{Authorities: reg, Rules: safeguarding.DefaultPolicy().Rules()}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: stockportCode})
	manchester := app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: manchesterCode})
	northWest := app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	auditor := app.As(auth.Principal{Name: "au", Kind: auth.Auditor})
	received := time.Now().Add(-2 * time.Hour)
	meta := func(k string) engine.Meta { return engine.Meta{Actor: "test", IdempotencyKey: k} }
	receive := func(c app.Caller, code, child, key string) string {
		t.Helper()
		out, err := u.Receive(ctx, c, aggregates.ReceiveReferral{ReceivingAuthority: code, Route: events.RouteHotel, Hotel: "H", ChildReference: child, ReceivedAt: received}, meta(key))
		if err != nil {
			t.Fatalf("receiving %s: %v", key, err)
		}
		return out.AggregateID
	}
	sp := receive(stockport, stockportCode, "HO-1", "sp")
	again := receive(stockport, stockportCode, "ho-1", "sp-again") // the same child, referred again
	mc := receive(manchester, manchesterCode, "HO-2", "mc")
	city := receive(app.Anyone(), cityCode, "HO-3", "city")
	if _, err := u.Act(ctx, stockport, sp, app.ActPlace, aggregates.Place{PlacementType: "U1", Provider: "Foster carers", PlacedAt: received.Add(time.Hour)}, meta("place")); err != nil {
		t.Fatal(err)
	}
	if _, err := (app.Teams{Engine: n.Engine}).Change(ctx, stockport, stockportCode, "sw1", aggregates.SetWorker{Name: "Jo Smith", CaseloadCap: ptr(10)}, meta("jo")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.AllocateWorker(ctx, stockport, sp, aggregates.AllocateWorker{}, meta("alloc")); err != nil {
		t.Fatal(err)
	}
	// Manchester may not record Stockport's child missing; Stockport may.
	missing := aggregates.ReportMissing{MissingAt: time.Now().Add(-time.Minute), LastSeen: "the park", PoliceReference: "GMP-1"}
	var denied *app.Forbidden
	if _, err := u.Care(ctx, manchester, sp, missing, facts.Complete, meta("mc-missing")); !errors.Is(err, app.ErrNoReferral) && !errors.As(err, &denied) {
		t.Errorf("Manchester recorded Stockport's child missing: %v", err)
	}
	out, err := u.Care(ctx, stockport, sp, missing, facts.Complete, meta("missing"))
	if err != nil {
		t.Fatal(err)
	}
	last := app.At{Min: out.Sequence, Wait: 20 * time.Second}

	list := func(t *testing.T, c app.Caller, cq app.ChildrenQuery) (map[string]projections.ChildRow, error) {
		t.Helper()
		rd, _, err := q.Children(ctx, c, cq, last)
		if err != nil {
			return nil, err
		}
		if rd.View != "children" || rd.Sequence < out.Sequence {
			t.Fatalf("read %q at %d; want the children view at %d or later", rd.View, rd.Sequence, out.Sequence)
		}
		m := map[string]projections.ChildRow{}
		for _, r := range rd.Result.Children {
			m[r.ReferralID] = r
		}
		return m, nil
	}
	keys := func(m map[string]projections.ChildRow) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	want := func(ids ...string) []string { slices.Sort(ids); return ids }

	t.Run("each role its own children", func(t *testing.T) {
		got, err := list(t, stockport, app.ChildrenQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys(got), want(sp, again)) {
			t.Errorf("Stockport lists %v; want its two", keys(got))
		}
		c := got[sp]
		if c.CareStatus != projections.CareMissing || c.ChildReference != "HO-1" || c.SocialWorker != "Jo Smith" || c.NextDue == nil || c.NextDue.What != projections.DueStrategy {
			t.Errorf("Stockport's missing child: %+v", c)
		}
		if got, _ := list(t, northWest, app.ChildrenQuery{}); !slices.Equal(keys(got), want(sp, again, mc)) {
			t.Errorf("the North West lists %v; want its region's three", keys(got))
		}
		got, _ = list(t, auditor, app.ChildrenQuery{})
		if !slices.Equal(keys(got), want(sp, again, mc, city)) {
			t.Errorf("the auditor lists %v; want all four", keys(got))
		}
		for _, r := range got {
			if r.ChildReference != "" {
				t.Errorf("the auditor reads the child's reference %q", r.ChildReference)
			}
		}
	})
	t.Run("beyond the scope: the API refuses, a page narrows", func(t *testing.T) {
		if _, err := list(t, stockport, app.ChildrenQuery{Scope: app.Scope{Authority: manchesterCode}}); app.Classify(err).Kind != app.Denied {
			t.Errorf("Stockport asking for Manchester's children: %v; want refused", err)
		}
		got, err := list(t, stockport, app.ChildrenQuery{Scope: app.Scope{Authority: manchesterCode}, Page: true})
		if err != nil || !slices.Equal(keys(got), want(sp, again)) {
			t.Errorf("Stockport's page asking for Manchester's: %v, %v; want its own", keys(got), err)
		}
		if _, err := list(t, auditor, app.ChildrenQuery{Child: "HO-"}); app.Classify(err).Kind != app.Denied {
			t.Errorf("the auditor searched by a child's reference: %v", err)
		}
	})
	t.Run("a reference used twice names both children; another authority's names none", func(t *testing.T) {
		rows, err := q.ChildNamed(ctx, stockport, "HO-1", last)
		if err != nil || len(rows) != 2 {
			t.Errorf("HO-1 for Stockport: %d rows, %v; want 2", len(rows), err)
		}
		if rows, _ := q.ChildNamed(ctx, manchester, "HO-1", last); len(rows) != 0 {
			t.Errorf("Manchester resolves Stockport's HO-1: %+v", rows)
		}
		if rows, _ := q.ChildNamed(ctx, stockport, "HO-", last); len(rows) != 0 {
			t.Errorf("a reference's start resolves to %+v; want only exact references", rows)
		}
	})
	t.Run("the journey", func(t *testing.T) {
		j, err := u.Journey(ctx, stockport, sp, app.ReadOf{View: app.ViewJourney})
		if err != nil {
			t.Fatal(err)
		}
		if len(j.Care.Episodes) != 1 || len(j.Workers) != 1 || j.Workers[0].Name != "Jo Smith" {
			t.Errorf("journey: care %+v, workers %+v", j.Care.Episodes, j.Workers)
		}
		if got := stockport.CareActions(j.Referral, j.Care, facts, time.Now()); !slices.Equal(got, []string{app.ActReturned, app.ActStrategy, app.ActDateOfBirth}) {
			t.Errorf("a missing child's care actions: %v", got)
		}
		if _, err := u.Journey(ctx, manchester, sp, app.ReadOf{View: app.ViewJourney}); !errors.Is(err, app.ErrNoReferral) {
			t.Errorf("Manchester reads Stockport's child's journey: %v", err)
		}
	})
}

func ptr(n int) *int { return &n }
