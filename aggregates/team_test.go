package aggregates

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// A team of three: sw1 (cap 2), sw2 (cap 15, 14 other cases), sw3 (cap 15).
func team3(t *testing.T, extra ...TeamCommand) Team {
	t.Helper()
	g := Team{Authority: "E08000007"}
	cmds := []TeamCommand{
		SetWorker{StaffID: "sw1", Name: "One", CaseloadCap: intp(2)},
		SetWorker{StaffID: "sw2", Name: "Two", CaseloadCap: intp(15), OtherCases: 14},
		SetWorker{StaffID: "sw3", Name: "Three", CaseloadCap: intp(15)},
	}
	for _, c := range append(cmds, extra...) {
		g = mustTeam(t, g, c)
	}
	return g
}

func mustTeam(t *testing.T, g Team, c TeamCommand) Team {
	t.Helper()
	evs, err := DecideTeam(g, c, now)
	if err != nil {
		t.Fatalf("%s: %v", c.CommandName(), err)
	}
	for _, e := range evs {
		g = EvolveTeam(g, e)
	}
	return g
}

func allocatedTo(t *testing.T, g Team, c AllocateWorker) (events.WorkerAllocated, Team) {
	t.Helper()
	c.Received = true
	evs, err := DecideTeam(g, c, now)
	if err != nil {
		t.Fatalf("allocate %s: %v", c.ReferralID, err)
	}
	return evs[0].Data.(events.WorkerAllocated), EvolveTeam(g, evs[0])
}

func teamRefusal(t *testing.T, g Team, c TeamCommand) *Refusal {
	t.Helper()
	_, err := DecideTeam(g, c, now)
	var r *Refusal
	if !errors.As(err, &r) || r.Message == "" {
		t.Fatalf("%s: want a refusal, got %v", c.CommandName(), err)
	}
	return r
}

func TestTeamRotaInTurn(t *testing.T) {
	g := team3(t)
	var got []string
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		var a events.WorkerAllocated
		a, g = allocatedTo(t, g, AllocateWorker{ReferralID: id})
		got = append(got, a.StaffID)
	}
	// sw1, then sw2 (14 others + 1 = 15, now at cap), sw3, then sw1 again.
	if want := []string{"sw1", "sw2", "sw3", "sw1"}; !slices.Equal(got, want) {
		t.Fatalf("rota gave %v, want %v", got, want)
	}
	// sw1 now has two (at its cap of 2); next comes sw2, at its cap: the
	// rota passes over it, saying so, and gives sw3.
	a, g := allocatedTo(t, g, AllocateWorker{ReferralID: "c5"})
	if a.StaffID != "sw3" || len(a.Skipped) != 1 || a.Skipped[0] != (events.WorkerSkip{StaffID: "sw2", Reason: events.SkipWorkerAtCap}) {
		t.Fatalf("c5: %+v", a)
	}
	// Then round again: sw1 and sw2 at their caps, sw3 once more.
	if a, _ := allocatedTo(t, g, AllocateWorker{ReferralID: "c6"}); a.StaffID != "sw3" || len(a.Skipped) != 2 {
		t.Fatalf("c6: %+v", a)
	}
}

func TestTeamSkipsAndRefusals(t *testing.T) {
	g := team3(t, MarkWorkerAway{StaffID: "sw1", Until: now.Add(7 * 24 * time.Hour), Reason: "annual leave"})
	a, g := allocatedTo(t, g, AllocateWorker{ReferralID: "c1"})
	if a.StaffID != "sw2" || a.Skipped[0] != (events.WorkerSkip{StaffID: "sw1", Reason: events.SkipWorkerAway}) {
		t.Fatalf("away: %+v", a)
	}
	if r := teamRefusal(t, g, AllocateWorker{ReferralID: "c1", Received: true}); r.Code != CodeAlreadyAllocated {
		t.Fatalf("twice: %v", r)
	}
	if r := teamRefusal(t, g, AllocateWorker{ReferralID: "c9"}); r.Code != CodeNotReceived {
		t.Fatalf("not received: %v", r)
	}
	if r := teamRefusal(t, g, AllocateWorker{ReferralID: "c2", StaffID: "sw3", Received: true}); r.Field != "reason" {
		t.Fatalf("a choice without a reason: %v", r)
	}
	chosen, g2 := allocatedTo(t, g, AllocateWorker{ReferralID: "c2", StaffID: "sw3", Reason: "speaks Pashto"})
	if !chosen.Chosen || chosen.StaffID != "sw3" || g2.Next != g.Next {
		t.Fatalf("a chosen worker does not move the rota: %+v next %d -> %d", chosen, g.Next, g2.Next)
	}
	// Everyone away or at cap: a refusal naming each.
	full := team3(t, MarkWorkerAway{StaffID: "sw1", Until: now.Add(time.Hour), Reason: "training"},
		SetWorker{StaffID: "sw2", Name: "Two", CaseloadCap: intp(14), OtherCases: 14},
		MarkWorkerAway{StaffID: "sw3", Until: now.Add(time.Hour), Reason: "sick"})
	if r := teamRefusal(t, full, AllocateWorker{ReferralID: "c1", Received: true}); r.Code != CodeNoWorkerAvailable {
		t.Fatalf("none available: %v", r)
	}
	for name, c := range map[string]TeamCommand{
		"no cap":       SetWorker{StaffID: "sw9", Name: "N"},
		"no name":      SetWorker{StaffID: "sw9", Name: " ", CaseloadCap: intp(3)},
		"bad id":       SetWorker{StaffID: "a b", Name: "N", CaseloadCap: intp(3)},
		"away, past":   MarkWorkerAway{StaffID: "sw1", Until: now.Add(-time.Hour), Reason: "x"},
		"away, nobody": MarkWorkerAway{StaffID: "zz", Until: now.Add(time.Hour), Reason: "x"},
		"unchanged":    SetWorker{StaffID: "sw3", Name: "Three", CaseloadCap: intp(15)},
	} {
		t.Run(name, func(t *testing.T) { teamRefusal(t, team3(t), c) })
	}
}

func TestWorkerLeavesAndChildrenAreReallocated(t *testing.T) {
	g := team3(t)
	_, g = allocatedTo(t, g, AllocateWorker{ReferralID: "c1"}) // sw1
	evs, err := DecideTeam(g, RecordWorkerLeft{StaffID: "sw1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	left := evs[0].Data.(events.WorkerLeft)
	if len(left.Reallocate) != 1 || left.Reallocate[0] != "c1" {
		t.Fatalf("left: %+v", left)
	}
	g = EvolveTeam(g, evs[0])
	if r := teamRefusal(t, g, AllocateWorker{ReferralID: "c1", Received: true}); r.Field != "reason" {
		t.Fatalf("reallocation without a reason: %v", r)
	}
	a, g := allocatedTo(t, g, AllocateWorker{ReferralID: "c1", Reason: "sw1 left the team"})
	if a.StaffID == "sw1" || a.Previous != "sw1" || len(g.Workers["sw1"].Children) != 0 || g.Cases["c1"] != a.StaffID {
		t.Fatalf("reallocated: %+v, team %+v", a, g)
	}
	if r := teamRefusal(t, g, SetWorker{StaffID: "sw1", Name: "One", CaseloadCap: intp(3)}); r.Code != CodeWorkerLeft {
		t.Fatalf("a leaver rejoins: %v", r)
	}
}
