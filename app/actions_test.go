package app

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Every action offered is accepted and every action refused is not
// offered: from a new referral, every command a person or a saga can send
// is tried against every state the commands reach (breadth first, as
// aggregates/identity_test.go explores them), and in each state the
// actions offered are held to the decider, tried with commands of the
// test's own (several well-formed ones for each action, not the dry run's).

var (
	wNow       = time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC)
	wReceived  = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	wRespondBy = wReceived.Add(30 * time.Hour)
	wMembers   = refdata.Default().InRegion("North West")
)

// allocate stands for the allocation, decided with the region as the
// engine decides it.
type allocate struct{ aggregates.Allocate }

func (allocate) CommandName() string { return "allocate" }

// reachable lists the referral states the commands reach within depth.
func reachable(t *testing.T, depth int) []aggregates.Referral {
	t.Helper()
	region := aggregates.Regions.Start("north-west")
	deadline := events.DeadlineSet{Route: events.RouteHotel, Policy: "p1", WorkingDays: 5, DueAt: wReceived.Add(7 * 24 * time.Hour), WarningAt: wReceived.Add(6 * 24 * time.Hour)}
	cmds := []aggregates.Command{
		aggregates.ReceiveReferral{ReferralID: "r1", Region: "north-west", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1", ReceivedAt: wReceived},
		aggregates.ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteEntryAuthority, TransferringAuthority: "E10000016", ChildReference: "HO-1", ReceivedAt: wReceived},
		allocate{aggregates.Allocate{Members: wMembers, RespondBy: wRespondBy}},
		allocate{aggregates.Allocate{Authority: "E08000007", Reason: "sibling placed there", Members: wMembers, RespondBy: wRespondBy}},
		aggregates.AcceptAllocation{}, aggregates.RaiseAllocationException{Reason: "no placement"},
		aggregates.RecordAllocationReminder{RespondBy: wRespondBy},
		aggregates.RecordAllocationEscalation{RespondBy: wRespondBy, EscalatedTo: "rsmp-lead"},
		aggregates.NotifyProfessionals{Professions: []string{"health", "police"}, NotifiedBy: "team leader"},
		aggregates.NotifyProfessionals{Professions: aggregates.Professions.List(), NotifiedBy: "team leader"},
		aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: ptr(1), PlacementTypes: []string{"U4"}},
		aggregates.RequestAgeAssessment{Method: "merton-compliant"},
		aggregates.RecordAgeAssessment{Method: "naab", Outcome: events.AgeOutcomeChild},
		aggregates.RecordAgeAssessment{Method: "naab", Outcome: events.AgeOutcomeAdult},
		aggregates.Place{PlacementType: "U1", Provider: "Foster carers", PlacedAt: wReceived.Add(24 * time.Hour)},
		aggregates.Withdraw{Reason: "family-reunion"},
		aggregates.RecordLeftCare{LeftAt: wNow, Reason: "moved"},
		aggregates.SetDeadline{Deadline: deadline},
		aggregates.RecordDeadlineWarning{Deadline: deadline.DueAt, EscalatedTo: "team-leader"},
		aggregates.RecordDeadlineBreach{Deadline: deadline.DueAt, EscalatedTo: "team-leader"},
	}
	decide := func(r aggregates.Referral, cmd aggregates.Command) ([]events.Event, error) {
		if a, ok := cmd.(allocate); ok {
			_, evs, err := aggregates.DecideAllocation(region, r, a.Allocate, wNow)
			return evs, err
		}
		return aggregates.Decide(r, cmd, wNow)
	}
	key := func(r aggregates.Referral) string {
		r.Version = 0
		r.Searches, r.OffersFound = min(r.Searches, 2), min(r.OffersFound, 2)
		return fmt.Sprintf("%+v", r)
	}
	return explore(aggregates.Referrals.Start("r1"), key, depth, func(s aggregates.Referral) []aggregates.Referral {
		var out []aggregates.Referral
		for _, cmd := range cmds {
			if evs, err := decide(s, cmd); err == nil {
				out = append(out, fold(s, evs, aggregates.Evolve))
			}
		}
		return out
	})
}

// explore lists the states reachable from start within depth steps,
// breadth first, each once by its key.
func explore[S any](start S, key func(S) string, depth int, next func(S) []S) []S {
	seen := map[string]bool{key(start): true}
	states, frontier := []S{start}, []S{start}
	for d := 0; d < depth && len(frontier) > 0; d++ {
		var found []S
		for _, s := range frontier {
			for _, n := range next(s) {
				if k := key(n); !seen[k] {
					seen[k] = true
					found = append(found, n)
				}
			}
		}
		states = append(states, found...)
		frontier = found
	}
	return states
}

