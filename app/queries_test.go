package app_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/rota"
	"github.com/ntsflow/ntsflow/wiring"
)

// The views' queries on a real embedded JetStream, with production's
// views from the composition root: what each role sees of the referral
// list, the capacity, timeliness and safeguarding views, decided once for
// both faces (the API refuses a scope beyond the caller's, a page narrows
// it).
func TestQueriesScopeByRole(t *testing.T) {
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := wiring.Build(wiring.Config{Store: node.Store, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(runCtx, wiring.Views); close(done) }()
	defer func() { stop(); <-done }()

	const stockportCode, manchesterCode, cityCode = "E08000007", "E08000003", "E09000001"
	reg := n.Views.Registry
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg, Views: n.Views}}
	q := app.Queries{Views: n.Views}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: stockportCode})
	manchester := app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: manchesterCode})
	northWest := app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	auditor := app.As(auth.Principal{Name: "au", Kind: auth.Auditor})
	received := time.Now().Add(-time.Hour)
	meta := func(k string) engine.Meta { return engine.Meta{Actor: "test", IdempotencyKey: k} }
	receive := func(c app.Caller, cmd aggregates.ReceiveReferral, key string) engine.Outcome {
		t.Helper()
		cmd.Route, cmd.Hotel, cmd.ChildReference, cmd.ReceivedAt = events.RouteHotel, "H", "C-"+key, received
		out, err := u.Receive(ctx, c, cmd, meta(key))
		if err != nil {
			t.Fatalf("receiving %s: %v", key, err)
		}
		return out
	}
	sp := receive(stockport, aggregates.ReceiveReferral{ReceivingAuthority: stockportCode}, "sp")
	mc := receive(manchester, aggregates.ReceiveReferral{ReceivingAuthority: manchesterCode}, "mc")
	city := receive(app.Anyone(), aggregates.ReceiveReferral{ReceivingAuthority: cityCode}, "city")
	gone := receive(manchester, aggregates.ReceiveReferral{ReceivingAuthority: manchesterCode}, "gone")
	if _, err := u.Act(ctx, manchester, gone.AggregateID, app.ActWithdraw, aggregates.Withdraw{Reason: "error"}, meta("withdraw")); err != nil {
		t.Fatal(err)
	}
	referred := receive(northWest, aggregates.ReceiveReferral{Region: "north-west"}, "nw")
	// Allocated to Manchester by hand: awaiting its answer, the referral is
	// the partnership's (it holds it) but the answer is Manchester's.
	allocated, err := u.Allocate(ctx, northWest, referred.AggregateID, aggregates.Allocate{Authority: manchesterCode, Reason: "the child's sibling is there"}, meta("alloc"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Every query below reads after the last write: the wait is the
	// queries' own (At.Min), bounded.
	last := app.At{Min: allocated.Sequence, Wait: 20 * time.Second}
	if _, _, err := q.Referrals(ctx, app.Anyone(), app.ReferralQuery{Filter: projections.ReferralFilter{Limit: 50}}, last); err != nil {
		t.Fatalf("the views did not catch up: %v", err)
	}
	denied := func(t *testing.T, err error) {
		t.Helper()
		var f *app.Forbidden
		if !errors.As(err, &f) || app.Classify(err).Kind != app.Denied {
			t.Fatalf("got %v; want the role refused", err)
		}
	}
	ids := func(p projections.ReferralPage) []string {
		var out []string
		for _, r := range p.Referrals {
			out = append(out, r.ReferralID)
		}
		slices.Sort(out)
		return out
	}
	want := func(ids ...string) []string { slices.Sort(ids); return ids }
	list := func(t *testing.T, c app.Caller, rq app.ReferralQuery) ([]string, app.Scope) {
		t.Helper()
		rq.Filter.Limit = 50
		rd, sc, err := q.Referrals(ctx, c, rq, last)
		if err != nil {
			t.Fatal(err)
		}
		if rd.View != "referrals" || rd.Sequence < allocated.Sequence {
			t.Fatalf("read %q at %d; want the referral list at %d or later", rd.View, rd.Sequence, allocated.Sequence)
		}
		return ids(rd.Result), sc
	}

	t.Run("the referral list: each role its own", func(t *testing.T) {
		if got, _ := list(t, stockport, app.ReferralQuery{}); !slices.Equal(got, want(sp.AggregateID)) {
			t.Errorf("Stockport lists %v; want its own referral only", got)
		}
		if got, _ := list(t, northWest, app.ReferralQuery{}); !slices.Equal(got, want(sp.AggregateID, mc.AggregateID, gone.AggregateID, referred.AggregateID)) {
			t.Errorf("the North West lists %v; want its region's four", got)
		}
		if got, _ := list(t, auditor, app.ReferralQuery{}); !slices.Equal(got, want(sp.AggregateID, mc.AggregateID, gone.AggregateID, city.AggregateID, referred.AggregateID)) {
			t.Errorf("the auditor lists %v; want all five", got)
		}
		if got, _ := list(t, auditor, app.ReferralQuery{Scope: app.Scope{Region: "London"}}); !slices.Equal(got, want(city.AggregateID)) {
			t.Errorf("the auditor asking for London lists %v; want the City's", got)
		}
	})
	t.Run("the referral list: beyond the caller's scope, the API is refused and a page narrowed", func(t *testing.T) {
		_, _, err := q.Referrals(ctx, stockport, app.ReferralQuery{Scope: app.Scope{Authority: manchesterCode}}, last)
		denied(t, err)
		_, _, err = q.Referrals(ctx, northWest, app.ReferralQuery{Scope: app.Scope{Region: "London"}}, last)
		denied(t, err)
		got, sc := list(t, stockport, app.ReferralQuery{Scope: app.Scope{Authority: manchesterCode}, Page: true})
		if !slices.Equal(got, want(sp.AggregateID)) || sc.Authority != stockportCode || !sc.Fixed {
			t.Errorf("Stockport's page asking for Manchester lists %v in %+v; want its own, in its own scope", got, sc)
		}
	})
	t.Run("the at-risk list: running referrals only, with those awaiting the authority's answer", func(t *testing.T) {
		if got, _ := list(t, manchester, app.ReferralQuery{Running: true, Page: true}); !slices.Equal(got, want(mc.AggregateID, referred.AggregateID)) {
			t.Errorf("Manchester's at-risk list is %v; want its open one and the one allocated to it, not the withdrawn", got)
		}
		if got, _ := list(t, manchester, app.ReferralQuery{}); !slices.Equal(got, want(mc.AggregateID, gone.AggregateID, referred.AggregateID)) {
			t.Errorf("Manchester's list is %v; want its own (withdrawn too) and the one allocated to it", got)
		}
		if got, _ := list(t, stockport, app.ReferralQuery{Running: true, Page: true}); !slices.Equal(got, want(sp.AggregateID)) {
			t.Errorf("Stockport's at-risk list is %v; want its own", got)
		}
	})

	t.Run("capacity", func(t *testing.T) {
		_, _, err := q.Capacity(ctx, stockport, app.CapacityQuery{}, last)
		denied(t, err)
		_, _, err = q.Capacity(ctx, northWest, app.CapacityQuery{Scope: app.Scope{Authority: cityCode}}, last)
		denied(t, err)
		rd, sc, err := q.Capacity(ctx, stockport, app.CapacityQuery{Page: true}, last)
		if err != nil || len(rd.Result.Authorities) != 1 || rd.Result.Authorities[0].Code != stockportCode || len(rd.Result.Regions) != 0 || sc.Authority != stockportCode {
			t.Fatalf("Stockport's capacity page: %+v in %+v, %v; want its own row only", rd.Result, sc, err)
		}
		rd, _, err = q.Capacity(ctx, northWest, app.CapacityQuery{Scope: app.Scope{Region: "North West"}}, last)
		if err != nil || len(rd.Result.Regions) != 1 || rd.Result.Regions[0].Name != "North West" {
			t.Fatalf("the North West's capacity: %+v, %v; want its region's row", rd.Result.Regions, err)
		}
		for _, a := range rd.Result.Authorities {
			if a.Region != "North West" {
				t.Errorf("the North West's capacity shows %s of %s", a.Code, a.Region)
			}
		}
		rd, _, err = q.Capacity(ctx, auditor, app.CapacityQuery{}, last)
		if err != nil || len(rd.Result.Regions) < 9 {
			t.Fatalf("the auditor's capacity: %d regions, %v; want England's", len(rd.Result.Regions), err)
		}
	})

	t.Run("timeliness", func(t *testing.T) {
		received := func(t *testing.T, c app.Caller, tq app.TimelinessQuery) int {
			t.Helper()
			rd, _, err := q.Timeliness(ctx, c, tq, last)
			if err != nil {
				t.Fatal(err)
			}
			return rd.Result.Total.Received
		}
		if n := received(t, stockport, app.TimelinessQuery{}); n != 1 {
			t.Errorf("Stockport's timeliness counts %d received; want its own 1", n)
		}
		if n := received(t, stockport, app.TimelinessQuery{Scope: app.Scope{Authority: manchesterCode}, Page: true}); n != 1 {
			t.Errorf("Stockport's page asking for Manchester counts %d received; want its own 1", n)
		}
		if n := received(t, auditor, app.TimelinessQuery{}); n < 3 {
			t.Errorf("the auditor's timeliness counts %d received; want every authority's", n)
		}
		_, _, err := q.Timeliness(ctx, northWest, app.TimelinessQuery{Scope: app.Scope{Authority: cityCode}}, last)
		denied(t, err)
	})

	t.Run("safeguarding", func(t *testing.T) {
		_, err := q.Safeguarding(ctx, manchester, app.Scope{Authority: stockportCode}, last)
		denied(t, err)
		if _, err := q.Safeguarding(ctx, manchester, app.Scope{}, last); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("planning: a forecast for its own, training places for all", func(t *testing.T) {
		// Planning reads the live views: wait until they hold every write.
		if _, _, err := q.Timeliness(ctx, auditor, app.TimelinessQuery{}, last); err != nil {
			t.Fatal(err)
		}
		if _, _, err := q.Capacity(ctx, auditor, app.CapacityQuery{}, last); err != nil {
			t.Fatal(err)
		}
		own := func(c app.Caller, fq app.ForecastQuery) (projections.Forecast, error) {
			return q.Forecast(c, fq, time.Now())
		}
		_, err := own(stockport, app.ForecastQuery{Region: "North West", Authority: manchesterCode})
		denied(t, err)
		_, err = own(stockport, app.ForecastQuery{Region: "North West"})
		denied(t, err)
		_, err = own(northWest, app.ForecastQuery{Region: "London", Authority: cityCode})
		denied(t, err)
		month := received.Format("2006-01")
		f, err := own(stockport, app.ForecastQuery{Region: "North West", Authority: stockportCode})
		if err != nil || f.Scope != stockportCode {
			t.Fatalf("Stockport's own forecast: scope %q, %v; want its own", f.Scope, err)
		}
		if i := slices.IndexFunc(f.History, func(m projections.ForecastMonth) bool { return m.Month == month }); i < 0 || f.History[i].Expected != 1 {
			t.Fatalf("Stockport's forecast history: %+v; want its one referral in %s", f.History, month)
		}
		if f, err := own(auditor, app.ForecastQuery{Region: "London"}); err != nil || f.Scope != "London" {
			t.Fatalf("the auditor's forecast for London: %q, %v", f.Scope, err)
		}
		shares, err := q.TrainingPlaces(10, month, month, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		places, children := 0, map[string]int{}
		for _, sh := range shares {
			places += sh.Places
			children[sh.Authority] = sh.Children
		}
		if places != 10 || children[stockportCode] != 1 || children[cityCode] != 1 {
			t.Fatalf("training places: %+v; want 10 shared among the authorities that received a child", shares)
		}
	})

	t.Run("national: the year's figures by region", func(t *testing.T) {
		year := received.Format("2006")
		rd, err := q.National(year, time.Now())
		if err != nil || rd.Result.Year != year || rd.Sequence < allocated.Sequence {
			t.Fatalf("the national report: %+v at %d, %v", rd.Result, rd.Sequence, err)
		}
		byRegion := map[string]int{}
		for _, r := range rd.Result.Regions {
			byRegion[r.Region] = r.ReceivedInYear
		}
		if byRegion["London"] != 1 || byRegion["North West"] < 3 {
			t.Fatalf("received in %s by region: %v; want London's one and the North West's", year, byRegion)
		}
	})

	t.Run("rota: the region's partnership and auditors", func(t *testing.T) {
		regions := app.Regions{Engine: n.Engine, Authorities: reg}
		facts := rota.Facts{Authorities: reg, Views: n.Views}
		for _, c := range []app.Caller{northWest, auditor} {
			rd, err := regions.Rota(ctx, c, "North West", facts, time.Now())
			if err != nil || len(rd.Order) != len(reg.InRegion("North West")) || rd.Capacity[stockportCode].Code != stockportCode {
				t.Fatalf("%s reading the North West rota: %d in order, Stockport's capacity %+v, %v", c.P.Name, len(rd.Order), rd.Capacity[stockportCode], err)
			}
			if (rd.Proposal == nil) == (rd.NoProposal == nil) {
				t.Fatalf("%s reading the North West rota: proposal %v and no proposal %v; want one of them", c.P.Name, rd.Proposal, rd.NoProposal)
			}
		}
		for _, c := range []app.Caller{stockport, app.As(auth.Principal{Name: "ldn", Kind: auth.Region, Region: "London"})} {
			_, err := regions.Rota(ctx, c, "North West", facts, time.Now())
			denied(t, err)
		}
	})

	t.Run("team: the authority's own, and auditors'", func(t *testing.T) {
		teams := app.Teams{Engine: n.Engine}
		capacity := 10
		if _, err := teams.Change(ctx, stockport, stockportCode, "w1", aggregates.SetWorker{Name: "Ada", CaseloadCap: &capacity}, meta("worker")); err != nil {
			t.Fatal(err)
		}
		for _, c := range []app.Caller{stockport, auditor} {
			team, err := teams.Team(ctx, c, stockportCode)
			if err != nil || len(team.Order) != 1 || team.Workers["w1"].Name != "Ada" {
				t.Fatalf("%s reading Stockport's team: %+v, %v; want Ada", c.P.Name, team, err)
			}
		}
		for _, c := range []app.Caller{manchester, northWest} {
			_, err := teams.Team(ctx, c, stockportCode)
			denied(t, err)
		}
	})

	t.Run("when: as of a past moment, and a wait that runs out", func(t *testing.T) {
		rd, _, err := q.Referrals(ctx, auditor, app.ReferralQuery{Filter: projections.ReferralFilter{Limit: 50}}, app.At{AsOf: received.Add(-time.Hour)})
		if err != nil || len(rd.Result.Referrals) != 0 || rd.AsOf.IsZero() {
			t.Fatalf("the list as of before any referral: %v, as of %v, %v; want none", ids(rd.Result), rd.AsOf, err)
		}
		_, _, err = q.Referrals(ctx, auditor, app.ReferralQuery{}, app.At{Min: allocated.Sequence + 1000, Wait: 50 * time.Millisecond})
		var behind *app.Behind
		if !errors.As(err, &behind) || behind.Has < allocated.Sequence || behind.Want != allocated.Sequence+1000 {
			t.Fatalf("waiting for a sequence never written: %v; want Behind", err)
		}
	})
}
