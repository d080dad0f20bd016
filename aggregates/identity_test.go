package aggregates

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// The identity property, over every aggregate: from the empty aggregate,
// every command (well formed, malformed, and naming the wrong party) is
// tried against every state the commands can reach. Whenever a command is
// accepted, no event it records may carry an empty identity field, no
// event may name another aggregate as its own, and no identity the
// aggregate had established (its id, the receiving authority, the route,
// the region, the child's reference) may change.
//
// Issue 21 found an acceptance that, given twice, recorded a receipt with
// no referral id, authority, route or child reference: the authority then
// lost its own child. A command added without samples here fails
// TestEveryCommandHasIdentitySamples, so the property covers it from the
// start.

// identityFields are the payload fields that name who or what an event is
// about. Wherever a payload has one, it must not be empty.
var identityFields = []string{"ReferralID", "ReceivingAuthority", "Route", "ChildReference", "Region", "Authority", "StaffID"}

var (
	idNow       = time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC)
	idReceived  = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	idPlacedAt  = time.Date(2025, 6, 3, 9, 0, 0, 0, time.UTC)
	idRespondBy = idReceived.Add(30 * time.Hour)
	idMembers   = refdata.Default().InRegion("North West")
)

// model is one aggregate's rules as the property explores them.
type model[S any] struct {
	name   string
	id     string
	start  S
	decide func(S, Command) ([]events.Event, error)
	evolve func(S, events.Event) S
	// identity is what the aggregate has established about itself.
	identity func(S) map[string]string
	// self names the payload field that names this aggregate, if any:
	// wherever an event has it, it must be the aggregate's id.
	self string
	// key folds states that differ only in counts the rules never weigh
	// beyond a few, so the search ends.
	key  func(S) string
	cmds []Command
}

func explore[S any](t *testing.T, m model[S], depth int) (states, accepted int) {
	t.Helper()
	type node struct {
		s       S
		history []string
	}
	seen := map[string]bool{m.key(m.start): true}
	// Each kind of failure is told once, with the shortest history that
	// shows it (the search is breadth first).
	told := map[string]bool{}
	fail := func(kind, format string, args ...any) {
		if !told[kind] {
			told[kind] = true
			t.Errorf(format, args...)
		}
	}
	frontier := []node{{s: m.start}}
	for d := 0; d < depth && len(frontier) > 0; d++ {
		var next []node
		for _, n := range frontier {
			before := m.identity(n.s)
			for _, cmd := range m.cmds {
				evs, err := m.decide(n.s, cmd)
				if err != nil {
					continue
				}
				accepted++
				where := fmt.Sprintf("%s after [%s], %s %+v", m.name, strings.Join(n.history, ", "), cmd.CommandName(), cmd)
				if len(evs) == 0 {
					fail(cmd.CommandName()+" no event", "%s: accepted with no event", where)
				}
				s := n.s
				for _, e := range evs {
					for _, f := range emptyIdentity(e.Data) {
						fail(cmd.CommandName()+" empty "+f, "%s: %s has an empty %s", where, e.Type, f)
					}
					if v, ok := stringField(e.Data, m.self); m.self != "" && ok && v != m.id {
						fail(cmd.CommandName()+" self", "%s: %s names %s %q, not this aggregate's %q", where, e.Type, m.self, v, m.id)
					}
					e.AggregateID = m.id
					s = m.evolve(s, e)
				}
				after := m.identity(s)
				for f, v := range before {
					if v != "" && after[f] != v {
						fail(cmd.CommandName()+" changed "+f, "%s: changed the established %s from %q to %q", where, f, v, after[f])
					}
				}
				if k := m.key(s); !seen[k] {
					seen[k] = true
					next = append(next, node{s: s, history: append(slices.Clip(n.history), cmd.CommandName())})
				}
			}
		}
		frontier = next
	}
	return len(seen), accepted
}

