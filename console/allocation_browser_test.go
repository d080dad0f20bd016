package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
)

// The partnership allocates through the console: it puts Stockport first
// in its rota and allocates a referral by the rota; Stockport signs in and
// accepts it, and the referral continues as a received one. A second
// referral, given to Stockport by the coordinator's choice, gets an
// exception; with the rota's next authority paused, it is re-allocated to
// the one after. Every new page is checked with axe-core.
func TestAllocationInTheBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	r := newRig(t, true)
	defer func() {
		t.Logf("allocation browser suite: %d pages checked with axe-core %s, %v", len(b.pages), b.axeVersion, time.Since(start).Round(time.Millisecond))
	}()
	first, second := r.refer("nw-1"), r.refer("nw-2")
	members := r.reg.InRegion("North West")
	var rest []string
	for _, code := range members {
		if code != "E08000007" {
			rest = append(rest, code)
		}
	}
	load := func(id string) aggregates.Referral {
		ref, _, err := r.eng.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	r.settle()

	// The partnership's rota: Stockport to the top.
	nia := signIn(b, r, "region:North West")
	b.run(nia, "the rota", chromedp.Navigate(r.base+"/console/regions/north-west/rota"), chromedp.WaitVisible(chromedp.CSS("#rota-table")))
	b.check(nia, "rota")
	b.run(nia, "Stockport first",
		chromedp.SetValue(chromedp.CSS("#pos-E08000007"), "0"),
		chromedp.Click(chromedp.CSS("#submit-order")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if next := b.text(nia, "#rota-next"); next != "Stockport" {
		t.Errorf("next in the rota: %q", next)
	}
	b.check(nia, "rota-reordered")

	// Allocate the first by the rota, from the allocation page.
	b.run(nia, "the allocation page", chromedp.Navigate(r.base+"/console/allocation"), chromedp.WaitVisible(chromedp.CSS(`#allocation-table tr[data-referral="`+first+`"]`)))
	if p := b.text(nia, `tr[data-referral="`+first+`"] .proposal`); p != "Stockport" {
		t.Errorf("the rota proposes %q", p)
	}
	b.check(nia, "allocation")
	b.run(nia, "allocate by the rota", chromedp.Click(chromedp.CSS("#allocate-"+first)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if n := b.text(nia, ".notice"); !strings.Contains(n, "Allocated to Stockport") {
		t.Errorf("after allocating: %q", n)
	}
	b.check(nia, "referral-allocated")
	if ref := load(first); ref.AllocatedTo != "E08000007" || ref.Status != aggregates.StatusAwaitingAcceptance {
		t.Fatalf("after allocating: %s to %q", ref.Status, ref.AllocatedTo)
	}

	// Stockport sees it at risk, and accepts it.
	sam := signIn(b, r, "authority:E08000007")
	r.settle()
	b.run(sam, "at risk, with the allocation", chromedp.Navigate(r.base+"/console/at-risk"), chromedp.WaitVisible(chromedp.CSS(`tr[data-referral="`+first+`"]`)))
	b.run(sam, "the referral", chromedp.Navigate(r.base+"/console/referrals/"+first), chromedp.WaitVisible(chromedp.CSS("#action-accept")))
	b.check(sam, "referral-awaiting-answer")
	b.run(sam, "the acceptance form", chromedp.Click(chromedp.CSS("#action-accept")), chromedp.WaitVisible(chromedp.CSS("#submit")))
	b.check(sam, "form-accept")
	b.run(sam, "accept", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if st := b.text(sam, "#referral-status"); st != "Open" {
		t.Errorf("after accepting: %q", st)
	}
	// The referral continues: the referral form goes out.
	b.run(sam, "send the referral form",
		chromedp.Click(chromedp.CSS("#action-notify")), chromedp.WaitVisible(chromedp.CSS("#notifiedBy")),
		chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if tl := b.text(sam, "#timeline"); !strings.Contains(tl, "Allocation accepted") || !strings.Contains(tl, "Referral form sent") || !strings.Contains(tl, "Referred into the scheme") {
		t.Errorf("timeline: %s", tl)
	}
	b.check(sam, "referral-accepted")

	// The second: the coordinator chooses Stockport (a reason is needed).
	b.run(nia, "the allocation form", chromedp.Navigate(r.base+"/console/referrals/"+second+"/allocate"), chromedp.WaitVisible(chromedp.CSS("#mode-1")))
	b.check(nia, "form-allocate")
	b.run(nia, "choose without a reason",
		chromedp.Click(chromedp.CSS("#mode-1")),
		chromedp.SetValue(chromedp.CSS("#authority"), "E08000007"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	if msg := b.text(nia, "#reason-error"); !strings.Contains(msg, "Enter why you chose this authority") {
		t.Errorf("reason error: %q", msg)
	}
	b.check(nia, "form-allocate-refused")
	b.run(nia, "choose with a reason",
		chromedp.SendKeys(chromedp.CSS("#reason"), "Her brother is placed in Stockport"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))

	// Stockport raises an exception: a reason is needed.
	b.run(sam, "the exception form", chromedp.Navigate(r.base+"/console/referrals/"+second+"/exception"), chromedp.WaitVisible(chromedp.CSS("#reason")))
	b.check(sam, "form-exception")
	b.run(sam, "no reason", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	b.check(sam, "form-exception-refused")
	b.run(sam, "with a reason",
		chromedp.SendKeys(chromedp.CSS("#reason"), "No placement can meet her needs this month"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if ref := load(second); ref.Status != aggregates.StatusAwaitingAllocation || len(ref.Declined) != 1 {
		t.Fatalf("after the exception: %s, declined %v", ref.Status, ref.Declined)
	}

	// The partnership pauses the rota's next authority, and re-allocates.
	b.run(nia, "the rota again", chromedp.Navigate(r.base+"/console/regions/north-west/rota"), chromedp.WaitVisible(chromedp.CSS("#authority")))
	b.run(nia, "pause without a reason",
		chromedp.SetValue(chromedp.CSS("#authority"), rest[0]),
		chromedp.Click(chromedp.CSS("#submit-pause")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	b.check(nia, "rota-pause-refused")
	b.run(nia, "pause",
		chromedp.SendKeys(chromedp.CSS("#reason"), "Placement pressures agreed at the board"),
		chromedp.Click(chromedp.CSS("#submit-pause")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if sk := b.text(nia, "#rota-skipped"); !strings.Contains(sk, "paused until") {
		t.Errorf("passed over: %q", sk)
	}
	b.check(nia, "rota-paused")
	r.settle()
	b.run(nia, "the allocation page again", chromedp.Navigate(r.base+"/console/allocation"), chromedp.WaitVisible(chromedp.CSS(`#allocation-table tr[data-referral="`+second+`"]`)))
	if d := b.text(nia, `tr[data-referral="`+second+`"] .declined`); !strings.Contains(d, "Stockport") {
		t.Errorf("declined: %q", d)
	}
	if sk := b.text(nia, `tr[data-referral="`+second+`"] .skipped`); !strings.Contains(sk, "paused until") {
		t.Errorf("passed over: %q", sk)
	}
	b.check(nia, "allocation-declined")
	b.run(nia, "re-allocate by the rota", chromedp.Click(chromedp.CSS("#allocate-"+second)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if ref := load(second); ref.AllocatedTo != rest[1] {
		t.Errorf("re-allocated to %q, want %q (after the paused %s)", ref.AllocatedTo, rest[1], rest[0])
	}
	r.settle()
	b.run(nia, "awaiting the answer", chromedp.Navigate(r.base+"/console/allocation"), chromedp.WaitVisible(chromedp.CSS(`#answers-table tr[data-referral="`+second+`"]`)))
	if left := b.text(nia, `tr[data-referral="`+second+`"] .respond-left`); !strings.Contains(left, "left") {
		t.Errorf("response clock: %q", left)
	}
	b.check(nia, "allocation-awaiting-answer")

	// The auditor reads the allocation page and the rota, with no forms.
	ada := signIn(b, r, "auditor")
	b.run(ada, "allocation, choose a region", chromedp.Navigate(r.base+"/console/allocation"), chromedp.WaitVisible(chromedp.CSS("#region")))
	b.check(ada, "allocation-choose-region")
	b.run(ada, "the North West", chromedp.Navigate(r.base+"/console/allocation?region=North+West"), chromedp.WaitVisible(chromedp.CSS("#answers-table")))
	if n := value(b, ada, "no forms", chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); n != 0 {
		t.Errorf("the auditor is offered %d forms", n)
	}
	b.check(ada, "allocation-auditor")
	// Stockport may not see the partnership's pages.
	b.run(sam, "allocation", chromedp.Navigate(r.base+"/console/allocation"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := b.text(sam, "h1"); !strings.HasPrefix(h, "You cannot") {
		t.Errorf("Stockport on the allocation page: %q", h)
	}
}
