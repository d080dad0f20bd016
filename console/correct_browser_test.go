package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// Rectification in the console, in chromium with axe-core: the authority
// finds "Correct a detail" on the referral, sees every problem of an empty
// form at once, corrects the nationality and reads the right value on the
// referral; the data protection officer is offered only what the officer
// corrects, and a date of birth sent all the same is refused in words.
func TestCorrectionInTheBrowser(t *testing.T) {
	b := startBrowser(t)
	r := newRigWith(t, rigOptions{signIn: true, deadlines: calmPolicy})

	c := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Interim hotel A", ChildReference: "HO-CR-1",
		DateOfBirth: "2010-03-01", Sex: "male", Nationality: "Sudanese", ReceivedAt: time.Now().Add(-time.Hour)}
	c.ReferralID = engine.NewReferralID("E08000007", "cr-1")
	id := r.do(c.ReferralID, c).AggregateID

	sp := signIn(b, r, "authority:E08000007")
	b.run(sp, "open the referral", chromedp.Navigate(r.base+"/console/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("#action-correct")))
	b.run(sp, "open the correction form", chromedp.Click(chromedp.CSS("#action-correct")), chromedp.WaitVisible(chromedp.CSS("#field-0")))
	if got := b.text(sp, ".govuk-radios"); !strings.Contains(got, "Date of birth") || !strings.Contains(got, "Nationality") {
		t.Errorf("the authority's form does not offer the date of birth and the nationality: %s", got)
	}
	b.check(sp, "correct")

	b.run(sp, "send the form empty", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	sum := b.text(sp, "#error-summary")
	for _, q := range []string{"field", "newValue", "reason"} {
		if want := app.Ask("correct-child-detail", q); !strings.Contains(sum, want) {
			t.Errorf("the error summary lacks %q: %s", want, sum)
		}
	}
	b.check(sp, "correct-empty")

	b.run(sp, "correct the nationality",
		chromedp.Click(chromedp.CSS("#field-2")),
		chromedp.SendKeys(chromedp.CSS("#newValue"), "Eritrean"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "The child's passport"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")))
	// Read through the page's own DOM, waiting until it shows the value:
	// a node query made as the new page settles can name a node of the
	// document it replaced.
	var got string
	if !storetest.WaitFor(10*time.Second, func() bool {
		got = strings.TrimSpace(value(b, sp, "read #nationality", chromedp.Evaluate[string](`(document.getElementById("nationality") || {}).textContent || ""`)))
		return got == "Eritrean"
	}) {
		t.Errorf("the referral shows nationality %q after the correction; want Eritrean", got)
	}
	if tl := b.text(sp, "#timeline"); !strings.Contains(tl, "Nationality corrected to Eritrean by the authority") {
		t.Errorf("timeline: %s", tl)
	}
	b.check(sp, "correct-done")

	// The officer corrects on a request, but not the date of birth: the
	// form does not offer it, and sent all the same (an altered form) the
	// refusal says who corrects it.
	dp := signIn(b, r, "data-protection")
	b.run(dp, "ask for a correction with no referral", chromedp.Click(chromedp.CSS("#correct")), chromedp.WaitVisible(chromedp.CSS("#correct-referral-error")))
	b.check(dp, "privacy-correct-empty")
	b.run(dp, "open the correction form",
		chromedp.SendKeys(chromedp.CSS("#correct-referral"), id),
		chromedp.Click(chromedp.CSS("#correct")),
		chromedp.WaitVisible(chromedp.CSS("#field-0")))
	if got := b.text(dp, ".govuk-radios"); strings.Contains(got, "Date of birth") || !strings.Contains(got, "Nationality") {
		t.Errorf("the officer's form should offer the sex and nationality, not the date of birth: %s", got)
	}
	if !value(b, dp, "send the date of birth", chromedp.Evaluate[bool](`(() => { const r = document.querySelector("#field-0"); r.value = "dateOfBirth"; r.checked = true; return true })()`)) {
		t.Fatal("could not alter the form")
	}
	b.run(dp, "correct the date of birth",
		chromedp.SendKeys(chromedp.CSS("#newValue"), "1 3 2011"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "The child's request"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	if sum := b.text(dp, "#error-summary"); !strings.Contains(sum, "The date of birth is corrected by the authority that holds the referral only") {
		t.Errorf("the officer's date of birth correction is refused with: %s", sum)
	}
	b.check(dp, "correct-refused")
	ref, _, err := r.eng.Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ref.DateOfBirth != "2010-03-01" || ref.Corrections != 1 {
		t.Errorf("after the refusal the date of birth is %q with %d corrections; want 2010-03-01 and 1", ref.DateOfBirth, ref.Corrections)
	}
}
