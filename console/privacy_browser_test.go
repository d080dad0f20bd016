package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The data protection officer's page, in chromium with axe-core: the
// authority sees a corrected value, its read is in the read audit, and the
// officer finds it there and downloads the child's export.
func TestDataProtectionInTheBrowser(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t, true)
	ctx := context.Background()

	c := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Interim hotel A", ChildReference: "HO-DP-1",
		DateOfBirth: "2010-03-01", Sex: "male", Nationality: "Sudanese", ReceivedAt: time.Now().Add(-time.Hour)}
	c.ReferralID = engine.NewReferralID("E08000007", "dp-1")
	id := r.do(c.ReferralID, c).AggregateID
	sam := app.As(auth.Principal{Name: "Sam Stockport", Kind: auth.Authority, Authority: "E08000007"})
	if _, err := (app.Referrals{Engine: r.eng, Authorities: r.reg}).Correct(ctx, sam, id,
		aggregates.CorrectChildDetail{Field: aggregates.FieldNationality, NewValue: "Eritrean", Reason: "the child's documents"}, engine.Meta{Actor: "Sam Stockport"}); err != nil {
		t.Fatal(err)
	}

	// The authority reads the referral: the corrected value, and the
	// correction in the timeline.
	sp := signIn(b, r, "authority:E08000007")
	b.run(sp, "open the referral", chromedp.Navigate(r.base+"/console/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if got := b.text(sp, "#nationality"); got != "Eritrean" {
		t.Errorf("the referral shows nationality %q; want the corrected Eritrean", got)
	}
	if tl := b.text(sp, "#timeline"); !strings.Contains(tl, "Child's details corrected") || !strings.Contains(tl, "Nationality corrected to Eritrean by the authority") {
		t.Errorf("timeline: %s", tl)
	}
	b.check(sp, "referral-corrected")
	if nav := b.text(sp, "nav"); strings.Contains(nav, "Data protection") {
		t.Errorf("the authority is offered the data protection page: %s", nav)
	}
	b.run(sp, "the data protection page, by its address", chromedp.Navigate(r.base+"/console/privacy"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := b.text(sp, "h1"); !strings.Contains(h, "You cannot") {
		t.Errorf("the authority on the data protection page sees %q", h)
	}

	// The officer lands on their page, empty states and all.
	dp := signIn(b, r, "data-protection")
	if h := b.text(dp, "h1"); h != "Data protection" {
		t.Fatalf("the data protection officer lands on %q", h)
	}
	if d := b.text(dp, "#disposals-none"); !strings.Contains(d, "None recorded yet") {
		t.Errorf("disposals: %q", d)
	}
	if d := b.text(dp, "#holds-none"); !strings.Contains(d, "None recorded yet") {
		t.Errorf("legal holds: %q", d)
	}
	b.check(dp, "privacy")

	// Who read the child's record.
	waitFor(t, "Sam's read in the read audit", 10*time.Second, func() bool { return r.reads.Stats().Written >= 1 })
	b.run(dp, "who read the child",
		chromedp.SendKeys(chromedp.CSS("#read-referral"), id),
		chromedp.Click(chromedp.CSS("#show-reads")),
		chromedp.WaitVisible(chromedp.CSS("#reads")))
	if rows := b.text(dp, "#reads"); !strings.Contains(rows, "Sam Stockport") || !strings.Contains(rows, "The referral") || !strings.Contains(rows, "authority:E08000007") {
		t.Errorf("the reads of the child: %s", rows)
	}
	b.check(dp, "privacy-reads")
	b.run(dp, "what a person read",
		chromedp.Navigate(r.base+"/console/privacy?read-reader="+strings.ReplaceAll("Ada Auditor", " ", "+")),
		chromedp.WaitVisible(chromedp.CSS("#reads-none")))

	// An export without a reason is refused beside the field.
	b.run(dp, "export with no reason",
		chromedp.SendKeys(chromedp.CSS("#referral"), id),
		chromedp.Click(chromedp.CSS("#export")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	if msg := b.text(dp, "#reason-error"); !strings.Contains(msg, "Say why") {
		t.Errorf("reason error: %q", msg)
	}
	b.check(dp, "privacy-export-refused")

	// Then the export, downloaded.
	dir := t.TempDir()
	dctx, dcancel := context.WithTimeout(dp, 10*time.Second)
	_, err := chromedp.CallBrowser(dctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, BrowserContextID: chromedp.FromContext(dp).BrowserContextID})
	dcancel()
	if err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	b.run(dp, "export",
		chromedp.SendKeys(chromedp.CSS("#reason"), "Request from the child's advocate"),
		chromedp.Click(chromedp.CSS("#export")))
	var zip string
	if !storetest.WaitFor(10*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "subject-access-"+id+"-*.zip"))
		if len(m) == 1 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				zip = m[0]
			}
		}
		return zip != ""
	}) {
		t.Fatal("the export was not downloaded")
	}
	_, stored, err := r.eng.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := stored[len(stored)-1].Commit.Events[0]
	if _, ok := last.Data.(events.SubjectAccessExported); !ok || last.Actor != "Dee Protection" {
		t.Errorf("the export is not on the child's record: %+v", last)
	}
}
