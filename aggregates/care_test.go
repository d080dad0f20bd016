package aggregates

import (
	"errors"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The care rules, given/when/then, without I/O.

var (
	cNow     = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	cPlaced  = cNow.Add(-3 * 24 * time.Hour)
	placedCh = ChildInCare{Status: StatusPlaced, Authority: "E08000007", Region: "North West", PlacedAt: cPlaced}
	cRules   = MissingRules{Policy: "test", EarlyWithinDays: 7, StrategyWithin: 24 * time.Hour, InterviewWithin: 72 * time.Hour, WarnBefore: 24 * time.Hour}
)

// given folds the events a sequence of accepted commands records.
func given(t *testing.T, cmds ...CareCommand) Care {
	t.Helper()
	c := Cares.Start("r1")
	for _, cmd := range cmds {
		evs, err := DecideCare(c, cmd, cNow)
		if err != nil {
			t.Fatalf("given %s: %v", cmd.CommandName(), err)
		}
		c = Cares.Apply(c, evs)
	}
	return c
}

func refusedWith(t *testing.T, c Care, cmd CareCommand, at time.Time, code Code) {
	t.Helper()
	_, err := DecideCare(c, cmd, at)
	var r *Refusal
	if !errors.As(err, &r) || r.Code != code {
		t.Fatalf("%s: want refusal %s, got %v", cmd.CommandName(), code, err)
	}
}

func missing(at time.Time) ReportMissing {
	return ReportMissing{MissingAt: at, LastSeen: "bus station, 18:00", PoliceReference: "GMP-1", Child: placedCh, Rules: cRules}
}

func TestMissingEpisode(t *testing.T) {
	// When a placed child goes missing three days after placement: an
	// early episode, its strategy discussion due in the policy's time.
	c := given(t)
	evs, err := DecideCare(c, missing(cNow.Add(-time.Hour)), cNow)
	if err != nil {
		t.Fatal(err)
	}
	d := evs[0].Data.(events.MissingReported)
	if d.Episode != 1 || !d.Early || d.DaysSincePlaced != 2 || !d.StrategyDueAt.Equal(cNow.Add(23*time.Hour)) || d.Authority != "E08000007" {
		t.Fatalf("reported: %+v", d)
	}
	// Not early after the policy's days.
	late := placedCh
	late.PlacedAt = cNow.Add(-30 * 24 * time.Hour)
	m := missing(cNow.Add(-time.Hour))
	m.Child = late
	if evs, _ := DecideCare(c, m, cNow); evs[0].Data.(events.MissingReported).Early {
		t.Fatal("missing after 30 days flagged early")
	}
	// Refusals: not placed, withdrawn, no such referral, no police
	// reference, before placement, in the future, already missing.
	for _, st := range []struct {
		s    Status
		code Code
	}{{StatusOpen, CodeNotPlaced}, {StatusWithdrawn, CodeWithdrawn}, {StatusNone, CodeNotFound}, {StatusLeftCare, CodeLeftCare}} {
		m := missing(cNow)
		m.Child.Status = st.s
		refusedWith(t, c, m, cNow, st.code)
	}
	noRef := missing(cNow)
	noRef.PoliceReference = " "
	refusedWith(t, c, noRef, cNow, CodeInvalidValue)
	noSeen := missing(cNow)
	noSeen.LastSeen = ""
	refusedWith(t, c, noSeen, cNow, CodeInvalidValue)
	refusedWith(t, c, missing(cPlaced.Add(-time.Hour)), cNow, CodeInvalidValue)
	refusedWith(t, c, missing(cNow.Add(time.Hour)), cNow, CodeInvalidValue)
	gone := given(t, missing(cNow.Add(-time.Hour)))
	refusedWith(t, gone, missing(cNow), cNow, CodeAlreadyMissing)

	// The saga notifies police and hub once.
	n := NotifySafeguarding{Episode: 1, Parties: []string{events.PartyPolice, events.PartySafeguardingHub}}
	evs, err = DecideCare(gone, n, cNow)
	if err != nil || len(evs) != 2 {
		t.Fatalf("notify: %v %v", evs, err)
	}
	refusedWith(t, Cares.Apply(gone, evs), n, cNow, CodeAlreadyRecorded)
	refusedWith(t, gone, NotifySafeguarding{Episode: 2, Parties: n.Parties}, cNow, CodeNoEpisode)

	// Return: not before going missing; a return interview due 72 hours on.
	refusedWith(t, c, RecordReturn{ReturnedAt: cNow, WhereFound: "x", Rules: cRules}, cNow, CodeNotMissing)
	refusedWith(t, gone, RecordReturn{ReturnedAt: cNow.Add(-2 * time.Hour), WhereFound: "x", Rules: cRules}, cNow, CodeInvalidValue)
	refusedWith(t, gone, RecordReturn{ReturnedAt: cNow, Rules: cRules}, cNow, CodeInvalidValue)
	back := given(t, missing(cNow.Add(-time.Hour)), RecordReturn{ReturnedAt: cNow, WhereFound: "a friend's flat", Rules: cRules})
	ep, _ := back.Episode(0)
	if !ep.Returned || !ep.InterviewDueAt.Equal(cNow.Add(72*time.Hour)) || !ep.InterviewWarnAt.Equal(cNow.Add(48*time.Hour)) {
		t.Fatalf("episode after return: %+v", ep)
	}
	if _, on := back.Missing(); on {
		t.Fatal("still missing after the return")
	}
	// A second episode starts after the first's return.
	refusedWith(t, back, missing(cNow.Add(-30*time.Minute)), cNow, CodeInvalidValue)
	two := given(t, missing(cNow.Add(-time.Hour)), RecordReturn{ReturnedAt: cNow.Add(-time.Minute), WhereFound: "x", Rules: cRules}, missing(cNow))
	if ep, _ := two.Missing(); ep.N != 2 {
		t.Fatalf("second episode: %+v", ep)
	}
}

func TestStrategyDiscussion(t *testing.T) {
	gone := given(t, missing(cNow.Add(-time.Hour)))
	refusedWith(t, given(t), RecordStrategyDiscussion{HeldAt: cNow, Attendees: []string{"police"}}, cNow, CodeNoEpisode)
	refusedWith(t, gone, RecordStrategyDiscussion{HeldAt: cNow}, cNow, CodeInvalidValue)
	refusedWith(t, gone, RecordStrategyDiscussion{HeldAt: cNow.Add(-2 * time.Hour), Attendees: []string{"police"}}, cNow, CodeInvalidValue)
	held := given(t, missing(cNow.Add(-time.Hour)), RecordStrategyDiscussion{HeldAt: cNow, Attendees: []string{"police", "social-care"}})
	refusedWith(t, held, RecordStrategyDiscussion{HeldAt: cNow, Attendees: []string{"police"}}, cNow, CodeAlreadyRecorded)
	// Overdue: only after the due time, once, and not once held.
	due := cNow.Add(23 * time.Hour)
	refusedWith(t, gone, RecordStrategyOverdue{Episode: 1}, due, CodeNotDue)
	evs, err := DecideCare(gone, RecordStrategyOverdue{Episode: 1}, due.Add(time.Second))
	if err != nil || evs[0].Type != events.TypeStrategyDiscussionLate {
		t.Fatalf("overdue: %v %v", evs, err)
	}
	refusedWith(t, Cares.Apply(gone, evs), RecordStrategyOverdue{Episode: 1}, due.Add(time.Hour), CodeAlreadyRecorded)
	refusedWith(t, held, RecordStrategyOverdue{Episode: 1}, due.Add(time.Hour), CodeAlreadyRecorded)
	refusedWith(t, gone, RecordStrategyOverdue{}, due.Add(time.Hour), CodeNoEpisode)
}

func TestReturnInterview(t *testing.T) {
	gone := given(t, missing(cNow.Add(-time.Hour)))
	back := given(t, missing(cNow.Add(-time.Hour)), RecordReturn{ReturnedAt: cNow, WhereFound: "x", Rules: cRules})
	offer := RecordReturnInterview{OfferedAt: cNow, OfferedBy: "independent advocate", Accepted: true}
	refusedWith(t, gone, offer, cNow, CodeNotMissing)
	refusedWith(t, back, RecordReturnInterview{OfferedAt: cNow}, cNow, CodeInvalidValue)
	refusedWith(t, back, RecordReturnInterview{OfferedAt: cNow.Add(-time.Hour), OfferedBy: "x"}, cNow, CodeInvalidValue)
	evs, err := DecideCare(back, offer, cNow)
	if err != nil || !evs[0].Data.(events.ReturnInterviewOffered).InTime {
		t.Fatalf("offered: %v %v", evs, err)
	}
	offered := Cares.Apply(back, evs)
	refusedWith(t, offered, offer, cNow, CodeAlreadyRecorded)
	// Warning from the warning time; breach after the due time; once each;
	// none once offered.
	warnAt, due := cNow.Add(48*time.Hour), cNow.Add(72*time.Hour)
	refusedWith(t, back, RecordInterviewWarning{Episode: 1}, warnAt.Add(-time.Second), CodeNotDue)
	w, err := DecideCare(back, RecordInterviewWarning{Episode: 1}, warnAt)
	if err != nil {
		t.Fatal(err)
	}
	warned := Cares.Apply(back, w)
	refusedWith(t, warned, RecordInterviewWarning{Episode: 1}, warnAt, CodeAlreadyRecorded)
	refusedWith(t, warned, RecordInterviewBreach{Episode: 1}, due, CodeNotDue)
	b, err := DecideCare(warned, RecordInterviewBreach{Episode: 1}, due.Add(time.Millisecond))
	if err != nil || b[0].Type != events.TypeReturnInterviewBreached {
		t.Fatalf("breach: %v %v", b, err)
	}
	breached := Cares.Apply(warned, b)
	refusedWith(t, breached, RecordInterviewBreach{Episode: 1}, due.Add(time.Hour), CodeAlreadyRecorded)
	refusedWith(t, offered, RecordInterviewBreach{Episode: 1}, due.Add(time.Hour), CodeAlreadyRecorded)
	refusedWith(t, gone, RecordInterviewBreach{Episode: 1}, due.Add(time.Hour), CodeNotMissing)
	// Offered late, after the breach: recorded, not in time.
	late := offer
	late.OfferedAt = due.Add(time.Hour)
	evs, err = DecideCare(breached, late, due.Add(2*time.Hour))
	if err != nil || evs[0].Data.(events.ReturnInterviewOffered).InTime {
		t.Fatalf("late offer: %v %v", evs, err)
	}
}

func TestDateOfBirthAndMilestones(t *testing.T) {
	c := given(t)
	// A year alone is 1 January of that year, as the Home Office records it.
	evs, err := DecideCare(c, SetDateOfBirth{DateOfBirth: "2009", Child: placedCh}, cNow)
	if err != nil {
		t.Fatal(err)
	}
	d := evs[0].Data.(events.CareDateOfBirthSet)
	if d.DateOfBirth != "2009-01-01" || d.Basis != events.DOBYearOnly {
		t.Fatalf("year only: %+v", d)
	}
	// Midnight in London: 1 January is GMT; 1 July is BST.
	if !d.SixteenAt.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !d.TriplePlanningAt.Equal(time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)) || !d.EighteenAt.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("milestones: %+v", d)
	}
	// Born on 29 February: 16 on 29 February 2024 (a leap year), 18 on 1
	// March 2026 (midnight in London is 00:00 UTC in winter).
	leap, _ := time.Parse(time.DateOnly, "2008-02-29")
	if s, _, e := Milestones(leap); s.Format(time.DateOnly) != "2024-02-29" || e.Format(time.DateOnly) != "2026-03-01" {
		t.Fatalf("leap-day milestones: %s %s", s, e)
	}
	for _, bad := range []string{"09", "2009-13-01", "20x9", "2030-01-01", "1980"} {
		refusedWith(t, c, SetDateOfBirth{DateOfBirth: bad, Child: placedCh}, cNow, CodeInvalidValue)
	}
	refusedWith(t, c, SetDateOfBirth{DateOfBirth: "2009", Child: ChildInCare{Status: StatusWithdrawn}}, cNow, CodeWithdrawn)
	refusedWith(t, c, SetDateOfBirth{DateOfBirth: "2009", Child: ChildInCare{Status: StatusAwaitingAllocation}}, cNow, CodeNotPlaced)
	mustDecide(t, c, SetDateOfBirth{DateOfBirth: "2009", Child: ChildInCare{Status: StatusOpen, Authority: "E08000007", Region: "North West"}})
	set := Cares.Apply(c, evs)
	refusedWith(t, set, SetDateOfBirth{DateOfBirth: "2009", Child: placedCh}, cNow, CodeAlreadyRecorded)
	// The assessed date stands over a recorded one.
	assessed := given(t, SetDateOfBirth{DateOfBirth: "2009", Child: placedCh}, SetDateOfBirth{DateOfBirth: "2008-05-10", Basis: events.DOBAssessed, Child: placedCh})
	if assessed.DateOfBirth != "2008-05-10" || assessed.DOBBasis != events.DOBAssessed {
		t.Fatalf("assessed: %+v", assessed)
	}
	refusedWith(t, assessed, SetDateOfBirth{DateOfBirth: "2009-03-03", Child: placedCh}, cNow, CodeAssessedDOBStands)
	// A corrected date stands over a recorded one too; of an assessment
	// and a correction, the later stands.
	corrected := given(t, SetDateOfBirth{DateOfBirth: "2009", Child: placedCh}, SetDateOfBirth{DateOfBirth: "2008-05-10", Basis: events.DOBAssessed, Child: placedCh},
		SetDateOfBirth{DateOfBirth: "2008-07-01", Basis: events.DOBCorrected, Child: placedCh})
	if corrected.DateOfBirth != "2008-07-01" || corrected.DOBBasis != events.DOBCorrected {
		t.Fatalf("corrected: %+v", corrected)
	}
	refusedWith(t, corrected, SetDateOfBirth{DateOfBirth: "2009-03-03", Child: placedCh}, cNow, CodeAssessedDOBStands)
	mustDecide(t, corrected, SetDateOfBirth{DateOfBirth: "2008-05-10", Basis: events.DOBAssessed, Child: placedCh})

	// At 16: the leaving-care team, a pathway plan due; not before, not
	// twice, not without a date of birth, not for a child who left care.
	born := given(t, SetDateOfBirth{DateOfBirth: "2009-06-03", Child: placedCh}) // 16 tomorrow
	involve := InvolveLeavingCare{Child: placedCh, PathwayPlanWithin: 90 * 24 * time.Hour}
	refusedWith(t, born, involve, cNow, CodeNotDue)
	refusedWith(t, c, involve, cNow, CodeNoDateOfBirth)
	sixteen := born.SixteenAt
	evs, err = DecideCare(born, involve, sixteen)
	if err != nil || !evs[0].Data.(events.LeavingCareInvolved).PathwayPlanDueAt.Equal(sixteen.Add(90*24*time.Hour)) {
		t.Fatalf("at 16: %v %v", evs, err)
	}
	refusedWith(t, Cares.Apply(born, evs), involve, sixteen, CodeAlreadyRecorded)
	left := involve
	left.Child.Status = StatusLeftCare
	refusedWith(t, born, left, sixteen, CodeLeftCare)

	// At 17 and a half: triple planning with the status known (pending
	// until recorded).
	refusedWith(t, born, RecordTriplePlanning{Child: placedCh}, born.TriplePlanningAt.Add(-time.Second), CodeNotDue)
	evs, err = DecideCare(born, RecordTriplePlanning{Child: placedCh}, born.TriplePlanningAt)
	if err != nil || evs[0].Data.(events.TriplePlanningRecorded).LeaveToRemain != events.LeavePending || len(evs[0].Data.(events.TriplePlanningRecorded).Plans) != 3 {
		t.Fatalf("at 17.5: %v %v", evs, err)
	}
	// At 18: a care leaver, accommodation by the claim's status.
	for leave, want := range map[string]string{"": events.AccommodationExtendedPlacement, events.LeavePending: events.AccommodationExtendedPlacement,
		events.LeaveGranted: events.AccommodationMoveOn, events.LeaveRefused: events.AccommodationHumanRightsAssessment} {
		s := born
		if leave != "" {
			s = Cares.Apply(born, mustDecide(t, born, RecordLeaveToRemain{Status: leave}))
		}
		refusedWith(t, s, BecomeCareLeaver{Child: placedCh}, born.EighteenAt.Add(-time.Second), CodeNotDue)
		evs := mustDecideAt(t, s, BecomeCareLeaver{Child: placedCh}, born.EighteenAt)
		if got := evs[0].Data.(events.CareLeaver).Accommodation; got != want {
			t.Errorf("leave %q: accommodation %s, want %s", leave, got, want)
		}
		refusedWith(t, Cares.Apply(s, evs), BecomeCareLeaver{Child: placedCh}, born.EighteenAt, CodeAlreadyRecorded)
	}
	refusedWith(t, born, RecordLeaveToRemain{Status: "maybe"}, cNow, CodeInvalidValue)
	pending := Cares.Apply(born, mustDecide(t, born, RecordLeaveToRemain{Status: events.LeavePending}))
	refusedWith(t, pending, RecordLeaveToRemain{Status: events.LeavePending}, cNow, CodeAlreadyRecorded)
}

func TestUnreadableCareHistoryIsNotChanged(t *testing.T) {
	c := EvolveCare(Care{}, events.Event{Type: "missing.from-the-future", Data: events.Unknown{}})
	refusedWith(t, c, missing(cNow), cNow, CodeUnreadableHistory)
}

func mustDecide(t *testing.T, c Care, cmd CareCommand) []events.Event {
	t.Helper()
	return mustDecideAt(t, c, cmd, cNow)
}

func mustDecideAt(t *testing.T, c Care, cmd CareCommand, at time.Time) []events.Event {
	t.Helper()
	evs, err := DecideCare(c, cmd, at)
	if err != nil {
		t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return evs
}