// fold applies decided events to a state, as the engine does for "r1".
func fold[S any](s S, evs []events.Event, evolve func(S, events.Event) S) S {
	for _, e := range evs {
		e.AggregateID = "r1"
		s = evolve(s, e)
	}
	return s
}

func ptr(n int) *int { return &n }

// tries are the test's own well-formed commands for each action, as
// different people filling its form in correctly would send them.
func tries(action string, r aggregates.Referral, answering string) []aggregates.Command {
	placedAt := later(wNow.Add(-time.Hour), r.ReceivedAt)
	switch action {
	case ActAccept:
		return []aggregates.Command{aggregates.AcceptAllocation{Authority: answering}}
	case ActException:
		return []aggregates.Command{aggregates.RaiseAllocationException{Authority: answering, Reason: "we have no placement"}}
	case ActNotify:
		var out []aggregates.Command
		for _, p := range aggregates.Professions.List() {
			out = append(out, aggregates.NotifyProfessionals{Professions: []string{p}, NotifiedBy: "Jane"})
		}
		return out
	case ActSearch:
		return []aggregates.Command{
			aggregates.RecordPlacementSearch{Track: "commissioned", OffersFound: ptr(2), PlacementTypes: []string{"U4", "H5"}},
			aggregates.RecordPlacementSearch{Track: "in-house", OffersFound: ptr(0)},
		}
	case ActAgeRequest:
		return []aggregates.Command{aggregates.RequestAgeAssessment{Method: "naab", Reason: "disputed"}}
	case ActAge:
		return []aggregates.Command{
			aggregates.RecordAgeAssessment{Method: "merton-compliant", Outcome: events.AgeOutcomeChild},
			aggregates.RecordAgeAssessment{Method: "naab", Outcome: events.AgeOutcomeAdult, AssessedDateOfBirth: "2006-01-01"},
		}
	case ActPlace:
		return []aggregates.Command{
			aggregates.Place{PlacementType: "K2", Provider: "Oak House", PlacedAt: placedAt},
			aggregates.Place{PlacementType: "H5", Provider: "Supported lodgings", PlacedAt: wNow},
		}
	case ActWithdraw:
		var out []aggregates.Command
		for _, reason := range aggregates.WithdrawalReasons.List() {
			out = append(out, aggregates.Withdraw{Reason: reason, Detail: "recorded by the test"})
		}
		return out
	case ActLeftCare:
		return []aggregates.Command{aggregates.RecordLeftCare{LeftAt: wNow, Reason: "eighteen"}, aggregates.RecordLeftCare{LeftAt: wNow, Reason: "moved"}}
	}
	t := fmt.Sprintf("no commands for action %q: add them here", action)
	panic(t)
}

func TestActionsOfferedAreTheActionsAccepted(t *testing.T) {
	states := reachable(t, 6)
	statuses := map[aggregates.Status]bool{}
	for _, r := range states {
		statuses[r.Status] = true
	}
	for _, s := range []aggregates.Status{aggregates.StatusNone, aggregates.StatusAwaitingAllocation, aggregates.StatusAwaitingAcceptance, aggregates.StatusOpen, aggregates.StatusPlaced, aggregates.StatusWithdrawn, aggregates.StatusLeftCare} {
		if !statuses[s] {
			t.Fatalf("the search never reached a referral %s; it reached %v", s, statuses)
		}
	}
	callers := map[string]Caller{
		"anyone (sign-in off)":  Anyone(),
		"Stockport":             As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"}),
		"Manchester":            As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"}),
		"the North West region": As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"}),
		"an auditor":            As(auth.Principal{Name: "au", Kind: auth.Auditor}),
	}
	offeredAtAll := map[string]bool{}
	for _, r := range states {
		for who, c := range callers {
			answering, _ := c.Answering()
			offered := c.Actions(r, wNow)
			for _, a := range ActionNames {
				accepted := false
				for _, cmd := range tries(a, r, answering) {
					if _, err := aggregates.Decide(r, cmd, wNow); err == nil {
						accepted = true
					}
				}
				may := c.May(a, r)
				switch on := slices.Contains(offered, a); {
				case on && !accepted:
					t.Errorf("%s is offered %q on a referral %s at version %d, but the decider refuses it", who, a, r.Status, r.Version)
				case on && !may:
					t.Errorf("%s is offered %q on a referral %s, which the role may not do", who, a, r.Status)
				case !on && accepted && may:
					t.Errorf("%s is not offered %q on a referral %s, which the decider accepts and the role may do", who, a, r.Status)
				}
				if slices.Contains(offered, a) {
					offeredAtAll[a] = true
				}
			}
		}
	}
	for _, a := range ActionNames {
		if !offeredAtAll[a] {
			t.Errorf("%q is never offered in any of %d states: the test proves nothing about it", a, len(states))
		}
	}
	t.Logf("%d reachable referral states, %d callers", len(states), len(callers))
}

