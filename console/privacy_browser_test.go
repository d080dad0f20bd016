package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

const testRetentionPolicy = `{"version":"console-test-retention",
 "lookedAfter":{"untilBirthday":75,"source":"test"},
 "diedBeforeEighteen":{"yearsAfterDeath":15,"source":"test"},
 "neverLookedAfter":{"untilBirthday":18,"yearsAfterClosing":0,"source":"test"}}`

// The data protection officer's page, in chromium with axe-core: the
// authority sees a corrected value, its read is in the read audit, and the
// officer finds it there and downloads the child's export. The officer
// sees the legal hold placed and the disposal due, as the API counts them.
func TestDataProtectionInTheBrowser(t *testing.T) {
	b := startBrowser(t)
	// Kept to the 18th birthday, and no longer after a withdrawal: the
	// scheme began in 2016, so under the shipped policy no record it holds
	// falls due before 2029.
	keep, err := retention.ParsePolicy([]byte(testRetentionPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, rigOptions{signIn: true, retention: &keep, deadlines: calmPolicy})
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
	if d := b.text(dp, "#disposals-none"); !strings.HasPrefix(d, "None: no record's retention ends by ") {
		t.Errorf("disposals: %q", d)
	}
	if d := b.text(dp, "#holds-none"); !strings.HasPrefix(d, "None") {
		t.Errorf("legal holds: %q", d)
	}
	if d := b.text(dp, "#disposed-none"); !strings.HasPrefix(d, "None") {
		t.Errorf("disposals done: %q", d)
	}
	b.check(dp, "privacy")

	// A withdrawn referral of a child who turns 18 ten days from now, so
	// kept until then; and a legal hold on the first child's record, placed
	// by the officer through the use case the API calls.
	dueOn := calendar.DateOf(time.Now()).AddDays(10)
	dob := dueOn
	dob.Year -= 18
	old := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Interim hotel A", ChildReference: "HO-DP-2",
		DateOfBirth: dob.String(), ReceivedAt: time.Now().Add(-time.Hour)}
	old.ReferralID = engine.NewReferralID("E08000007", "dp-2")
	oldID := r.do(old.ReferralID, old).AggregateID
	r.do(oldID, aggregates.Withdraw{Reason: "family-reunion"})
	dee := app.As(auth.Principal{Name: "Dee Protection", Kind: auth.DataProtection})
	if _, err := (app.Records{Engine: r.eng}).Hold(ctx, dee, id, true, "Inquiry into 2026 placements", engine.Meta{Actor: "Dee Protection"}); err != nil {
		t.Fatal(err)
	}
	var api struct {
		Result projections.RecordsReport `json:"result"`
	}
	waitFor(t, "the hold and the disposal due in GET /v1/records", 10*time.Second, func() bool {
		api.Result = projections.RecordsReport{}
		apiGet(t, r, "/v1/records", r.tokens["data-protection"], &api)
		return len(api.Result.Holds) == 1 && len(api.Result.Due) == 1
	})
	if h := api.Result.Holds[0]; h.ReferralID != id || h.Reason != "Inquiry into 2026 placements" {
		t.Errorf("API hold: %+v", h)
	}
	if d := api.Result.Due[0]; d.ReferralID != oldID || d.Due != dueOn.String() || d.Overdue || d.Rule != retention.RuleNeverLookedAfter {
		t.Errorf("API due: %+v", d)
	}
	b.run(dp, "the page again", chromedp.Navigate(r.base+"/console/privacy"), chromedp.WaitVisible(chromedp.CSS("#legal-holds")))
	holds := b.text(dp, "#legal-holds")
	if !strings.Contains(holds, id) || !strings.Contains(holds, "Inquiry into 2026 placements") || !strings.Contains(holds, "Stockport") {
		t.Errorf("legal holds on the page: %s", holds)
	}
	due := b.text(dp, "#disposals-due")
	if !strings.Contains(due, oldID) || !strings.Contains(due, "Never looked after") || !strings.Contains(due, dueOn.Start().Format("2 January 2006")) {
		t.Errorf("disposals due on the page: %s", due)
	}
	// The page's numbers are the API's.
	if got, want := b.text(dp, "#disposals-count"), strconv.Itoa(len(api.Result.Due)); got != want {
		t.Errorf("the page counts %s disposals due, the API %s", got, want)
	}
	if got, want := b.text(dp, "#holds-count"), strconv.Itoa(len(api.Result.Holds)); got != want {
		t.Errorf("the page counts %s legal holds, the API %s", got, want)
	}
	if got, want := b.text(dp, "#records-unknown"), strconv.Itoa(api.Result.Unknown)+" "; api.Result.Unknown == 0 || !strings.HasPrefix(got, want) {
		t.Errorf("the page says %q of records not yet known, the API %d", got, api.Result.Unknown)
	}
	if d := b.text(dp, "#disposed-none"); api.Result.DisposedTotal != 0 || !strings.HasPrefix(d, "None") {
		t.Errorf("disposals done: the page says %q, the API counts %d", d, api.Result.DisposedTotal)
	}
	b.check(dp, "privacy-records")
	b.run(dp, "back to the page", chromedp.Navigate(r.base+"/console/privacy"), chromedp.WaitVisible(chromedp.CSS("h1")))

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
	_, err = chromedp.CallBrowser(dctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
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

// apiGet reads path from the rig's API with token into out.
func apiGet(t *testing.T, r *rig, path, token string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}
