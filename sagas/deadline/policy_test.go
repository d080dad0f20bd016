package deadline

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

var cal = calendar.Default()

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestComputeBothRoutes(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		what, route, received string
		due, warn, escalate   string
		days                  int
	}{
		{"the issue's example: any time on Monday 2 June 2025, hotel", "hotel", "2025-06-02T08:00:00+01:00", "2025-06-09T23:59:59.999+01:00", "2025-06-06T23:59:59.999+01:00", "2025-06-11T23:59:59.999+01:00", 5},
		{"late on the same Monday", "hotel", "2025-06-02T23:59:00+01:00", "2025-06-09T23:59:59.999+01:00", "2025-06-06T23:59:59.999+01:00", "2025-06-11T23:59:59.999+01:00", 5},
		{"entry authority, ten working days", "entry-authority", "2025-06-02T10:00:00+01:00", "2025-06-16T23:59:59.999+01:00", "2025-06-13T23:59:59.999+01:00", "2025-06-18T23:59:59.999+01:00", 10},
		{"received on a Saturday counts from the Monday", "hotel", "2025-06-07T10:00:00+01:00", "2025-06-13T23:59:59.999+01:00", "2025-06-12T23:59:59.999+01:00", "2025-06-17T23:59:59.999+01:00", 5},
		{"23:30 UTC on a Friday in summer is Saturday in London", "hotel", "2025-06-06T23:30:00Z", "2025-06-13T23:59:59.999+01:00", "2025-06-12T23:59:59.999+01:00", "2025-06-17T23:59:59.999+01:00", 5},
		{"over Easter 2025", "hotel", "2025-04-16T09:00:00+01:00", "2025-04-25T23:59:59.999+01:00", "2025-04-24T23:59:59.999+01:00", "2025-04-29T23:59:59.999+01:00", 5},
		{"over Christmas 2025, in winter time", "hotel", "2025-12-22T09:00:00Z", "2025-12-31T23:59:59.999Z", "2025-12-30T23:59:59.999Z", "2026-01-05T23:59:59.999Z", 5},
		{"over the coronation 2023", "hotel", "2023-05-03T09:00:00+01:00", "2023-05-11T23:59:59.999+01:00", "2023-05-10T23:59:59.999+01:00", "2023-05-15T23:59:59.999+01:00", 5},
		{"across the clocks going back", "entry-authority", "2025-10-20T09:00:00+01:00", "2025-11-03T23:59:59.999Z", "2025-10-31T23:59:59.999Z", "2025-11-05T23:59:59.999Z", 10},
	}
	for _, c := range cases {
		d, err := p.Compute(cal, c.route, at(c.received))
		if err != nil {
			t.Fatal(err)
		}
		if !d.DueAt.Equal(at(c.due)) || !d.WarningAt.Equal(at(c.warn)) || !d.EscalateAt.Equal(at(c.escalate)) || d.WorkingDays != c.days || d.Policy != p.Version {
			t.Errorf("%s: due %s warn %s escalate %s days %d; want %s %s %s %d", c.what,
				d.DueAt.In(calendar.London).Format(time.RFC3339Nano), d.WarningAt.In(calendar.London).Format(time.RFC3339Nano), d.EscalateAt.In(calendar.London).Format(time.RFC3339Nano), d.WorkingDays, c.due, c.warn, c.escalate, c.days)
		}
	}
	if _, err := p.Compute(cal, "boat", at("2025-06-02T08:00:00Z")); err == nil {
		t.Error("a route without a rule computed a deadline")
	}
}

