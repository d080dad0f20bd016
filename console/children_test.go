package console_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// care records a care command as the API would, completed with the
// shipped policy's times.
func (r *rig) care(id string, cmd aggregates.CareCommand) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, _, err := r.eng.Load(ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	facts := app.CareFacts{Authorities: r.reg, Rules: safeguarding.DefaultPolicy().Rules()}
	if _, err := engine.Handle(ctx, r.eng, aggregates.Cares, id, facts.Complete(ref, cmd), engine.Meta{Actor: "test setup"}); err != nil {
		r.t.Fatalf("%s %s: %v", cmd.CommandName(), id, err)
	}
}

// text finds the text of the element with the id in a page.
func byID(page, id string) string {
	m := regexp.MustCompile(`id="` + id + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// The children and safeguarding pages show the API's numbers for the same
// moment: the children in care (missing now, overdue, without a social
// worker, and each child's care status) and the safeguarding figures.
func TestChildrenAndSafeguardingShowTheAPIsNumbers(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	placedAt := time.Now().Add(-72 * time.Hour)
	gone, back, waiting := r.receive("gone", "E08000007", "entry-authority", placedAt.Add(-time.Hour)), r.receive("back", "E08000007", "entry-authority", placedAt.Add(-time.Hour)), r.receive("wait", "E08000003", "entry-authority", time.Now().Add(-time.Hour))
	for _, id := range []string{gone, back} {
		r.do(id, aggregates.Place{PlacementType: "U4", Provider: "IFA", PlacedAt: placedAt})
	}
	r.care(gone, aggregates.ReportMissing{MissingAt: time.Now().Add(-30 * time.Hour), LastSeen: "the park", PoliceReference: "GMP-1"})
	r.care(back, aggregates.ReportMissing{MissingAt: time.Now().Add(-10 * time.Hour), LastSeen: "school", PoliceReference: "GMP-2"})
	r.care(back, aggregates.RecordReturn{ReturnedAt: time.Now().Add(-2 * time.Hour), WhereFound: "a friend's"})
	r.settle()

	var api struct {
		Result struct {
			Total       int `json:"total"`
			MissingNow  int `json:"missingNow"`
			OverdueNow  int `json:"overdueNow"`
			Unallocated int `json:"withoutSocialWorker"`
			Children    []struct {
				ReferralID string `json:"referralId"`
				CareStatus string `json:"careStatus"`
			} `json:"children"`
		} `json:"result"`
	}
	getJSON(t, r.base+"/v1/children", &api)
	_, page := get(t, r.base+"/console/children")
	for id, n := range map[string]int{"children-total": api.Result.Total, "children-missing": api.Result.MissingNow, "children-overdue": api.Result.OverdueNow, "children-unallocated": api.Result.Unallocated} {
		if got := byID(page, id); got != strconv.Itoa(n) {
			t.Errorf("%s: console %q, API %d", id, got, n)
		}
	}
	if api.Result.Total != 3 || api.Result.MissingNow != 1 {
		t.Errorf("API: %+v", api.Result)
	}
	for _, c := range api.Result.Children {
		if !strings.Contains(page, `data-referral="`+c.ReferralID+`" data-status="`+c.CareStatus+`"`) {
			t.Errorf("the page does not show %s as %s", c.ReferralID, c.CareStatus)
		}
	}
	// The missing child is listed first, in red, by reference.
	first := regexp.MustCompile(`<tr class="govuk-table__row" data-referral="([^"]+)"`).FindStringSubmatch(page)
	if first == nil || first[1] != gone || !strings.Contains(page, `govuk-tag--red tag tag-red">Missing now`) || !strings.Contains(page, `>HO-gone</a>`) {
		t.Errorf("the missing child is not first and red: first %v", first)
	}
	code, refused := get(t, r.base+"/console/children?child="+url.QueryEscape("HO\tba"))
	if code != 400 || !strings.Contains(refused, `href="#child"`) || !strings.Contains(refused, "no control characters") {
		t.Errorf("a search with a tab: %d, the error summary does not link the field", code)
	}
	_, searched := get(t, r.base+"/console/children?child=ho-ba")
	if byID(searched, "children-total") != "1" || !strings.Contains(searched, back) {
		t.Errorf("search by reference: %s", byID(searched, "children-total"))
	}

	var sg struct {
		Result struct {
			Total struct {
				Episodes         int `json:"episodes"`
				MissingNow       int `json:"missingNow"`
				MissingOverAlert int `json:"missingOverAlert"`
				StrategyOverdue  int `json:"strategyDiscussionsOverdue"`
				InTime           int `json:"returnInterviewsInTime"`
				Late             int `json:"returnInterviewsLate"`
			} `json:"total"`
		} `json:"result"`
	}
	getJSON(t, r.base+"/v1/safeguarding", &sg)
	_, page = get(t, r.base+"/console/safeguarding")
	tot := sg.Result.Total
	for id, n := range map[string]int{"figure-missing": tot.MissingNow, "figure-over-alert": tot.MissingOverAlert, "figure-episodes": tot.Episodes, "figure-strategy-overdue": tot.StrategyOverdue, "figure-late": tot.Late} {
		if got := byID(page, id); got != strconv.Itoa(n) {
			t.Errorf("%s: console %q, API %d", id, got, n)
		}
	}
	if tot.Episodes != 2 || tot.MissingNow != 1 {
		t.Errorf("API safeguarding: %+v", tot)
	}
	if !strings.Contains(page, `href="/console/children/HO-gone?referral=`+url.QueryEscape(gone)+`"`) || !strings.Contains(page, "HO-back") {
		t.Errorf("the safeguarding page does not link the children by reference")
	}
	_ = waiting
}

// A reference used for two children is asked about, never guessed; a
// reference nobody has is a page that says so.
func TestJourneyOfAnAmbiguousReference(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	var ids []string
	for _, key := range []string{"dup-1", "dup-2"} {
		c := aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: "entry-authority", TransferringAuthority: "E09000008", ChildReference: "HO-TWICE", ReceivedAt: time.Now().Add(-time.Hour)}
		c.ReferralID = engine.NewReferralID("E08000007", key)
		ids = append(ids, r.do(c.ReferralID, c).AggregateID)
	}
	r.settle()
	code, page := get(t, r.base+"/console/children/HO-TWICE")
	if code != 200 || !strings.Contains(page, "More than one child has the reference HO-TWICE") {
		t.Fatalf("%d: %s", code, page)
	}
	for _, id := range ids {
		if !strings.Contains(page, `data-referral="`+id+`"`) {
			t.Errorf("the choice lacks %s", id)
		}
	}
	code, page = get(t, r.base+"/console/children/HO-TWICE?referral="+ids[1])
	if code != 200 || !strings.Contains(page, `id="journey-summary"`) || !strings.Contains(page, ids[1]) {
		t.Errorf("the chosen child's journey: %d", code)
	}
	if code, page = get(t, r.base+"/console/children/HO-NOBODY"); code != 404 || !strings.Contains(page, "There is no child with this reference") {
		t.Errorf("an unknown reference: %d", code)
	}
	// A referral of another child under this reference is no page.
	other := r.receive("other", "E08000007", "hotel", time.Now())
	if code, _ = get(t, r.base+"/console/children/HO-TWICE?referral="+other); code != 404 {
		t.Errorf("another child's referral under this reference: %d", code)
	}
}