func emptyIdentity(p any) []string {
	var empty []string
	for _, f := range identityFields {
		if v, ok := stringField(p, f); ok && strings.TrimSpace(v) == "" {
			empty = append(empty, f)
		}
	}
	return empty
}

func stringField(p any, name string) (string, bool) {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Struct || name == "" {
		return "", false
	}
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}

// referralAndRegion explores the referral together with the allocation
// that its region decides with it, so states awaiting an answer are
// reached as the engine reaches them.
type allocateHere struct{ Allocate }

func referralModel() model[Referral] {
	region := Regions.Start("north-west")
	tw := ReceiveReferral{ReferralID: "r1", Region: "north-west", Route: events.RouteHotel, Hotel: "Hotel A", ChildReference: "HO-1", ReceivedAt: idReceived}
	direct := ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteEntryAuthority, TransferringAuthority: "E10000016", ChildReference: "HO-1", ReceivedAt: idReceived}
	deadline := events.DeadlineSet{Route: events.RouteHotel, Policy: "p1", WorkingDays: 5, DueAt: idReceived.Add(7 * 24 * time.Hour), WarningAt: idReceived.Add(6 * 24 * time.Hour)}
	cmds := []Command{
		tw, direct, ReceiveReferral{}, ReceiveReferral{ReferralID: "r1"},
		allocateHere{Allocate{Members: idMembers, RespondBy: idRespondBy}},
		allocateHere{Allocate{Authority: "E08000007", Reason: "sibling placed there", Members: idMembers, RespondBy: idRespondBy}},
		allocateHere{Allocate{Members: nil, RespondBy: idRespondBy}},
		AcceptAllocation{}, AcceptAllocation{Authority: "E08000007"}, AcceptAllocation{Authority: "E08000001"},
		RaiseAllocationException{Reason: "no placement"}, RaiseAllocationException{Authority: "E08000007", Reason: "no placement"}, RaiseAllocationException{},
		RecordAllocationReminder{RespondBy: idRespondBy}, RecordAllocationReminder{},
		RecordAllocationEscalation{RespondBy: idRespondBy, EscalatedTo: "rsmp-lead"}, RecordAllocationEscalation{RespondBy: idRespondBy},
		NotifyProfessionals{Professions: []string{"health", "police"}, NotifiedBy: "team leader"}, NotifyProfessionals{},
		RecordPlacementSearch{Track: "in-house", OffersFound: intp(1)}, RecordPlacementSearch{},
		RequestAgeAssessment{Method: "merton-compliant"}, RequestAgeAssessment{},
		RecordAgeAssessment{Method: "naab", Outcome: "child"}, RecordAgeAssessment{Method: "naab", Outcome: "adult"}, RecordAgeAssessment{},
		Place{PlacementType: "U1", Provider: "Foster carers", PlacedAt: idPlacedAt}, Place{},
		Withdraw{Reason: "family-reunion"}, Withdraw{},
		RecordLeftCare{LeftAt: idNow, Reason: "moved"}, RecordLeftCare{},
		SetDeadline{Deadline: deadline}, SetDeadline{},
		RecordDeadlineWarning{Deadline: deadline.DueAt, EscalatedTo: "team-leader"}, RecordDeadlineWarning{},
		RecordDeadlineBreach{Deadline: deadline.DueAt, EscalatedTo: "team-leader"}, RecordDeadlineBreach{},
		RecordDeadlineEscalation{Deadline: deadline.DueAt, EscalatedTo: "director"}, RecordDeadlineEscalation{},
		CorrectChildDetail{Field: FieldSex, NewValue: "female", Reason: "passport", Corrector: CorrectorDataProtection},
		CorrectChildDetail{Field: FieldNationality, NewValue: "Eritrean", Reason: "interpreter", Corrector: CorrectorAuthority},
		CorrectChildDetail{Field: "childReference", NewValue: "HO-2", Reason: "typo", Corrector: CorrectorAuthority}, CorrectChildDetail{},
		RecordSubjectAccess{Events: 3, Reason: "the child asked"}, RecordSubjectAccess{},
	}
	decide := func(r Referral, cmd Command) ([]events.Event, error) {
		if a, ok := cmd.(allocateHere); ok {
			regionEvs, evs, err := DecideAllocation(region, r, a.Allocate, idNow)
			for _, e := range regionEvs {
				// The region's half of the write names the same referral.
				if d, ok := e.Data.(events.RegionRotaAdvanced); ok && (d.ReferralID != r.ID || d.Region != "north-west" || d.Authority == "") {
					return nil, fmt.Errorf("the rota advanced for referral %q of %q to %q", d.ReferralID, d.Region, d.Authority)
				}
			}
			return evs, err
		}
		return ReferralsSettingDeadlines(func(route string, at time.Time) (events.DeadlineSet, error) {
			d := deadline
			d.Route = route
			return d, nil
		}).Decide(r, cmd, idNow)
	}
	return model[Referral]{
		name: "referral", id: "r1", start: Referrals.Start("r1"), decide: decide, evolve: Evolve, self: "ReferralID",
		identity: func(r Referral) map[string]string {
			return map[string]string{"id": r.ID, "route": r.Route, "region": r.Region, "receivingAuthority": r.ReceivingAuthority, "childReference": r.ChildReference}
		},
		key: func(r Referral) string {
			r.Version = 0
			r.Searches, r.OffersFound = min(r.Searches, 2), min(r.OffersFound, 2)
			return fmt.Sprintf("%+v", r)
		},
		cmds: cmds,
	}
}

