package app_test

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// The roster says whom the team's rota would give the next child to and
// why it passes the others over, the rule itself run dry: nothing is
// written. When it would pass over everyone it still says why for each.
func TestRosterSaysWhoIsNextAndWhyOthersArePassedOver(t *testing.T) {
	ctx, eng := useCaseRig(t)
	teams := app.Teams{Engine: eng}
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	now := time.Now()
	set := func(id, name string, cap, other int) {
		t.Helper()
		if _, err := teams.Change(ctx, stockport, "E08000007", id, aggregates.SetWorker{Name: name, CaseloadCap: &cap, OtherCases: other}, engine.Meta{Actor: "sp"}); err != nil {
			t.Fatalf("add %s: %v", id, err)
		}
	}
	// Given: Ann away, Ben at his cap, Cat who left, Dee free.
	set("ann", "Ann Away", 10, 0)
	set("ben", "Ben Busy", 3, 3)
	set("cat", "Cat Gone", 10, 0)
	set("dee", "Dee Free", 10, 2)
	if _, err := teams.Change(ctx, stockport, "E08000007", "ann", aggregates.MarkWorkerAway{Until: now.Add(72 * time.Hour), Reason: "annual leave"}, engine.Meta{Actor: "sp"}); err != nil {
		t.Fatal(err)
	}
	out, err := teams.Change(ctx, stockport, "E08000007", "cat", aggregates.RecordWorkerLeft{}, engine.Meta{Actor: "sp"})
	if err != nil {
		t.Fatal(err)
	}

	// When the roster is read.
	ro, err := teams.Roster(ctx, stockport, "E08000007", now)
	if err != nil {
		t.Fatal(err)
	}
	// Then: Dee is proposed; Ann (away) and Ben (at cap) are passed over.
	if ro.Proposal == nil || ro.Proposal.StaffID != "dee" || ro.NoProposal != nil {
		t.Fatalf("proposal %+v (%v); want dee", ro.Proposal, ro.NoProposal)
	}
	want := map[string]string{"ann": events.SkipWorkerAway, "ben": events.SkipWorkerAtCap, "cat": "", "dee": ""}
	for _, w := range ro.Workers {
		if w.PassedOver != want[w.StaffID] {
			t.Errorf("%s passed over %q; want %q", w.StaffID, w.PassedOver, want[w.StaffID])
		}
	}
	if ro.Next != "ann" || len(ro.Workers) != 4 || !ro.Workers[0].AwayNow || !ro.Workers[2].Left || ro.Workers[3].Caseload != 2 || ro.Workers[3].Other != 2 {
		t.Fatalf("roster: next %q, workers %+v", ro.Next, ro.Workers)
	}
	// Nothing was written by the dry run.
	if again, _ := teams.Team(ctx, stockport, "E08000007"); again.Version != out.Version {
		t.Fatalf("the team moved from version %d to %d on a read", out.Version, again.Version)
	}

	// Given Dee is away too, when the roster is read: no proposal, and
	// each worker still on the rota has its reason.
	if _, err := teams.Change(ctx, stockport, "E08000007", "dee", aggregates.MarkWorkerAway{Until: now.Add(time.Hour), Reason: "training"}, engine.Meta{Actor: "sp"}); err != nil {
		t.Fatal(err)
	}
	ro, err = teams.Roster(ctx, stockport, "E08000007", now)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Proposal != nil || app.Classify(ro.NoProposal).Code != string(aggregates.CodeNoWorkerAvailable) {
		t.Fatalf("proposal %+v, refusal %v; want none available", ro.Proposal, ro.NoProposal)
	}
	want["dee"] = events.SkipWorkerAway
	for _, w := range ro.Workers {
		if w.PassedOver != want[w.StaffID] {
			t.Errorf("all passed over: %s %q; want %q", w.StaffID, w.PassedOver, want[w.StaffID])
		}
	}

	// Another authority does not read the roster; an auditor does.
	manchester := app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"})
	if _, err := teams.Roster(ctx, manchester, "E08000007", now); app.Classify(err).Kind != app.Denied {
		t.Fatalf("Manchester reading Stockport's roster: %v; want Denied", err)
	}
	if _, err := teams.Roster(ctx, app.As(auth.Principal{Name: "au", Kind: auth.Auditor}), "E08000007", now); err != nil {
		t.Fatalf("an auditor reading the roster: %v", err)
	}
}

// An empty team has no proposal, and says so rather than failing.
func TestRosterOfAnEmptyTeam(t *testing.T) {
	ctx, eng := useCaseRig(t)
	ro, err := app.Teams{Engine: eng}.Roster(ctx, app.Anyone(), "E08000007", time.Now())
	if err != nil || ro.Proposal != nil || ro.NoProposal == nil || len(ro.Workers) != 0 {
		t.Fatalf("empty team: %+v, %v", ro, err)
	}
}

