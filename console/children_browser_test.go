package console_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

// A team leader follows a child from referral to leaving care on the
// child's journey page: the child in the list, placed through the forms,
// allocated a social worker, recorded missing (a banner on the journey, a
// red tag in the lists, the police and hub told by the safeguarding saga),
// the strategy discussion (first refused without its attendees, every
// error in the summary), the return and the return interview, then leaving
// care. Every page is checked with axe-core.
func TestChildJourneyInTheBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	r := newRigWith(t, rigOptions{signIn: true, safeguarding: true})
	defer func() {
		t.Logf("children browser suite: %d pages checked with axe-core %s, %v", len(b.pages), b.axeVersion, time.Since(start).Round(time.Millisecond))
	}()
	id := r.receive("journey", "E08000007", "entry-authority", time.Now().Add(-time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	team := func(c aggregates.TeamCommand) {
		t.Helper()
		if _, err := engine.Handle(ctx, r.eng, aggregates.Teams, "E08000007", c, engine.Meta{Actor: "test setup"}); err != nil {
			t.Fatal(err)
		}
	}
	team(aggregates.SetWorker{StaffID: "sw1", Name: "Jo Smith", CaseloadCap: new(10)})
	team(aggregates.AllocateWorker{ReferralID: id, Received: true})
	r.settle()

	sam := signIn(b, r, "authority:E08000007")
	journey := `a[href^="/console/children/HO-journey"]`
	b.run(sam, "the children in our care", chromedp.Navigate(r.base+"/console/children"), chromedp.WaitVisible(chromedp.CSS(`tr[data-referral="`+id+`"][data-status="awaiting-placement"]`)))
	if w := b.text(sam, `tr[data-referral="`+id+`"]`); !strings.Contains(w, "Jo Smith") || !strings.Contains(w, "Placement deadline") {
		t.Errorf("the child's row: %q", w)
	}
	b.check(sam, "children")
	b.run(sam, "the child's journey", chromedp.Click(chromedp.CSS(journey)), chromedp.WaitVisible(chromedp.CSS("#journey-summary")))
	if s := b.text(sam, "#care-status"); s != "Awaiting placement" {
		t.Errorf("care status %q", s)
	}
	if tl := b.text(sam, "#timeline"); !strings.Contains(tl, "Referral received") {
		t.Errorf("the transfer's timeline: %q", tl)
	}
	b.check(sam, "journey-received")

	// Placed through the referral's form, back to the journey.
	b.run(sam, "the referral's actions", chromedp.Click(chromedp.CSS("#referral-actions")), chromedp.WaitVisible(chromedp.CSS("#action-place")))
	b.run(sam, "place", chromedp.Click(chromedp.CSS("#action-place")), chromedp.WaitVisible(chromedp.CSS("#provider")),
		chromedp.SetValue(chromedp.CSS("#placementType"), "U4"),
		chromedp.SendKeys(chromedp.CSS("#provider"), "Independent fostering agency"),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	b.run(sam, "back to the journey", chromedp.Navigate(r.base+"/console/children/HO-journey"), chromedp.WaitVisible(chromedp.CSS("#care-report-missing")))
	if p := b.text(sam, "#placement"); !strings.Contains(p, "U4") {
		t.Errorf("placement %q", p)
	}
	if w := b.text(sam, "#social-worker"); w != "Jo Smith" {
		t.Errorf("social worker %q", w)
	}
	b.check(sam, "journey-placed")

	// Missing: the form, then the banner.
	b.run(sam, "record missing", chromedp.Click(chromedp.CSS("#care-report-missing")), chromedp.WaitVisible(chromedp.CSS("#policeReference")))
	b.check(sam, "form-report-missing")
	b.run(sam, "send it",
		chromedp.SendKeys(chromedp.CSS("#lastSeen"), "Leaving the placement after tea"),
		chromedp.SendKeys(chromedp.CSS("#policeReference"), "GMP-2026-114"),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#missing-banner")))
	if m := b.text(sam, "main"); !strings.Contains(m, "Missing episode recorded") {
		t.Errorf("no notice after recording: %q", m)
	}
	waitFor(t, "the police and the hub told", 15*time.Second, func() bool {
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		c, _, err := engine.LoadThrough(lctx, r.eng, aggregates.Cares, id)
		ep, on := c.Missing()
		return err == nil && on && len(ep.Notified) >= 2
	})
	b.run(sam, "reload", chromedp.Navigate(r.base+"/console/children/HO-journey"), chromedp.WaitVisible(chromedp.CSS("#missing-banner")))
	if s := b.text(sam, "#missing-banner"); !strings.Contains(s, "missing since") || !strings.Contains(strings.ToLower(s), "police") {
		t.Errorf("banner: %q", s)
	}
	if s := b.text(sam, "#care-status"); s != "Missing now" {
		t.Errorf("care status %q", s)
	}
	b.check(sam, "journey-missing")
	r.settle()
	b.run(sam, "the list, missing", chromedp.Navigate(r.base+"/console/children"), chromedp.WaitVisible(chromedp.CSS(`tr[data-referral="`+id+`"][data-status="missing"] .govuk-tag--red`)))
	b.check(sam, "children-missing")
	b.run(sam, "safeguarding", chromedp.Navigate(r.base+"/console/safeguarding"), chromedp.WaitVisible(chromedp.CSS("#missing-table")))
	if s := b.text(sam, "#missing-table"); !strings.Contains(s, "HO-journey") {
		t.Errorf("safeguarding lists %q", s)
	}
	b.check(sam, "safeguarding-missing")

	// The strategy discussion, first without its attendees: the error
	// summary links to the field.
	b.run(sam, "the strategy discussion", chromedp.Click(chromedp.CSS(journey)), chromedp.WaitVisible(chromedp.CSS("#care-strategy-discussion")),
		chromedp.Click(chromedp.CSS("#care-strategy-discussion")), chromedp.WaitVisible(chromedp.CSS("#attendees-0")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#attendees-error")))
	if s := b.text(sam, "#error-summary"); !strings.Contains(s, "Select who took part") {
		t.Errorf("error summary %q", s)
	}
	b.check(sam, "form-strategy-refused")
	b.run(sam, "with the police and social care",
		chromedp.Click(chromedp.CSS("#attendees-0")), chromedp.Click(chromedp.CSS("#attendees-1")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#episodes-table")))
	if s := b.text(sam, `#episodes-table tr[data-episode="1"]`); !strings.Contains(s, "Held") {
		t.Errorf("episode after the discussion: %q", s)
	}

	// The return, then the return interview: the episode closes.
	b.run(sam, "the return", chromedp.Click(chromedp.CSS("#care-record-return")), chromedp.WaitVisible(chromedp.CSS("#whereFound")))
	b.check(sam, "form-record-return")
	b.run(sam, "send it", chromedp.SendKeys(chromedp.CSS("#whereFound"), "At a friend's house in town"),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#care-return-interview")))
	if s := b.text(sam, "#care-status"); s != "Returned, interview to offer" {
		t.Errorf("after the return: %q", s)
	}
	if n := value(b, sam, "no banner", chromedp.Evaluate[int](`document.querySelectorAll("#missing-banner").length`)); n != 0 {
		t.Errorf("the missing banner stays after the return")
	}
	b.check(sam, "journey-returned")
	b.run(sam, "the return interview", chromedp.Click(chromedp.CSS("#care-return-interview")), chromedp.WaitVisible(chromedp.CSS("#offeredBy")))
	b.check(sam, "form-return-interview")
	b.run(sam, "send it", chromedp.SendKeys(chromedp.CSS("#offeredBy"), "Independent advocate"), chromedp.Click(chromedp.CSS("#accepted-0")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#episodes-table")))
	if s := b.text(sam, `#episodes-table tr[data-episode="1"]`); !strings.Contains(s, "Offered in time") {
		t.Errorf("episode after the interview: %q", s)
	}
	if s := b.text(sam, "#care-status"); s != "Placed" {
		t.Errorf("after the interview: %q", s)
	}
	b.check(sam, "journey-closed")

	// The date of birth sets the leaving-care milestones: this child turned
	// 16 three months ago, so the leaving-care team is due.
	dob := time.Now().AddDate(-16, -3, 0)
	b.run(sam, "the date of birth", chromedp.Click(chromedp.CSS("#care-date-of-birth")), chromedp.WaitVisible(chromedp.CSS("#dateOfBirth-day")),
		chromedp.SendKeys(chromedp.CSS("#dateOfBirth-day"), strconv.Itoa(dob.Day())), chromedp.SendKeys(chromedp.CSS("#dateOfBirth-month"), strconv.Itoa(int(dob.Month()))),
		chromedp.SendKeys(chromedp.CSS("#dateOfBirth-year"), strconv.Itoa(dob.Year())),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#milestones-table")))
	if m := b.text(sam, "#milestones-table"); !strings.Contains(m, "16: the leaving-care team") || !strings.Contains(m, "Overdue") || !strings.Contains(m, "18: a care leaver") || !strings.Contains(m, "To come") {
		t.Errorf("milestones: %q", m)
	}
	if s := b.text(sam, "#journey-summary"); !strings.Contains(s, dob.Format("2 January 2006")) {
		t.Errorf("the date of birth as people read it: %q", s)
	}
	b.check(sam, "journey-milestones")

	// Leaving care, through the referral's form; the journey ends there.
	b.run(sam, "leaving care", chromedp.Navigate(r.base+"/console/referrals/"+id+"/left-care"), chromedp.WaitVisible(chromedp.CSS("#reason-0")),
		chromedp.Click(chromedp.CSS("#reason-0")), chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	b.run(sam, "the journey's end", chromedp.Navigate(r.base+"/console/children/HO-journey"), chromedp.WaitVisible(chromedp.CSS("#journey-summary")))
	if s := b.text(sam, "#care-status"); s != "Left care" {
		t.Errorf("after leaving care: %q", s)
	}
	if n := value(b, sam, "no care actions", chromedp.Evaluate[int](`document.querySelectorAll("#care-actions a[id^=care-]").length`)); n != 0 {
		t.Errorf("%d care actions offered after leaving care", n)
	}
	b.check(sam, "journey-left-care")
}