func (allocateHere) CommandName() string { return "allocate" }

func regionModel() model[Region] {
	until := idNow.Add(7 * 24 * time.Hour)
	order := slices.Clone(idMembers)
	slices.Reverse(order)
	cmds := []Command{
		SetRota{Order: order, Members: idMembers}, SetRota{Order: idMembers, Members: idMembers}, SetRota{},
		PauseAuthority{Authority: "E08000007", Reason: "no placements", Until: until, Members: idMembers},
		PauseAuthority{Authority: "E06000001", Reason: "not ours", Until: until, Members: idMembers}, PauseAuthority{},
		EndPause{Authority: "E08000007", Reason: "placements found", Members: idMembers}, EndPause{Authority: "E08000001", Reason: "never paused", Members: idMembers}, EndPause{},
	}
	return model[Region]{
		name: "region", id: "north-west", start: Regions.Start("north-west"), self: "Region",
		decide:   func(g Region, c Command) ([]events.Event, error) { return DecideRegion(g, c.(RegionCommand), idNow) },
		evolve:   EvolveRegion,
		identity: func(g Region) map[string]string { return map[string]string{"slug": g.Slug} },
		key:      func(g Region) string { g.Version = 0; return fmt.Sprintf("%+v", g) },
		cmds:     cmds,
	}
}

func authorityModel() model[Authority] {
	cmds := []Command{
		SetPledge{Authority: "E08000007", Pledge: intp(4)}, SetPledge{Authority: "E08000007", Pledge: intp(0)},
		SetPledge{Authority: "E08000001", Pledge: intp(2)}, SetPledge{Pledge: intp(3)}, SetPledge{},
		SetContact{Mailbox: "nts@stockport.gov.uk", Name: "NTS team"}, SetContact{Authority: "E08000001", Mailbox: "nts@bolton.gov.uk", Name: "Bolton"}, SetContact{},
	}
	return model[Authority]{
		name: "authority", id: "E08000007", start: Authorities.Start("E08000007"), self: "Authority",
		decide: func(a Authority, c Command) ([]events.Event, error) {
			return DecideAuthority(a, c.(AuthorityCommand), idNow)
		},
		evolve:   EvolveAuthority,
		identity: func(a Authority) map[string]string { return map[string]string{"code": a.Code} },
		key:      func(a Authority) string { a.Version = 0; return fmt.Sprintf("%+v", a) },
		cmds:     cmds,
	}
}

