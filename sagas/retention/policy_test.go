package retention

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func received(when string, dob string, claimed int) events.Event {
	return events.New(at(when), events.ReferralReceived{ReferralID: "r-1", ReceivingAuthority: "E08000007", Route: events.RouteHotel,
		ChildReference: "C-1", DateOfBirth: dob, ClaimedAge: claimed})
}

func date(s string) calendar.Date {
	d, err := calendar.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestRetentionFromTheFactsRecorded(t *testing.T) {
	p := DefaultPolicy()
	placed := events.New(at("2026-03-04T10:00:00Z"), events.ReferralPlaced{PlacementType: "U1", Provider: "in-house", PlacedAt: at("2026-03-04T10:00:00Z")})
	for _, c := range []struct {
		name  string
		given []events.Event
		rule  string
		until string
		known bool
	}{
		{"looked after: until the 75th birthday",
			[]events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0), placed}, RuleLookedAfter, "2085-05-20", true},
		{"looked after, assessed date of birth stands over the recorded one",
			[]events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0), placed,
				events.New(at("2026-04-01T09:00:00Z"), events.AgeAssessed{Method: "merton", Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: "2009-01-02"})},
			RuleLookedAfter, "2084-01-02", true},
		{"died before 18: 15 years after the death, London date",
			[]events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0), placed,
				// 23:30 UTC on 9 June is 10 June in London (BST).
				events.New(at("2026-06-09T23:30:00Z"), events.ChildLeftCare{LeftAt: at("2026-06-09T23:30:00Z"), Reason: aggregates.LeftCareDied})},
			RuleDiedBeforeEighteen, "2041-06-10", true},
		{"died after 18: the looked-after period",
			[]events.Event{received("2026-03-01T09:00:00Z", "2008-01-10", 0), placed,
				events.New(at("2026-06-09T12:00:00Z"), events.ChildLeftCare{LeftAt: at("2026-06-09T12:00:00Z"), Reason: aggregates.LeftCareDied})},
			RuleLookedAfter, "2083-01-10", true},
		{"never looked after, withdrawn: the 21st birthday",
			[]events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0),
				events.New(at("2026-03-02T09:00:00Z"), events.ReferralWithdrawn{Reason: "reallocated"})},
			RuleNeverLookedAfter, "2031-05-20", true},
		{"never looked after, withdrawn near 18: three years after closing",
			[]events.Event{received("2026-03-01T09:00:00Z", "2006-04-01", 0),
				events.New(at("2026-03-02T09:00:00Z"), events.ReferralWithdrawn{Reason: "assessed-adult"})},
			RuleNeverLookedAfter, "2029-03-02", true},
		{"claimed age only: the youngest the claim allows",
			[]events.Event{received("2026-03-01T09:00:00Z", "", 15), placed}, RuleLookedAfter, "2086-03-01", true},
		{"open and never placed: not yet known", []events.Event{received("2026-03-01T09:00:00Z", "2010-05-20", 0)}, "", "", false},
		{"no date of birth nor claimed age: kept", []events.Event{received("2026-03-01T09:00:00Z", "", 0), placed}, "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, ok := p.Retain(FactsOf(c.given))
			if ok != c.known {
				t.Fatalf("known %v, want %v (%+v)", ok, c.known, r)
			}
			if !ok {
				return
			}
			if r.Rule != c.rule || r.Until != date(c.until) {
				t.Errorf("%s until %s, want %s until %s", r.Rule, r.Until, c.rule, c.until)
			}
			if want := date(c.until).Start(); !r.Due().Equal(want) || r.Due().In(calendar.London).Hour() != 0 {
				t.Errorf("due %s", r.Due())
			}
		})
	}
}

func TestPolicyNamesItsSources(t *testing.T) {
	if _, err := ParsePolicy([]byte(`{"version":"v","lookedAfter":{"untilBirthday":75},"diedBeforeEighteen":{"yearsAfterDeath":15,"source":"x"},"neverLookedAfter":{"untilBirthday":21,"source":"y"}}`)); err == nil {
		t.Error("a period with no source was accepted")
	}
	if _, err := ParsePolicy([]byte(`{"version":"v","lookedAfter":{"untilBirthday":75,"source":"x","extra":1}}`)); err == nil {
		t.Error("a misspelt field was accepted")
	}
}