// An authority's settings are read by the authority, its region's
// partnership and auditors; not by another region or authority.
func TestAuthoritySettingsReaders(t *testing.T) {
	ctx, eng := useCaseRig(t)
	u := app.Authorities{Engine: eng, Registry: refdata.Default()}
	four := 4
	stockport := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	if _, err := u.Change(ctx, stockport, "E08000007", aggregates.SetPledge{Pledge: &four}, engine.Meta{Actor: "sp"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who  app.Caller
		want bool
	}{
		{stockport, true},
		{app.As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"}), true},
		{app.As(auth.Principal{Name: "au", Kind: auth.Auditor}), true},
		{app.As(auth.Principal{Name: "ne", Kind: auth.Region, Region: "North East"}), false},
		{app.As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"}), false},
	} {
		a, err := u.Settings(ctx, c.who, "E08000007")
		if c.want && (err != nil || !a.PledgeSet || a.Pledge != 4) {
			t.Errorf("%s: %+v, %v", c.who.P.Name, a, err)
		}
		if !c.want && app.Classify(err).Kind != app.Denied {
			t.Errorf("%s: %v; want Denied", c.who.P.Name, err)
		}
	}
}

// A leaver's children are reallocated by the rota, each with the leaving
// as the reason; one the rota cannot place stays to allocate, and says why.
func TestLeaveReallocatesTheLeaversChildren(t *testing.T) {
	ctx, eng := useCaseRig(t)
	reg := refdata.Default()
	teams, refs := app.Teams{Engine: eng, Authorities: reg}, app.Referrals{Engine: eng, Authorities: reg}
	sp := app.As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"})
	m := engine.Meta{Actor: "sp"}
	one, ten := 1, 10
	for _, w := range []struct {
		id  string
		cap *int
	}{{"gus", &ten}, {"hal", &one}} {
		if _, err := teams.Change(ctx, sp, "E08000007", w.id, aggregates.SetWorker{Name: w.id, CaseloadCap: w.cap}, m); err != nil {
			t.Fatal(err)
		}
	}
	var kids []string
	for i, key := range []string{"k1", "k2", "k3"} {
		out, err := refs.Receive(ctx, sp, aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: "C-" + key, ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "sp", IdempotencyKey: key})
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, out.AggregateID)
		// Gus gets the first two, Hal the third.
		staff := "gus"
		if i == 2 {
			staff = "hal"
		}
		if _, err := refs.AllocateWorker(ctx, sp, out.AggregateID, aggregates.AllocateWorker{StaffID: staff, Reason: "test"}, m); err != nil {
			t.Fatal(err)
		}
	}
	// When Gus leaves, with his children reallocated by the rota: Hal is
	// at his cap, so nobody can take them.
	out, moved, err := teams.Leave(ctx, sp, "E08000007", "gus", true, engine.Meta{Actor: "sp", IdempotencyKey: "leave-gus"})
	if err != nil || len(out.Events) != 1 {
		t.Fatalf("leave: %+v, %v", out, err)
	}
	if len(moved) != 2 || moved[0].ReferralID != kids[0] || moved[1].ReferralID != kids[1] {
		t.Fatalf("reallocations %+v; want Gus's two children", moved)
	}
	for _, r := range moved {
		if app.Classify(r.Err).Code != string(aggregates.CodeNoWorkerAvailable) || r.StaffID != "" {
			t.Fatalf("with Hal at his cap: %+v", r)
		}
	}
	// Then with room for Hal, the team leader reallocates what is left.
	three := 3
	if _, err := teams.Change(ctx, sp, "E08000007", "hal", aggregates.SetWorker{Name: "hal", CaseloadCap: &three}, m); err != nil {
		t.Fatal(err)
	}
	ro, err := app.Teams{Engine: eng}.Roster(ctx, sp, "E08000007", time.Now())
	if err != nil || ro.Proposal == nil || ro.Proposal.StaffID != "hal" {
		t.Fatalf("roster after Gus left: %+v, %v", ro.Proposal, err)
	}
	// A leaver's children are reallocated by the rota when it has room.
	if _, err := teams.Change(ctx, sp, "E08000007", "ivy", aggregates.SetWorker{Name: "ivy", CaseloadCap: &ten}, m); err != nil {
		t.Fatal(err)
	}
	_, moved, err = teams.Leave(ctx, sp, "E08000007", "hal", true, engine.Meta{Actor: "sp", IdempotencyKey: "leave-hal"})
	if err != nil || len(moved) != 1 || moved[0].StaffID != "ivy" || moved[0].Err != nil {
		t.Fatalf("Hal leaving: %+v, %v", moved, err)
	}
	tm, _ := teams.Team(ctx, sp, "E08000007")
	if tm.Cases[kids[2]] != "ivy" {
		t.Fatalf("the third child is with %q; want ivy", tm.Cases[kids[2]])
	}
	// Sent again, the same form records and reallocates nothing more.
	again, moved2, err := teams.Leave(ctx, sp, "E08000007", "hal", true, engine.Meta{Actor: "sp", IdempotencyKey: "leave-hal"})
	if err != nil || !again.Replayed || len(moved2) != 1 || moved2[0].StaffID != "ivy" || moved2[0].Err != nil {
		t.Fatalf("the leaving sent again: %+v, %+v, %v", again, moved2, err)
	}
	if tm2, _ := teams.Team(ctx, sp, "E08000007"); tm2.Version != tm.Version {
		t.Fatalf("the repeat moved the team from version %d to %d", tm.Version, tm2.Version)
	}
}
