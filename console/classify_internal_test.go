package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/eventstore"
)

// A form's answer to a corrupt history and to a timeout is the API's, in
// the same words (capitalised for a page).
func TestFormAnswersAsTheAPI(t *testing.T) {
	code, errs, _ := errorsFor("place", fmt.Errorf("load: %w", &eventstore.CorruptError{Sequence: 7, Err: errors.New("bad")}))
	if code != http.StatusInternalServerError || len(errs) != 1 || !strings.Contains(errs[0].Message, "stream sequence 7") || !strings.Contains(errs[0].Message, "void") {
		t.Errorf("a corrupt history shows %d %+v; want 500 naming the sequence and the operator's void", code, errs)
	}
	code, errs, _ = errorsFor("place", fmt.Errorf("load: %w", context.DeadlineExceeded))
	if code != http.StatusServiceUnavailable || len(errs) != 1 || !strings.Contains(errs[0].Message, "nothing was written") {
		t.Errorf("a timeout shows %d %+v; want 503, nothing written", code, errs)
	}
}

// Every action package app can offer has a form here, and every form is
// one package app knows how to offer: a name spelt differently would never
// be offered.
func TestEveryActionHasAForm(t *testing.T) {
	var names []string
	for _, a := range actions {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, app.ActionNames) {
		t.Errorf("the console's forms are %v; package app's actions are %v", names, app.ActionNames)
	}
}

// Every question a form asks has package app's words for it missing or
// wrong, so no form falls back to naming its own label.
func TestEveryQuestionHasWords(t *testing.T) {
	s := &Server{}
	c := &call{}
	now := time.Date(2026, 3, 27, 14, 30, 0, 0, time.UTC)
	ref := aggregates.Referral{ID: "r1"}
	forms := map[string][]field{
		aggregates.ReceiveReferral{}.CommandName(): s.receiveFields(c, now),
		aggregates.Allocate{}.CommandName():        s.allocateFields(ref, "North West", "Stockport"),
		aggregates.PauseAuthority{}.CommandName():  s.pauseFields("North West", now),
		aggregates.EndPause{}.CommandName():        {{Name: "endAuthority", Of: "authority"}, {Name: "endReason", Of: "reason"}},
		correctAsks:                                correctFields(aggregates.CorrectableFields()),
	}
	for _, a := range actions {
		forms[a.Asks] = append(forms[a.Asks], a.Fields(c, ref, now)...)
	}
	for command, fields := range forms {
		for _, f := range fields {
			if app.Ask(command, f.of()) == "" {
				t.Errorf("%s: no words in package app for the question %q (%s)", command, f.Label, f.of())
			}
		}
	}
}

// A form sent empty shows every question it needs answered at once, in
// the words of package app, not the first one alone.
func TestCheckFindsEveryProblemAtOnce(t *testing.T) {
	s := &Server{}
	fields := s.receiveFields(&call{}, time.Date(2026, 3, 27, 14, 30, 0, 0, time.UTC))
	errs := check("receive-referral", fields, url.Values{"route": {"boat"}, "claimedAge": {"fifteen"}, "receivedAt-day": {"31"}, "receivedAt-month": {"2"}, "receivedAt-year": {"2026"}, "receivedAt-time": {"14:30"}})
	got := map[string]string{}
	for _, e := range errs {
		got[e.Field] = e.Message
	}
	for field, want := range map[string]string{
		"route":          "Select how the referral came: from an interim hotel or from an entry authority",
		"childReference": app.Ask("receive-referral", "childReference"),
		"claimedAge":     app.Ask("receive-referral", "claimedAge"),
		"receivedAt":     app.Ask("receive-referral", "receivedAt"),
	} {
		if got[field] != want {
			t.Errorf("%s: %q, want %q (all: %v)", field, got[field], want, got)
		}
	}
}

// Counts read as people say them: a threshold of 28.845 children is
// reached with the 29th child, and thousands have their comma.
func TestCountsAsPeopleReadThem(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{plural(thresholdCount(28.845), "child"), "29 children"},
		{plural(thresholdCount(29), "child"), "29 children"},
		{plural(1, "child"), "1 child"},
		{plural(1572, "working day"), "1,572 working days"},
		{plural(2, "search"), "2 searches"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
