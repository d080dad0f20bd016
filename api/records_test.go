package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/wiring"
)

// GET /v1/records on a real embedded JetStream with the live views: the
// disposal due (by the policy in force), the legal hold and the disposal
// done, for the data protection officer only; bad numbers are refused in
// words.
func TestRecordsOverHTTP(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	reg := refdata.Default()
	tok, tokens := privacyTokens(t, reg)
	// Kept to the 18th birthday, nothing after a closing: something falls
	// due this month (the shipped policy's first dates are years away).
	keep, err := retention.ParsePolicy([]byte(`{"version":"api-test-retention","lookedAfter":{"untilBirthday":75,"source":"t"},"diedBeforeEighteen":{"yearsAfterDeath":15,"source":"t"},"neverLookedAfter":{"untilBirthday":18,"yearsAfterClosing":0,"source":"t"}}`))
	if err != nil {
		t.Fatal(err)
	}
	node := buildNode(t, n, wiring.Config{Log: slog.New(slog.DiscardHandler), Authorities: reg, Tokens: tokens, Retention: &keep}, wiring.Views)
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	ctx := context.Background()
	meta := engine.Meta{Actor: "test"}

	dueOn := calendar.DateOf(time.Now()).AddDays(5)
	dob := dueOn
	dob.Year -= 18
	receive := func(key, dob string) string {
		c := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Hotel A", ChildReference: "HO-" + key, DateOfBirth: dob, ReceivedAt: time.Now().Add(-time.Hour)}
		c.ReferralID = engine.NewReferralID("E08000007", key)
		out, err := node.Engine.Handle(ctx, c.ReferralID, c, meta)
		if err != nil {
			t.Fatal(err)
		}
		return out.AggregateID
	}
	due, held, gone := receive("due", dob.String()), receive("held", "2012-01-01"), receive("gone", dob.String())
	for _, id := range []string{due, gone} {
		if _, err := node.Engine.Handle(ctx, id, aggregates.Withdraw{Reason: "family-reunion"}, meta); err != nil {
			t.Fatal(err)
		}
	}
	if r := do(t, "POST", ts.URL+"/v1/records/"+held+"/legal-hold", `{"reason":"Claim 2026/77"}`, bearer(tok["data-protection"])...); r.status != 200 {
		t.Fatalf("legal hold: %d %s", r.status, r.body)
	}
	if _, err := engine.Handle(ctx, node.Engine, aggregates.Records, gone, aggregates.RecordCommand(aggregates.Dispose{Policy: keep.Version, Rule: retention.RuleNeverLookedAfter, Due: time.Now().Add(-time.Minute)}), meta); err != nil {
		t.Fatal(err)
	}

	var got struct {
		View   string                    `json:"view"`
		Result projections.RecordsReport `json:"result"`
	}
	if !storetest.WaitFor(10*time.Second, func() bool {
		r := do(t, "GET", ts.URL+"/v1/records?within=30", "", bearer(tok["data-protection"])...)
		got.Result = projections.RecordsReport{}
		json.Unmarshal(r.body, &got)
		return r.status == 200 && len(got.Result.Due) == 1 && len(got.Result.Holds) == 1 && len(got.Result.Disposed) == 1
	}) {
		t.Fatalf("GET /v1/records never listed the three records: %+v", got)
	}
	rep := got.Result
	if d := rep.Due[0]; got.View != "records" || d.ReferralID != due || d.Due != dueOn.String() || d.Rule != retention.RuleNeverLookedAfter || d.Overdue || d.Authority != "E08000007" {
		t.Errorf("due: %+v", d)
	}
	if h := rep.Holds[0]; h.ReferralID != held || h.Reason != "Claim 2026/77" || h.Due != "" || rep.Unknown != 1 {
		t.Errorf("hold: %+v, unknown %d (open and never placed: no period yet)", h, rep.Unknown)
	}
	if d := rep.Disposed[0]; d.ReferralID != gone || d.Policy != keep.Version || rep.DisposedTotal != 1 || rep.Policy != keep.Version {
		t.Errorf("disposed: %+v", rep)
	}
	// Within 3 days, the disposal in 5 is not yet listed.
	r := do(t, "GET", ts.URL+"/v1/records?within=3", "", bearer(tok["data-protection"])...)
	json.Unmarshal(r.body, &got)
	if r.status != 200 || len(got.Result.Due) != 0 {
		t.Errorf("within 3 days: %d %s", r.status, r.body)
	}

	for _, c := range []struct {
		name, tok, query string
		status           int
		field            string
	}{
		{"the authority", tok["authority:E08000007"], "", 403, ""},
		{"the auditor", tok["auditor"], "", 403, ""},
		{"no days", tok["data-protection"], "?within=0", 400, "within"},
		{"not a number", tok["data-protection"], "?within=soon", 400, "within"},
		{"beyond a year", tok["data-protection"], "?within=400", 400, "within"},
		{"too many disposals", tok["data-protection"], "?recent=5000", 400, "recent"},
	} {
		r := do(t, "GET", ts.URL+"/v1/records"+c.query, "", bearer(c.tok)...)
		if r.status != c.status || (c.field != "" && !strings.Contains(string(r.body), `"field":"`+c.field+`"`)) {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
}