func TestPolicyIsData(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"version":"test-seconds","routes":{"hotel":{"duration":"3s"},"entry-authority":{"duration":"6s"}},"warnBefore":{"duration":"1s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"},{"after":{"duration":"2s"},"to":"director"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := at("2025-06-02T10:00:00Z")
	d, _ := p.Compute(cal, "hotel", r)
	if !d.DueAt.Equal(r.Add(3*time.Second)) || !d.WarningAt.Equal(r.Add(2*time.Second)) || !d.EscalateAt.Equal(r.Add(5*time.Second)) {
		t.Fatalf("seconds policy: %+v", d)
	}
	for _, bad := range []string{
		`{"routes":{"hotel":{"workingDays":5},"entry-authority":{"workingDays":10}},"escalation":[{"to":"x"}]}`,
		`{"version":"v","routes":{"hotel":{"workingDays":5}},"escalation":[{"to":"x"}]}`,
		`{"version":"v","routes":{"hotel":{"workingDays":5},"entry-authority":{"workingDays":10}},"escalation":[]}`,
		`{"version":"v","colour":"red"}`,
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestEscalationLadder(t *testing.T) {
	p := DefaultPolicy()
	due := at("2025-06-09T23:59:59.999+01:00")
	for now, want := range map[string]string{
		"2025-06-10T09:00:00+01:00": "team-leader",
		"2025-06-11T23:59:00+01:00": "team-leader",
		"2025-06-12T00:00:00+01:00": "director",
		"2025-07-01T00:00:00+01:00": "director",
	} {
		if got := p.EscalateTo(cal, due, at(now)); got != want {
			t.Errorf("at %s: %s, want %s", now, got, want)
		}
	}
}

// The saga's rules, given/when/then, without I/O.
func TestReact(t *testing.T) {
	s := Saga{Policy: DefaultPolicy(), Calendar: cal}
	received := events.Event{Type: events.TypeReferralReceived, OccurredAt: at("2025-06-02T10:00:00+01:00"), Data: events.ReferralReceived{Route: "hotel"}}
	open := aggregates.Referral{Status: aggregates.StatusOpen, ReceivedAt: received.OccurredAt}
	dl, _ := s.Policy.Compute(cal, "hotel", received.OccurredAt)
	set := events.Event{Type: events.TypeDeadlineSet, Data: dl}
	armed := aggregates.Evolve(open, set)

	// received -> set the deadline, once
	re := s.React(open, received, at("2025-06-02T10:00:01+01:00"))
	if len(re.Commands) != 1 || re.Commands[0].(aggregates.SetDeadline).Deadline != dl {
		t.Fatalf("on receipt: %+v", re)
	}
	if re := s.React(armed, received, at("2025-06-02T10:00:01+01:00")); len(re.Commands)+len(re.Timers) != 0 {
		t.Fatalf("redelivered receipt: %+v", re)
	}
	// deadline set, in time -> one timer, the warning's
	re = s.React(armed, set, at("2025-06-02T10:00:02+01:00"))
	if len(re.Commands) != 0 || len(re.Timers) != 1 || re.Timers[0].Kind != KindWarning || !re.Timers[0].At.Equal(dl.WarningAt) {
		t.Fatalf("armed in time: %+v", re)
	}
	// backdated into the warning window -> warn now, breach timer
	re = s.React(armed, set, at("2025-06-08T10:00:00+01:00"))
	if len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-deadline-warning" || len(re.Timers) != 1 || re.Timers[0].Kind != KindBreach || !re.Timers[0].At.After(dl.DueAt) {
		t.Fatalf("backdated into the warning window: %+v", re)
	}
	// backdated past the deadline, before the escalation -> breach now,
	// escalation timer
	re = s.React(armed, set, at("2025-06-10T10:00:00+01:00"))
	if len(re.Commands) != 1 || re.Commands[0].(aggregates.RecordDeadlineBreach).EscalatedTo != "team-leader" || len(re.Timers) != 1 || re.Timers[0].Kind != KindEscalation || !re.Timers[0].At.Equal(dl.EscalateAt) {
		t.Fatalf("backdated past the deadline: %+v", re)
	}
	// backdated past the escalation -> breach now, escalated by how late,
	// no timer
	re = s.React(armed, set, at("2025-06-20T10:00:00+01:00"))
	if len(re.Commands) != 1 || re.Commands[0].(aggregates.RecordDeadlineBreach).EscalatedTo != "director" || len(re.Timers) != 0 {
		t.Fatalf("backdated past the escalation: %+v", re)
	}
	// placed or withdrawn -> nothing: the sweep never finds it due
	for _, typ := range []any{events.ReferralPlaced{}, events.ReferralWithdrawn{}} {
		if re := s.React(armed, events.Event{Data: typ}, at("2025-06-03T10:00:00+01:00")); len(re.Commands)+len(re.Timers) != 0 || re.CancelAll {
			t.Fatalf("%T: %+v", typ, re)
		}
	}
	// due at a sweep: each step records its event and arms the next
	if re := s.Due(armed, dl.WarningAt.Add(time.Second)); len(re.Commands) != 1 || len(re.Timers) != 1 || re.Timers[0].Kind != KindBreach {
		t.Fatalf("warning due: %+v", re)
	}
	if re := s.Due(armed, dl.WarningAt.Add(-time.Second)); len(re.Commands) != 0 || len(re.Timers) != 1 || re.Timers[0].Kind != KindWarning {
		t.Fatalf("swept before the warning: %+v; want its timer again", re)
	}
	warned := armed
	warned.Warned = true
	if re := s.Due(warned, dl.WarningAt.Add(time.Second)); len(re.Commands) != 0 || len(re.Timers) != 1 || re.Timers[0].Kind != KindBreach {
		t.Fatalf("swept again after the warning was recorded: %+v; want only the breach timer again", re)
	}
	if re := s.Due(warned, dl.DueAt.Add(time.Second)); len(re.Commands) != 1 || re.Commands[0].(aggregates.RecordDeadlineBreach).EscalatedTo != "team-leader" || len(re.Timers) != 1 || re.Timers[0].Kind != KindEscalation {
		t.Fatalf("breach due: %+v", re)
	}
	if re := s.Due(armed, dl.DueAt.Add(time.Second)); len(re.Commands) != 1 || re.Commands[0].CommandName() != "record-deadline-breach" {
		t.Fatalf("breach due with no warning on record (none ran in time): %+v; want the breach, not the warning", re)
	}
	placed := armed
	placed.Status = aggregates.StatusPlaced
	if re := s.Due(placed, dl.DueAt.Add(time.Second)); len(re.Commands)+len(re.Timers) != 0 {
		t.Fatalf("a placed referral acted: %+v", re)
	}
	breached := armed
	breached.Breached, breached.EscalatedTo = true, "team-leader"
	if re := s.Due(breached, dl.DueAt.Add(time.Second)); len(re.Commands) != 0 || len(re.Timers) != 1 || re.Timers[0].Kind != KindEscalation {
		t.Fatalf("after the breach, before the escalation: %+v", re)
	}
	if kind, when := s.Next(breached); kind != KindEscalation || !when.Equal(dl.EscalateAt) {
		t.Fatalf("next after the breach: %s at %v", kind, when)
	}
	if re := s.Due(breached, dl.EscalateAt.Add(time.Second)); len(re.Commands) != 1 || re.Commands[0].(aggregates.RecordDeadlineEscalation).EscalatedTo != "director" {
		t.Fatalf("escalation fired: %+v", re)
	}
	escalated := breached
	escalated.EscalatedTo = "director"
	if re := s.Due(escalated, dl.EscalateAt.Add(time.Hour)); len(re.Commands)+len(re.Timers) != 0 {
		t.Fatalf("escalated twice: %+v", re)
	}
	if kind, _ := s.Next(escalated); kind != "" {
		t.Fatalf("next after the last step: %s", kind)
	}
}
