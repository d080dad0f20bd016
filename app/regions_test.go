package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
)

// Only a region's own partnership changes its rota, and the use case puts
// the region's authorities in the command, as both faces relied on.
func TestRegionUseCases(t *testing.T) {
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := node.Store.ChainKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := refdata.Default()
	u := app.Regions{Engine: &engine.Engine{Store: node.Store, Log: slog.New(slog.DiscardHandler), ChainKey: key}, Authorities: reg}
	members := reg.InRegion("North West")
	pause := aggregates.PauseAuthority{Authority: members[0], Reason: "placement pressures", Until: time.Now().Add(72 * time.Hour)}
	northEast := app.As(auth.Principal{Name: "ne", Kind: auth.Region, Region: "North East"})
	if _, err := u.Change(ctx, northEast, "North West", pause, engine.Meta{Actor: "ne"}); app.Classify(err).Kind != app.Denied {
		t.Fatalf("the North East pausing a North West authority: %v; want Denied", err)
	}
	northWest := app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	out, err := u.Change(ctx, northWest, "North West", pause, engine.Meta{Actor: "nw"})
	if err != nil || out.Version != 1 {
		t.Fatalf("the North West pausing its authority: version %d, %v", out.Version, err)
	}
	end := aggregates.EndPause{Authority: members[0], Reason: "pressures eased"}
	if _, err := u.Change(ctx, northWest, "North West", end, engine.Meta{Actor: "nw"}); err != nil {
		t.Fatalf("the North West ending the pause: %v", err)
	}
}

// Only the authority sets its own pledge and contact; the region that
// allocates to it does not.
func TestAuthorityUseCases(t *testing.T) {
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := node.Store.ChainKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := app.Authorities{Engine: &engine.Engine{Store: node.Store, Log: slog.New(slog.DiscardHandler), ChainKey: key}}
	four := 4
	pledge := aggregates.SetPledge{Pledge: &four}
	northWest := app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	if _, err := u.Change(ctx, northWest, "E08000007", pledge, engine.Meta{Actor: "nw"}); app.Classify(err).Kind != app.Denied {
		t.Fatalf("the North West setting Stockport's pledge: %v; want Denied", err)
	}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	out, err := u.Change(ctx, stockport, "E08000007", pledge, engine.Meta{Actor: "sp"})
	if err != nil || out.Version != 1 || out.AggregateID != "E08000007" {
		t.Fatalf("Stockport setting its pledge: %+v, %v", out, err)
	}
}