// The case the console got wrong: a referral awaiting allocation is
// offered neither notify, search, age assessment nor placement, which the
// decider refuses until an authority has accepted it.
func TestAwaitingAllocationOffersOnlyWithdrawal(t *testing.T) {
	r := aggregates.Referrals.Start("r1")
	evs, err := aggregates.Decide(r, aggregates.ReceiveReferral{ReferralID: "r1", Region: "north-west", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1", ReceivedAt: wReceived}, wNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		r = aggregates.Evolve(r, e)
	}
	if r.Status != aggregates.StatusAwaitingAllocation {
		t.Fatalf("status %s, want awaiting allocation", r.Status)
	}
	nw := As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"})
	if got := nw.Actions(r, wNow); !slices.Equal(got, []string{ActWithdraw}) {
		t.Errorf("the region is offered %v on a referral awaiting allocation; want only %q", got, ActWithdraw)
	}
	if got := Anyone().Actions(r, wNow); !slices.Equal(got, []string{ActWithdraw}) {
		t.Errorf("with sign-in off, %v is offered on a referral awaiting allocation; want only %q", got, ActWithdraw)
	}
}

// The same for the care actions: every state a placed (or not yet placed,
// or gone) child's care reaches by the commands people and the
// safeguarding saga send, crossed with the referral's statuses, holds the
// care actions offered to the decider, tried with the test's own commands.
var wRules = aggregates.MissingRules{Policy: "p1", EarlyWithinDays: 7, StrategyWithin: 24 * time.Hour, InterviewWithin: 72 * time.Hour, WarnBefore: 24 * time.Hour}

func careReachable(t *testing.T, ref aggregates.Referral, f CareFacts, depth int) []aggregates.Care {
	t.Helper()
	h := time.Hour
	one := 1
	cmds := []aggregates.CareCommand{
		aggregates.ReportMissing{MissingAt: wNow.Add(-5 * h), LastSeen: "school", PoliceReference: "GMP-1"},
		aggregates.ReportMissing{MissingAt: wNow.Add(-h), LastSeen: "park", PoliceReference: "GMP-2"},
		aggregates.RecordReturn{ReturnedAt: wNow.Add(-3 * h), WhereFound: "friend's"},
		aggregates.RecordReturn{ReturnedAt: wNow, WhereFound: "placement"},
		aggregates.NotifySafeguarding{Episode: 1, Parties: []string{events.PartyPolice}},
		aggregates.RecordStrategyDiscussion{HeldAt: wNow.Add(-4 * h), Attendees: []string{"police"}},
		aggregates.RecordStrategyDiscussion{Episode: &one, HeldAt: wNow, Attendees: []string{"police", "health"}},
		aggregates.RecordReturnInterview{OfferedAt: wNow, OfferedBy: "advocate", Accepted: true},
		aggregates.RecordStrategyOverdue{Episode: 1}, aggregates.RecordStrategyOverdue{Episode: 2},
		aggregates.RecordInterviewWarning{Episode: 1}, aggregates.RecordInterviewBreach{Episode: 1},
		aggregates.SetDateOfBirth{DateOfBirth: "2010-04-01"},
	}
	key := func(c aggregates.Care) string { c.Version = 0; return fmt.Sprintf("%+v", c) }
	return explore(aggregates.Cares.Start("r1"), key, depth, func(s aggregates.Care) []aggregates.Care {
		var out []aggregates.Care
		for _, cmd := range cmds {
			// The saga's records are decided when their time has come.
			if evs, err := aggregates.DecideCare(s, f.Complete(ref, cmd), wNow.Add(100*time.Hour)); err == nil {
				out = append(out, fold(s, evs, aggregates.EvolveCare))
			}
		}
		return out
	})
}

// careTries are the test's own well-formed commands for each care action.
func careTries(action string, ref aggregates.Referral, care aggregates.Care) []aggregates.CareCommand {
	last, _ := care.Episode(0)
	after := func(t time.Time) time.Time { return later(later(wNow.Add(-30*time.Minute), ref.PlacedAt), t) }
	switch action {
	case ActReportMissing:
		return []aggregates.CareCommand{aggregates.ReportMissing{MissingAt: after(last.ReturnedAt), LastSeen: "the shop", PoliceReference: "GMP-9"}}
	case ActReturned:
		return []aggregates.CareCommand{aggregates.RecordReturn{ReturnedAt: after(last.MissingAt), WhereFound: "the station"}, aggregates.RecordReturn{ReturnedAt: wNow, WhereFound: "home"}}
	case ActStrategy:
		return []aggregates.CareCommand{aggregates.RecordStrategyDiscussion{HeldAt: after(last.MissingAt), Attendees: []string{"police", "social-care"}}}
	case ActInterview:
		return []aggregates.CareCommand{aggregates.RecordReturnInterview{OfferedAt: after(last.ReturnedAt), OfferedBy: "Jo, independent advocate", Accepted: false}}
	case ActDateOfBirth:
		return []aggregates.CareCommand{aggregates.SetDateOfBirth{DateOfBirth: "2010-04-01"}, aggregates.SetDateOfBirth{DateOfBirth: "2011-09-30"}}
	}
	panic(fmt.Sprintf("no commands for care action %q: add them here", action))
}

func TestCareActionsOfferedAreTheActionsAccepted(t *testing.T) {
	f := CareFacts{Authorities: refdata.Default(), Rules: wRules}
	byStatus := map[aggregates.Status]aggregates.Referral{}
	for _, r := range reachable(t, 6) {
		if r.ReceivingAuthority == "E08000007" {
			if _, ok := byStatus[r.Status]; !ok {
				byStatus[r.Status] = r
			}
		}
	}
	for _, s := range []aggregates.Status{aggregates.StatusOpen, aggregates.StatusPlaced, aggregates.StatusWithdrawn, aggregates.StatusLeftCare} {
		if _, ok := byStatus[s]; !ok {
			t.Fatalf("no Stockport referral %s among the reachable states", s)
		}
	}
	placed := byStatus[aggregates.StatusPlaced]
	cares := careReachable(t, placed, f, 6)
	callers := map[string]Caller{
		"anyone (sign-in off)":  Anyone(),
		"Stockport":             As(auth.Principal{Name: "sp", Kind: auth.Authority, Authority: "E08000007"}),
		"Manchester":            As(auth.Principal{Name: "mc", Kind: auth.Authority, Authority: "E08000003"}),
		"the North West region": As(auth.Principal{Name: "nw", Kind: auth.Region, Region: "North West"}),
		"an auditor":            As(auth.Principal{Name: "au", Kind: auth.Auditor}),
	}
	offeredAtAll, states := map[string]bool{}, 0
	for _, ref := range byStatus {
		for _, care := range cares {
			states++
			for who, c := range callers {
				offered := c.CareActions(ref, care, f, wNow)
				for _, a := range CareActionNames {
					accepted := false
					for _, cmd := range careTries(a, ref, care) {
						if _, err := aggregates.DecideCare(care, f.Complete(ref, cmd), wNow); err == nil {
							accepted = true
						}
					}
					may := c.ChangesReferral(ref)
					switch on := slices.Contains(offered, a); {
					case on && !accepted:
						t.Errorf("%s is offered %q on a child %s with %d episodes, but the decider refuses it", who, a, ref.Status, len(care.Episodes))
					case on && !may:
						t.Errorf("%s is offered %q on a child of another authority", who, a)
					case !on && accepted && may:
						t.Errorf("%s is not offered %q on a child %s with care %+v, which the decider accepts", who, a, ref.Status, care.Episodes)
					}
					if slices.Contains(offered, a) {
						offeredAtAll[a] = true
					}
				}
			}
		}
	}
	for _, a := range CareActionNames {
		if !offeredAtAll[a] {
			t.Errorf("%q is never offered in any of %d states: the test proves nothing about it", a, states)
		}
	}
	t.Logf("%d care states crossed with %d referral statuses, %d callers", len(cares), len(byStatus), len(callers))
}