func teamModel() model[Team] {
	cmds := []Command{
		SetWorker{StaffID: "sw1", Name: "One", CaseloadCap: intp(2)}, SetWorker{StaffID: "sw2", Name: "Two", CaseloadCap: intp(15), OtherCases: 14},
		SetWorker{StaffID: "sw1", Name: "One again", CaseloadCap: intp(3)}, SetWorker{},
		MarkWorkerAway{StaffID: "sw1", Until: idNow.Add(48 * time.Hour), Reason: "training"}, MarkWorkerAway{},
		RecordWorkerLeft{StaffID: "sw2"}, RecordWorkerLeft{},
		AllocateWorker{ReferralID: "r1", Received: true}, AllocateWorker{ReferralID: "r2", StaffID: "sw2", Reason: "speaks Pashto", Received: true},
		AllocateWorker{ReferralID: "r1", StaffID: "sw1", Reason: "reallocated", Received: true}, AllocateWorker{Received: true}, AllocateWorker{ReferralID: "r3"},
	}
	return model[Team]{
		name: "team", id: "E08000007", start: Teams.Start("E08000007"), self: "Authority",
		decide:   func(g Team, c Command) ([]events.Event, error) { return DecideTeam(g, c.(TeamCommand), idNow) },
		evolve:   EvolveTeam,
		identity: func(g Team) map[string]string { return map[string]string{"authority": g.Authority} },
		key:      func(g Team) string { g.Version = 0; return fmt.Sprintf("%+v", g) },
		cmds:     cmds,
	}
}

func careModel() model[Care] {
	child := ChildInCare{Status: StatusPlaced, Authority: "E08000007", Region: "North West", PlacedAt: idPlacedAt}
	other := ChildInCare{Status: StatusPlaced, Authority: "E08000001", Region: "North West", PlacedAt: idPlacedAt}
	rules := MissingRules{Policy: "test", EarlyWithinDays: 7, StrategyWithin: 24 * time.Hour, InterviewWithin: 72 * time.Hour, WarnBefore: 24 * time.Hour}
	missingAt, back := idNow.Add(-6*time.Hour), idNow.Add(-2*time.Hour)
	cmds := []Command{
		ReportMissing{MissingAt: missingAt, LastSeen: "bus station", PoliceReference: "GMP-1", Child: child, Rules: rules},
		ReportMissing{MissingAt: missingAt, LastSeen: "bus station", PoliceReference: "GMP-2", Child: other, Rules: rules},
		ReportMissing{MissingAt: missingAt, LastSeen: "bus station", PoliceReference: "GMP-3", Child: ChildInCare{Status: StatusPlaced, PlacedAt: idPlacedAt}, Rules: rules},
		ReportMissing{},
		RecordReturn{ReturnedAt: back, WhereFound: "friend's house", Rules: rules}, RecordReturn{},
		NotifySafeguarding{Episode: 1, Parties: []string{"police", "mash"}}, NotifySafeguarding{},
		RecordStrategyDiscussion{HeldAt: back, Attendees: []string{"police", "social-care"}}, RecordStrategyDiscussion{},
		RecordReturnInterview{OfferedAt: idNow, OfferedBy: "independent advocate", Accepted: true}, RecordReturnInterview{},
		RecordStrategyOverdue{Episode: 1}, RecordInterviewWarning{Episode: 1}, RecordInterviewBreach{Episode: 1}, RecordStrategyOverdue{},
		SetDateOfBirth{DateOfBirth: "2009-03-01", Basis: events.DOBRecorded, Child: child}, SetDateOfBirth{DateOfBirth: "2008", Basis: events.DOBAssessed, Child: other},
		SetDateOfBirth{DateOfBirth: "2009-03-01", Basis: events.DOBRecorded, Child: ChildInCare{Status: StatusPlaced, PlacedAt: idPlacedAt}}, SetDateOfBirth{},
		RecordLeaveToRemain{Status: "refugee-status"}, RecordLeaveToRemain{},
		InvolveLeavingCare{Child: child, PathwayPlanWithin: 90 * 24 * time.Hour}, InvolveLeavingCare{Child: other}, InvolveLeavingCare{},
		RecordTriplePlanning{Child: child}, RecordTriplePlanning{},
		BecomeCareLeaver{Child: child}, BecomeCareLeaver{Child: other}, BecomeCareLeaver{},
	}
	return model[Care]{
		name: "care", id: "r1", start: Cares.Start("r1"),
		decide: func(c Care, cmd Command) ([]events.Event, error) {
			return DecideCare(c, cmd.(CareCommand), idNow)
		},
		evolve: EvolveCare,
		identity: func(c Care) map[string]string {
			return map[string]string{"id": c.ID, "authority": c.Authority, "region": c.Region}
		},
		key:  func(c Care) string { c.Version = 0; return fmt.Sprintf("%+v", c) },
		cmds: cmds,
	}
}

