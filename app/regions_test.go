package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/refdata"
)

// Only a region's own partnership changes its rota, and the use case puts
// the region's authorities in the command, as both faces relied on.
func TestRegionUseCases(t *testing.T) {
	ctx, eng := useCaseRig(t)
	reg := refdata.Default()
	u := app.Regions{Engine: eng, Authorities: reg}
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
	ctx, eng := useCaseRig(t)
	u := app.Authorities{Engine: eng}
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

// The team is the authority's: only it changes its social workers and
// allocates a child to one; a child's care is changed by the authority
// that placed the child.
func TestTeamAndCareUseCases(t *testing.T) {
	ctx, eng := useCaseRig(t)
	reg := refdata.Default()
	teams, refs := app.Teams{Engine: eng}, app.Referrals{Engine: eng, Authorities: reg}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	manchester := app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"})
	auditor := app.As(auth.Principal{Name: "au", Kind: auth.Auditor})
	caseload := 10
	worker := aggregates.SetWorker{Name: "Jo Social", CaseloadCap: &caseload}
	if _, err := teams.Change(ctx, manchester, "E08000007", "sw1", worker, engine.Meta{Actor: "mc"}); app.Classify(err).Kind != app.Denied {
		t.Fatalf("Manchester changing Stockport's team: %v; want Denied", err)
	}
	out, err := teams.Change(ctx, stockport, "E08000007", "sw1", worker, engine.Meta{Actor: "sp"})
	if err != nil || out.Version != 1 || len(out.Events) != 1 {
		t.Fatalf("Stockport adding a worker: %+v, %v", out, err)
	}
	ref, err := refs.Receive(ctx, stockport, aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: "C9", ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "sp", IdempotencyKey: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refs.AllocateWorker(ctx, auditor, ref.AggregateID, aggregates.AllocateWorker{}, engine.Meta{Actor: "au"}); app.Classify(err).Kind != app.Denied {
		t.Fatalf("an auditor allocating a social worker: %v; want Denied", err)
	}
	if _, err := refs.AllocateWorker(ctx, manchester, ref.AggregateID, aggregates.AllocateWorker{}, engine.Meta{Actor: "mc"}); !errors.Is(err, app.ErrNoReferral) {
		t.Fatalf("Manchester allocating a worker to Stockport's child: %v; want no referral", err)
	}
	if _, err := refs.AllocateWorker(ctx, stockport, ref.AggregateID, aggregates.AllocateWorker{}, engine.Meta{Actor: "sp"}); err != nil {
		t.Fatalf("Stockport allocating its child to its worker by rota: %v", err)
	}
	leave := aggregates.RecordLeaveToRemain{Status: "granted"}
	if _, err := refs.Care(ctx, auditor, ref.AggregateID, leave, nil, engine.Meta{Actor: "au"}); app.Classify(err).Kind != app.Denied {
		t.Fatalf("an auditor changing a child's care: %v; want Denied", err)
	}
	if _, err := refs.Care(ctx, manchester, ref.AggregateID, leave, nil, engine.Meta{Actor: "mc"}); !errors.Is(err, app.ErrNoReferral) {
		t.Fatalf("Manchester changing Stockport's child's care: %v; want no referral", err)
	}
}
