package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
)

// Given a new referral, when a form sends a route no form offers, then the
// person reads what to do in their words, not the API's values.
func TestSayWordsAChoiceForThePersonAtTheForm(t *testing.T) {
	now := time.Date(2026, 3, 27, 14, 30, 0, 0, time.UTC)
	cmd := aggregates.ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "boat", ChildReference: "HO-1", ReceivedAt: now.Add(-time.Hour)}
	_, err := aggregates.Decide(aggregates.Referral{ID: "r1"}, cmd, now)
	o := app.Classify(err)
	if o.Field != "route" || !strings.Contains(o.Message, `"hotel"`) {
		t.Fatalf("the decider's refusal changed: %+v", o)
	}
	if got := app.Say(cmd.CommandName(), o); got != "Select how the referral came: from an interim hotel or from an entry authority" {
		t.Errorf("Say: %q", got)
	}
}

// Given a placement provider longer than its limit, when the engine's
// input check refuses it, then the field is named as a person would.
func TestSayNamesAFieldOverItsLimit(t *testing.T) {
	cmd := aggregates.Place{PlacementType: "U4", Provider: strings.Repeat("x", 5000), PlacedAt: time.Now()}
	o := app.Classify(aggregates.CheckInput(cmd))
	if o.Field != "provider" {
		t.Fatalf("no limit refusal on provider: %+v", o)
	}
	if got := app.Say(cmd.CommandName(), o); !strings.HasPrefix(got, "The placement provider is longer than ") {
		t.Errorf("Say: %q", got)
	}
}

// A refusal the form has no words of its own for keeps the decider's,
// capitalised for a page.
func TestSayKeepsTheDecidersOtherWords(t *testing.T) {
	o := app.Outcome{Kind: app.Refused, Field: "placedAt", Message: "the placement time is in the future"}
	if got := app.Say("place", o); got != "The placement time is in the future" {
		t.Errorf("Say: %q", got)
	}
}
