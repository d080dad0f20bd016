package safeguarding

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

func TestShippedPolicy(t *testing.T) {
	p := DefaultPolicy()
	if time.Duration(p.ReturnInterviewWithin) != 72*time.Hour || len(p.Notify) != 2 {
		t.Fatalf("shipped: %+v", p)
	}
	for _, bad := range []string{
		`{"version":"v","notify":["police"],"strategyDiscussionWithin":"1h","returnInterviewWithin":"72h","warnBefore":"72h","earlyMissingWithinDays":7,"alertMissingLongerThan":"1h"}`,
		`{"version":"v","notify":["the press"],"strategyDiscussionWithin":"1h","returnInterviewWithin":"72h","warnBefore":"1h","earlyMissingWithinDays":7,"alertMissingLongerThan":"1h"}`,
		`{"version":"v","notify":[],"strategyDiscussionWithin":"1h","returnInterviewWithin":"72h","warnBefore":"1h","earlyMissingWithinDays":7,"alertMissingLongerThan":"1h"}`,
		`{"notify":["police"],"strategyDiscussionWithin":"1h","returnInterviewWithin":"72h","warnBefore":"1h","earlyMissingWithinDays":7,"alertMissingLongerThan":"1h"}`,
		`{"version":"v","notify":["police"],"returnInterviewWithin":"72h","warnBefore":"1h","earlyMissingWithinDays":7,"alertMissingLongerThan":"1h"}`,
		`{"version":"v","notify":["police"],"strategyDiscussionWithin":"1h","returnInterviewWithin":"72h","warnBefore":"1h","earlyMissingWithinDays":-1,"alertMissingLongerThan":"1h"}`,
		`{"version":"v","colour":"red"}`,
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// Given a missing episode, when events and timers come, then the saga's
// answer.
func TestReactions(t *testing.T) {
	s := Saga{Policy: DefaultPolicy()}
	rules := s.Policy.Rules()
	t0 := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	child := aggregates.ChildInCare{Status: aggregates.StatusPlaced, Authority: "E08000007", Region: "North West", PlacedAt: t0.Add(-24 * time.Hour)}
	fold := func(cmds ...aggregates.CareCommand) (aggregates.Care, events.Event) {
		c := aggregates.Cares.Start("r1")
		var last events.Event
		for _, cmd := range cmds {
			evs, err := aggregates.DecideCare(c, cmd, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			c, last = aggregates.Cares.Apply(c, evs), evs[len(evs)-1]
		}
		return c, last
	}
	report := aggregates.ReportMissing{MissingAt: t0, LastSeen: "x", PoliceReference: "p", Child: child, Rules: rules}
	gone, reported := fold(report)
	re := s.React(gone, reported)
	if len(re.Commands) != 1 || re.Commands[0].CommandName() != "notify-safeguarding" || len(re.Timers) != 1 || re.Timers[0].Kind != "1.strategy" {
		t.Fatalf("on missing: %+v", re)
	}
	notified, _ := fold(report, aggregates.NotifySafeguarding{Episode: 1, Parties: s.Policy.Notify})
	if re := s.React(notified, reported); len(re.Commands) != 0 || len(re.Timers) != 1 {
		t.Fatalf("redelivered after notifying: %+v", re)
	}
	due := t0.Add(24 * time.Hour)
	if re := s.OnFire(gone, "1.strategy", due); len(re.Commands) != 0 || len(re.Timers) != 1 {
		t.Fatalf("strategy timer early: %+v", re)
	}
	if re := s.OnFire(gone, "1.strategy", due.Add(time.Second)); len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-strategy-overdue" {
		t.Fatalf("strategy timer due: %+v", re)
	}
	held, heldEv := fold(report, aggregates.RecordStrategyDiscussion{HeldAt: t0.Add(time.Hour), Attendees: []string{"police"}})
	if re := s.OnFire(held, "1.strategy", due.Add(time.Second)); len(re.Commands)+len(re.Timers) != 0 {
		t.Fatalf("after the discussion: %+v", re)
	}
	if re := s.React(held, heldEv); len(re.Cancel) != 1 || re.Cancel[0] != "1.strategy" {
		t.Fatalf("held cancels: %+v", re)
	}

	ret := aggregates.RecordReturn{ReturnedAt: t0.Add(time.Hour), WhereFound: "x", Rules: rules}
	back, returned := fold(report, ret)
	re = s.React(back, returned)
	if len(re.Timers) != 2 || re.Timers[0].Kind != "1.interview.warning" || re.Timers[1].Kind != "1.interview.breach" {
		t.Fatalf("on return: %+v", re)
	}
	warnAt, dueAt := t0.Add(49*time.Hour), t0.Add(73*time.Hour)
	if re := s.OnFire(back, "1.interview.warning", warnAt.Add(-time.Millisecond)); len(re.Timers) != 1 {
		t.Fatalf("warning early: %+v", re)
	}
	if re := s.OnFire(back, "1.interview.warning", warnAt); len(re.Commands) != 1 {
		t.Fatalf("warning due: %+v", re)
	}
	if re := s.OnFire(back, "1.interview.breach", dueAt.Add(time.Millisecond)); len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-return-interview-breach" {
		t.Fatalf("breach due: %+v", re)
	}
	offered, offeredEv := fold(report, ret, aggregates.RecordReturnInterview{OfferedAt: t0.Add(time.Hour), OfferedBy: "advocate"})
	for _, k := range []string{"1.interview.warning", "1.interview.breach"} {
		if re := s.OnFire(offered, k, dueAt.Add(time.Hour)); len(re.Commands)+len(re.Timers) != 0 {
			t.Fatalf("%s after the offer: %+v", k, re)
		}
	}
	if re := s.React(offered, offeredEv); len(re.Cancel) != 1 || re.Cancel[0] != "1.interview" {
		t.Fatalf("offer cancels: %+v", re)
	}
	for _, k := range []string{"x.strategy", "0.strategy", "1.lunch", "2.strategy"} {
		if re := s.OnFire(back, k, dueAt); len(re.Commands)+len(re.Timers) != 0 {
			t.Errorf("timer %q: %+v", k, re)
		}
	}
}
