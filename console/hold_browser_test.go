package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The data protection officer places a legal hold from the console and
// releases it, in chromium with axe-core: the record's page shows until
// when it is kept, a hold with no reason is refused beside the field
// (what was typed stays), the hold is on the page and in the records
// list, the same form sent twice holds once, and the release puts it in
// the record's history. An authority is offered none of it and is
// refused when it posts the form anyway.
func TestLegalHoldsInTheBrowser(t *testing.T) {
	b := startBrowser(t)
	r := newRigWith(t, rigOptions{signIn: true, deadlines: calmPolicy})
	c := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Interim hotel A", ChildReference: "HO-HOLD-1",
		DateOfBirth: "2010-03-01", ReceivedAt: time.Now().Add(-2 * time.Hour)}
	c.ReferralID = engine.NewReferralID("E08000007", "hold-1")
	id := r.do(c.ReferralID, c).AggregateID
	r.do(id, aggregates.Place{PlacementType: "U4", Provider: "Independent fostering agency", PlacedAt: time.Now().Add(-time.Hour)})
	recordURL := r.base + "/console/privacy/records/" + id

	// The officer finds the record from the data protection page.
	dp := signIn(b, r, "data-protection")
	b.run(dp, "open the record",
		chromedp.SendKeys(chromedp.CSS("#record-referral"), id),
		chromedp.Click(chromedp.CSS("#open-record")),
		chromedp.WaitVisible(chromedp.CSS("#record-summary")))
	if h := b.text(dp, "h1"); h != "Child's record" {
		t.Fatalf("the record opens on %q", h)
	}
	if got := b.text(dp, "#record-hold"); got != "None" {
		t.Errorf("hold before any: %q", got)
	}
	// Looked after: kept until the 75th birthday, 1 March 2085 in London.
	if got := b.text(dp, "#record-kept"); got != "1 March 2085" {
		t.Errorf("kept until %q, want 1 March 2085", got)
	}
	if got := b.text(dp, "#record-rule"); !strings.HasPrefix(got, "Looked after, policy ") {
		t.Errorf("rule %q", got)
	}
	b.check(dp, "record")

	// No reason: refused beside the field and in the summary, nothing held.
	b.run(dp, "place with no reason",
		chromedp.Click(chromedp.CSS("#hold-submit")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	if msg := b.text(dp, "#reason-error"); !strings.Contains(msg, "Enter why the record must be kept") {
		t.Errorf("reason error: %q", msg)
	}
	if sum := b.text(dp, ".govuk-error-summary"); !strings.Contains(sum, "Enter why the record must be kept") {
		t.Errorf("error summary: %q", sum)
	}
	b.check(dp, "record-hold-refused")

	// A reason too long is refused in words, and what was typed stays.
	long := strings.Repeat("An inquiry into 2026 placements. ", 20)
	b.run(dp, "place with a reason too long",
		chromedp.SendKeys(chromedp.CSS("#reason"), long),
		chromedp.Click(chromedp.CSS("#hold-submit")))
	// The page before had an error beside the field too: wait for the new one.
	shows(b, dp, "#reason-error", "longer than 500")
	if msg := b.text(dp, "#reason-error"); !strings.Contains(msg, "longer than 500") {
		t.Errorf("a long reason: %q", msg)
	}
	if kept := value(b, dp, "the reason typed", chromedp.Value(chromedp.CSS("#reason"))); strings.TrimSpace(kept) != strings.TrimSpace(long) {
		t.Errorf("the form lost what was typed: %q", kept)
	}
	if got := r.record(id).Version; got != 0 {
		t.Fatalf("refused holds were recorded: version %d", got)
	}

	// Then the hold. The form's answers are kept to send them again.
	sent := value(b, dp, "the form's answers", chromedp.Evaluate[string](`(() => {
  const f = document.querySelector("#reason").form;
  f.querySelector("#reason").value = "Inquiry into 2026 placements";
  return new URLSearchParams(new FormData(f)).toString();
})()`))
	b.run(dp, "place the hold", chromedp.Click(chromedp.CSS("#hold-submit")))
	shows(b, dp, "#record-hold", "In force")
	if got := b.text(dp, "#record-hold"); !strings.Contains(got, "In force") || !strings.Contains(got, "Inquiry into 2026 placements") {
		t.Errorf("hold on the page: %q", got)
	}
	if got := b.text(dp, "#hold-history"); !strings.Contains(got, "Placed") || !strings.Contains(got, "Inquiry into 2026 placements") || !strings.Contains(got, "Dee Protection") {
		t.Errorf("hold history: %q", got)
	}
	b.check(dp, "record-held")

	// The same form again (a double click, a back and resend): the first
	// outcome, nothing recorded twice.
	status := value(b, dp, "send the same form again", chromedp.Evaluate[int](`fetch(location.pathname + "/legal-hold", {method: "POST", body: new URLSearchParams(`+jsString(sent)+`), redirect: "manual"}).then(r => r.type === "opaqueredirect" ? 303 : r.status)`, chromedp.EvalAwaitPromise))
	if status != 303 {
		t.Errorf("the same form again answers %d, want the first outcome (303)", status)
	}
	if rec := r.record(id); rec.Version != 1 || !rec.Held {
		t.Errorf("the same form sent twice: %+v", rec)
	}

	// In the records list.
	waitFor(t, "the hold in the records view", 10*time.Second, func() bool {
		var api struct {
			Result struct {
				Holds []struct {
					ReferralID string `json:"referralId"`
				} `json:"holds"`
			} `json:"result"`
		}
		apiGet(t, r, "/v1/records", r.tokens["data-protection"], &api)
		return len(api.Result.Holds) == 1
	})
	b.run(dp, "the data protection page", chromedp.Navigate(r.base+"/console/privacy"), chromedp.WaitVisible(chromedp.CSS("#legal-holds")))
	if holds := b.text(dp, "#legal-holds"); !strings.Contains(holds, id) || !strings.Contains(holds, "Inquiry into 2026 placements") {
		t.Errorf("legal holds list: %s", holds)
	}

	// From the list to the record, and the release.
	b.run(dp, "the record from the list",
		chromedp.Click(chromedp.CSS(`#legal-holds a[href="/console/privacy/records/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#hold-form-heading")))
	if h := b.text(dp, "#hold-form-heading"); h != "Release the legal hold" {
		t.Errorf("the held record offers %q", h)
	}
	b.run(dp, "release the hold",
		chromedp.SendKeys(chromedp.CSS("#reason"), "The inquiry has reported"),
		chromedp.Click(chromedp.CSS("#hold-submit")))
	shows(b, dp, "#hold-history", "The inquiry has reported")
	if got := b.text(dp, "#record-hold"); got != "None" {
		t.Errorf("after the release: %q", got)
	}
	hist := b.text(dp, "#hold-history")
	if !strings.Contains(hist, "Released") || !strings.Contains(hist, "The inquiry has reported") || strings.Index(hist, "\tReleased\t") > strings.Index(hist, "\tPlaced\t") {
		t.Errorf("history after the release (newest first): %q", hist)
	}
	if rec := r.record(id); rec.Version != 2 || rec.Held {
		t.Errorf("after the release: %+v", rec)
	}
	b.check(dp, "record-released")

	// An authority: no way in, and a form posted anyway is refused.
	sp := signIn(b, r, "authority:E08000007")
	b.run(sp, "the record's page, by its address", chromedp.Navigate(recordURL), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := b.text(sp, "h1"); !strings.HasPrefix(h, "You cannot") {
		t.Errorf("the authority on the record's page sees %q", h)
	}
	if n := value(b, sp, "hold controls", chromedp.Evaluate[int](`document.querySelectorAll("#hold-submit, #reason").length`)); n != 0 {
		t.Errorf("the authority is offered %d hold controls", n)
	}
	b.run(sp, "the referral", chromedp.Navigate(r.base+"/console/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("h1")))
	if n := value(b, sp, "links to the record", chromedp.Evaluate[int](`document.querySelectorAll('a[href^="/console/privacy"]').length`)); n != 0 {
		t.Errorf("the authority's referral page links to the record's keeping %d times", n)
	}
	status = value(b, sp, "post a hold anyway", chromedp.Evaluate[int](`fetch(location.pathname.replace(/^\/console\/referrals\//, "/console/privacy/records/") + "/legal-hold", {method: "POST", redirect: "manual",
  body: new URLSearchParams({csrf: document.querySelector('input[name="csrf"]').value, key: "console-by-hand", version: "2", reason: "I would like it kept"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("the authority's hold answers %d, want 403", status)
	}
	if rec := r.record(id); rec.Version != 2 || rec.Held {
		t.Errorf("the authority's hold was recorded: %+v", rec)
	}
}

// record is a child's record as the store holds it.
func (r *rig) record(id string) aggregates.Record {
	r.t.Helper()
	rec, _, err := engine.Load(r.t.Context(), r.eng.Store, aggregates.Records, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// shows waits until the element sel of the page now loaded holds text: a
// form sent reloads the page, and the page before may have had the same
// element, so waiting for it to be visible could read the old one. A
// read made while the page navigates fails and is made again.
func shows(b *browser, ctx context.Context, sel, text string) {
	b.t.Helper()
	expr := `document.readyState === "complete" && ((document.querySelector(` + jsString(sel) + `) || {}).textContent || "").includes(` + jsString(text) + `)`
	if !storetest.WaitFor(15*time.Second, func() bool {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](expr))
		return err == nil && ok
	}) {
		b.t.Fatalf("%s does not show %q within 15s: %q", sel, text, b.text(ctx, sel))
	}
}
