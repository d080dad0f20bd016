package sagarun_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// A safeguarding policy in seconds: the strategy discussion within 2s,
// the return interview within 3s, warned 1s before.
func secondsSafeguarding(t testing.TB) safeguarding.Policy {
	p, err := safeguarding.ParsePolicy([]byte(`{"version":"test-seconds","notify":["police","safeguarding-hub"],"strategyDiscussionWithin":"2s","returnInterviewWithin":"3s","warnBefore":"1s","earlyMissingWithinDays":7,"alertMissingLongerThan":"5s"}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) start(run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(stop)
	return stop
}

func (r *rig) safeguardingRunner() (stop func()) {
	s := sagarun.New(safeguarding.New(secondsSafeguarding(r.t)), sagarun.Deps{Engine: r.eng, Store: r.node.Store, Log: slog.New(slog.DiscardHandler)})
	return r.start(s.Run)
}

func (r *rig) leavingCareRunner() (stop func()) {
	l := sagarun.New(leavingcare.New(leavingcare.DefaultPolicy()), sagarun.Deps{Engine: r.eng, Store: r.node.Store, Log: slog.New(slog.DiscardHandler)})
	return r.start(l.Run)
}

func (r *rig) care(id string, c aggregates.CareCommand) error {
	_, err := engine.Handle(context.Background(), r.eng, aggregates.Cares, id, c, engine.Meta{Actor: "test"})
	return err
}

func (r *rig) careHistory(id string) []events.Event {
	r.t.Helper()
	_, stored, err := engine.Load(context.Background(), r.node.Store, aggregates.Cares, id)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []events.Event
	for _, st := range stored {
		out = append(out, st.Commit.Events...)
	}
	return out
}

// placed receives and places a child (dateOfBirth may be "").
func (r *rig) placed(id, dob string, receivedAt time.Time) aggregates.ChildInCare {
	r.t.Helper()
	c := aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-" + id, DateOfBirth: dob, ReceivedAt: receivedAt}
	if err := r.do(id, c); err != nil {
		r.t.Fatal(err)
	}
	if err := r.do(id, aggregates.Place{PlacementType: "U1", Provider: "in-house", PlacedAt: receivedAt.Add(time.Hour)}); err != nil {
		r.t.Fatal(err)
	}
	ref, _, err := r.eng.Load(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return aggregates.ChildOf(ref, "North West")
}

func counts(evs []events.Event, types ...string) map[string]int {
	out := map[string]int{}
	for _, t := range types {
		out[t] = count(evs, t)
	}
	return out
}

// Two children go missing. Police and hub are told at once; m1's strategy
// discussion is recorded overdue and, after its return, its return
// interview warned and breached; m2's discussion and interview are
// recorded in time, some while no saga runs, so nothing of it fires. The
// saga is stopped half way and two instances take over: each step once.
func TestMissingEpisodesAcrossARestart(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	rules := secondsSafeguarding(t).Rules()
	stop := r.safeguardingRunner()
	now := time.Now()
	ch1 := r.placed("m1", "", now.Add(-48*time.Hour))
	ch2 := r.placed("m2", "", now.Add(-30*24*time.Hour))
	for id, ch := range map[string]aggregates.ChildInCare{"m1": ch1, "m2": ch2} {
		if err := r.care(id, aggregates.ReportMissing{MissingAt: time.Now(), LastSeen: "station", PoliceReference: "GMP-" + id, Child: ch, Rules: rules}); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("police and hub told", 5*time.Second, func() bool {
		return count(r.careHistory("m1"), events.TypeMissingNotified) == 2 && count(r.careHistory("m2"), events.TypeMissingNotified) == 2
	})
	if !find(r.careHistory("m1"), events.TypeMissingReported).Data.(events.MissingReported).Early || find(r.careHistory("m2"), events.TypeMissingReported).Data.(events.MissingReported).Early {
		t.Fatal("early flag: m1 (placed 2 days before) should be early, m2 (30 days) not")
	}
	stop()
	// While no saga runs: m2's discussion is held, and m2 returns and is
	// offered its interview.
	if err := r.care("m2", aggregates.RecordStrategyDiscussion{HeldAt: time.Now(), Attendees: []string{"police", "social-care"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.care("m2", aggregates.RecordReturn{ReturnedAt: time.Now(), WhereFound: "a friend's", Rules: rules}); err != nil {
		t.Fatal(err)
	}
	if err := r.care("m2", aggregates.RecordReturnInterview{OfferedAt: time.Now(), OfferedBy: "independent advocate", Accepted: true}); err != nil {
		t.Fatal(err)
	}
	r.safeguardingRunner()
	r.safeguardingRunner() // a second instance
	r.waitFor("m1's overdue strategy discussion", 6*time.Second, func() bool {
		return count(r.careHistory("m1"), events.TypeStrategyDiscussionLate) == 1
	})
	if err := r.care("m1", aggregates.RecordReturn{ReturnedAt: time.Now(), WhereFound: "police station", Rules: rules}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("m1's return interview warning and breach", 8*time.Second, func() bool {
		return count(r.careHistory("m1"), events.TypeReturnInterviewBreached) == 1
	})
	// Quiet: past m2's would-be deadlines, consumers drained; then count.
	r.waitFor("the consumers to drain", 6*time.Second, func() bool {
		p1, err1 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.SafeguardingEventsConsumer)
		return err1 == nil && p1 == 0 && r.pending() == 0
	})
	want1 := map[string]int{events.TypeMissingNotified: 2, events.TypeStrategyDiscussionLate: 1, events.TypeReturnInterviewWarning: 1, events.TypeReturnInterviewBreached: 1}
	want2 := map[string]int{events.TypeMissingNotified: 2, events.TypeStrategyDiscussionLate: 0, events.TypeReturnInterviewWarning: 0, events.TypeReturnInterviewBreached: 0}
	for id, want := range map[string]map[string]int{"m1": want1, "m2": want2} {
		got := counts(r.careHistory(id), events.TypeMissingNotified, events.TypeStrategyDiscussionLate, events.TypeReturnInterviewWarning, events.TypeReturnInterviewBreached)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d %s, want %d", id, got[k], k, n)
			}
		}
	}
}

// Two placed children: one 16 ten days ago (the leaving-care team
// involved at once; 17 and a half and 18 still pending as server-side
// timers), one whose assessed date of birth makes it 18 (all three
// milestones, a care leaver in an extended placement while leave is
// pending). Stopped and taken over by two instances: each once.
func TestLeavingCareMilestonesAcrossARestart(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	stop := r.leavingCareRunner()
	now := time.Now().UTC()
	r.placed("l1", now.AddDate(-16, 0, -10).Format(time.DateOnly), now.Add(-24*time.Hour))
	// l2: received a year ago at 17, assessed (while open) as a child
	// born a few weeks earlier than recorded, then placed.
	l2 := "l2"
	recv := aggregates.ReceiveReferral{ReferralID: l2, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-l2", DateOfBirth: now.AddDate(-18, 0, -10).Format(time.DateOnly), ReceivedAt: now.AddDate(-1, 0, 0)}
	for _, c := range []aggregates.Command{recv,
		aggregates.RequestAgeAssessment{Method: "merton-compliant"},
		aggregates.RecordAgeAssessment{Method: "merton-compliant", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: now.AddDate(-18, 0, -40).Format(time.DateOnly)},
		aggregates.Place{PlacementType: "U1", Provider: "in-house", PlacedAt: now.AddDate(-1, 0, 1)}} {
		if err := r.do(l2, c); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("l1 involved at 16", 5*time.Second, func() bool { return count(r.careHistory("l1"), events.TypeLeavingCareInvolved) == 1 })
	stop()
	r.leavingCareRunner()
	r.leavingCareRunner()
	r.waitFor("l2 a care leaver", 5*time.Second, func() bool { return count(r.careHistory(l2), events.TypeCareLeaver) == 1 })
	// Drained: no commit and no fired milestone waiting (one handed back by
	// the stopped instance comes again after its retry pause), and l1's
	// two later milestones still scheduled.
	r.waitFor("the consumers to drain", 10*time.Second, func() bool {
		p1, err1 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.LeavingCareCareConsumer)
		p2, err2 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.LeavingCareReferralConsumer)
		p3, err3 := r.node.Store.ConsumerPending(context.Background(), "NTS_TIMERS", sagarun.LeavingCareTimersConsumer)
		return err1 == nil && err2 == nil && err3 == nil && p1+p2+p3 == 0 && r.pending() == 2
	})
	h1 := r.careHistory("l1")
	if got := counts(h1, events.TypeCareDateOfBirthSet, events.TypeLeavingCareInvolved, events.TypeTriplePlanningRecorded, events.TypeCareLeaver); got[events.TypeCareDateOfBirthSet] != 1 || got[events.TypeLeavingCareInvolved] != 1 || got[events.TypeTriplePlanningRecorded]+got[events.TypeCareLeaver] != 0 {
		t.Fatalf("l1: %v", got)
	}
	h2 := r.careHistory(l2)
	if got := counts(h2, events.TypeCareDateOfBirthSet, events.TypeLeavingCareInvolved, events.TypeTriplePlanningRecorded, events.TypeCareLeaver); got[events.TypeCareDateOfBirthSet] != 1 || got[events.TypeLeavingCareInvolved] != 1 || got[events.TypeTriplePlanningRecorded] != 1 || got[events.TypeCareLeaver] != 1 {
		t.Fatalf("l2: %v", got)
	}
	if d := find(h2, events.TypeCareDateOfBirthSet).Data.(events.CareDateOfBirthSet); d.Basis != events.DOBAssessed {
		t.Fatalf("l2's date of birth: %+v", d)
	}
	if d := find(h2, events.TypeCareLeaver).Data.(events.CareLeaver); d.Accommodation != events.AccommodationExtendedPlacement {
		t.Fatalf("l2 at 18: %+v", d)
	}
	// l1 leaves care: its two pending milestones are cancelled.
	if err := r.do("l1", aggregates.RecordLeftCare{LeftAt: time.Now(), Reason: "moved"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("l1's milestones cancelled", 5*time.Second, func() bool { return r.pending() == 0 })
}

// timerAt is when the pending timer of key is due; false when none is.
func (r *rig) timerAt(key string) (time.Time, bool) {
	msg, err := r.node.Store.JetStream().Stream(context.Background(), "NTS_TIMERS")
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := msg.GetLastMsgForSubject(context.Background(), "nts.timers.schedule."+key)
	if err != nil {
		return time.Time{}, false
	}
	var tm eventstore.Timer
	if err := json.Unmarshal(m.Data, &tm); err != nil {
		r.t.Fatal(err)
	}
	return tm.At, true
}

// A placed child of 15 has three milestones pending, the 16th a year
// off. The authority corrects the date of birth on the child's passport:
// 16 ten days ago. The 16th fires at once and is recorded once; the 17
// and a half and the 18th wait at the corrected birthdays, not the old.
func TestACorrectedDateOfBirthMovesTheMilestoneTimers(t *testing.T) {
	t.Parallel()
	r := newRig(t, "")
	r.leavingCareRunner()
	now := time.Now().UTC()
	id := "l3"
	r.placed(id, now.AddDate(-15, 0, 0).Format(time.DateOnly), now.Add(-24*time.Hour))
	key := func(kind string) string { return leavingcare.TimerPrefix + "." + id + "." + kind }
	oldSixteen, oldTriple, oldEighteen := aggregates.Milestones(now.AddDate(-15, 0, 0))
	r.waitFor("the milestones armed at the recorded birthdays", 5*time.Second, func() bool {
		at, ok := r.timerAt(key(leavingcare.KindSixteen))
		return ok && at.Equal(oldSixteen) && r.pending() == 3
	})
	dob, _ := time.Parse(time.DateOnly, now.AddDate(-16, 0, -10).Format(time.DateOnly))
	_, triple, eighteen := aggregates.Milestones(dob)
	if err := r.do(id, aggregates.CorrectChildDetail{Field: aggregates.FieldDateOfBirth, NewValue: dob.Format(time.DateOnly),
		Reason: "the child's passport", Corrector: aggregates.CorrectorAuthority}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the leaving-care team involved at the corrected 16th birthday", 5*time.Second, func() bool {
		return count(r.careHistory(id), events.TypeLeavingCareInvolved) == 1
	})
	r.waitFor("the later milestones moved to the corrected birthdays", 5*time.Second, func() bool {
		t1, ok1 := r.timerAt(key(leavingcare.KindTriple))
		t2, ok2 := r.timerAt(key(leavingcare.KindEighteen))
		_, ok3 := r.timerAt(key(leavingcare.KindSixteen))
		return ok1 && ok2 && !ok3 && t1.Equal(triple) && t2.Equal(eighteen) && r.pending() == 2
	})
	r.waitFor("the consumers to drain", 10*time.Second, func() bool {
		p1, err1 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.LeavingCareCareConsumer)
		p2, err2 := r.node.Store.ConsumerPending(context.Background(), "NTS_EVENTS", sagarun.LeavingCareReferralConsumer)
		p3, err3 := r.node.Store.ConsumerPending(context.Background(), "NTS_TIMERS", sagarun.LeavingCareTimersConsumer)
		return err1 == nil && err2 == nil && err3 == nil && p1+p2+p3 == 0
	})
	h := r.careHistory(id)
	if got := counts(h, events.TypeCareDateOfBirthSet, events.TypeLeavingCareInvolved, events.TypeTriplePlanningRecorded, events.TypeCareLeaver); got[events.TypeCareDateOfBirthSet] != 2 || got[events.TypeLeavingCareInvolved] != 1 || got[events.TypeTriplePlanningRecorded]+got[events.TypeCareLeaver] != 0 {
		t.Fatalf("care: %v", got)
	}
	var last events.CareDateOfBirthSet
	for _, e := range h {
		if d, ok := e.Data.(events.CareDateOfBirthSet); ok {
			last = d
		}
	}
	if last.DateOfBirth != dob.Format(time.DateOnly) || last.Basis != events.DOBCorrected || last.EighteenAt.Equal(oldEighteen) || last.TriplePlanningAt.Equal(oldTriple) {
		t.Fatalf("the care's date of birth: %+v", last)
	}
}