func recordModel() model[Record] {
	cmds := []Command{
		PlaceLegalHold{Reason: "inquiry"}, PlaceLegalHold{}, ReleaseLegalHold{Reason: "inquiry closed"}, ReleaseLegalHold{},
		Dispose{Policy: "retention-test", Rule: "looked-after", Due: idNow.Add(-time.Hour)},
		Dispose{Policy: "retention-test", Rule: "looked-after", Due: idNow.Add(time.Hour)}, Dispose{},
	}
	return model[Record]{
		name: "record", id: "r1", start: Records.Start("r1"),
		decide: func(r Record, cmd Command) ([]events.Event, error) {
			return DecideRecord(r, cmd.(RecordCommand), idNow)
		},
		evolve:   EvolveRecord,
		identity: func(r Record) map[string]string { return map[string]string{"id": r.ID} },
		self:     "ReferralID",
		key:      func(r Record) string { r.Version = 0; return fmt.Sprintf("%+v", r) },
		cmds:     cmds,
	}
}

func TestNoAcceptedCommandDamagesAnIdentity(t *testing.T) {
	report := func(name string, states, accepted int) {
		t.Logf("%s: %d states reached, %d commands accepted", name, states, accepted)
		if accepted == 0 || states < 3 {
			t.Errorf("%s: the search reached %d states and accepted %d commands: the samples no longer reach the rules", name, states, accepted)
		}
	}
	t.Run("referral", func(t *testing.T) { s, a := explore(t, referralModel(), 9); report("referral", s, a) })
	t.Run("region", func(t *testing.T) { s, a := explore(t, regionModel(), 5); report("region", s, a) })
	t.Run("authority", func(t *testing.T) { s, a := explore(t, authorityModel(), 5); report("authority", s, a) })
	t.Run("team", func(t *testing.T) { s, a := explore(t, teamModel(), 6); report("team", s, a) })
	t.Run("care", func(t *testing.T) { s, a := explore(t, careModel(), 7); report("care", s, a) })
	t.Run("record", func(t *testing.T) { s, a := explore(t, recordModel(), 5); report("record", s, a) })
}

// Every command type of this package has samples in the property above:
// the command types are read from the source, so a new one cannot be
// forgotten.
func TestEveryCommandHasIdentitySamples(t *testing.T) {
	sampled := map[string]bool{}
	add := func(cmds []Command) {
		for _, c := range cmds {
			if a, ok := c.(allocateHere); ok {
				c = a.Allocate
			}
			sampled[reflect.TypeOf(c).Name()] = true
		}
	}
	add(referralModel().cmds)
	add(regionModel().cmds)
	add(authorityModel().cmds)
	add(teamModel().cmds)
	add(careModel().cmds)
	add(recordModel().cmds)
	var missing []string
	for _, name := range commandTypesInSource(t) {
		if !sampled[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("commands with no samples in the identity property: %s", strings.Join(missing, ", "))
	}
}
