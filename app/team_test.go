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
