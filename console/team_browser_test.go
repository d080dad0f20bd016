package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ntsflow/ntsflow/calendar"
)

// Selectors that hold before and after the console moves to GOV.UK
// Frontend's components.
const (
	noticeSel       = ".notice, .govuk-notification-banner"
	errorSummarySel = ".error-summary, .govuk-error-summary"
)

// apiJSON reads an API route with a role's token, as a client would.
func apiJSON(t *testing.T, r *rig, role, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.tokens[role])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as %s: %d", path, role, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// cells reads a table's rows in the page: each row's key attribute and
// its data-field cells' text.
func cells(b *browser, ctx context.Context, table, key string) map[string]map[string]string {
	b.t.Helper()
	js := `JSON.stringify(Array.from(document.querySelectorAll("` + table + ` tbody tr")).map(tr => [tr.getAttribute("` + key + `"),
  Object.fromEntries(Array.from(tr.querySelectorAll("[data-field]")).map(td => [td.dataset.field, td.textContent.trim()]))]))`
	var rows [][2]json.RawMessage
	if err := json.Unmarshal([]byte(value(b, ctx, "read "+table, chromedp.Evaluate[string](js))), &rows); err != nil {
		b.t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, row := range rows {
		var k string
		var m map[string]string
		json.Unmarshal(row[0], &k)
		json.Unmarshal(row[1], &m)
		out[k] = m
	}
	return out
}

// A team leader runs the team in the console: adds social workers (every
// empty answer shown at once), allocates one child by the rota and one by
// choice with a reason, records an absence, and records a leaver whose
// child the rota reallocates. The page says who is next and why others
// are passed over, with the API's numbers. Then the authority sets its
// pledge (by keyboard alone) and its contact, and the partnership sets and
// ends a pause and reads the national view. Every page is checked with
// axe-core.
func TestTeamSettingsAndRegionInTheBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	r := newRig(t, true)
	defer func() {
		t.Logf("team browser suite: %d pages checked with axe-core %s, %v", len(b.pages), b.axeVersion, time.Since(start).Round(time.Millisecond))
	}()
	const sp = "authority:E08000007"
	sam := signIn(b, r, sp)
	b.run(sam, "the team, from the navigation",
		chromedp.Click(chromedp.CSS(`a[href="/console/team"]`)),
		chromedp.WaitVisible(chromedp.CSS("#no-workers")))
	if loc := value(b, sam, "where", chromedp.Location()); !strings.HasSuffix(loc, "/console/authorities/E08000007/team") {
		t.Errorf("the team page of Stockport's team leader is %s", loc)
	}
	b.check(sam, "team-empty")

	// Adding a worker with nothing filled in: every error at once.
	b.run(sam, "add a worker with nothing filled in",
		chromedp.Click(chromedp.CSS("#add-worker")),
		chromedp.WaitVisible(chromedp.CSS("#staffId")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(errorSummarySel)))
	summary := b.text(sam, errorSummarySel)
	for _, want := range []string{"Enter the worker's staff ID", "Enter the worker's name", "Enter the caseload cap"} {
		if !strings.Contains(summary, want) {
			t.Errorf("error summary %q lacks %q", summary, want)
		}
	}
	for _, id := range []string{"#staffId-error", "#name-error", "#caseloadCap-error"} {
		b.run(sam, "the error beside "+id, chromedp.WaitVisible(chromedp.CSS(id)))
	}
	b.check(sam, "team-worker-errors")
	addWorker := func(id, name, cap, other string) {
		t.Helper()
		b.run(sam, "add "+name,
			chromedp.Navigate(r.base+"/console/authorities/E08000007/team/workers/new"),
			chromedp.WaitVisible(chromedp.CSS("#staffId")),
			chromedp.SendKeys(chromedp.CSS("#staffId"), id),
			chromedp.SendKeys(chromedp.CSS("#name"), name),
			chromedp.SendKeys(chromedp.CSS("#caseloadCap"), cap),
			chromedp.SendKeys(chromedp.CSS("#otherCases"), other),
			chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	}
	addWorker("sw-amina", "Amina Yusuf", "3", "1")
	addWorker("sw-ben", "Ben Okafor", "10", "")
	addWorker("sw-cat", "Cat Jones", "1", "")

	kids := []string{
		r.receive("team-1", "E08000007", "entry-authority", time.Now().Add(-3*time.Minute)),
		r.receive("team-2", "E08000007", "entry-authority", time.Now().Add(-2*time.Minute)),
		r.receive("team-3", "E08000007", "entry-authority", time.Now().Add(-time.Minute)),
	}
	r.settle()
	b.run(sam, "the team with children waiting", chromedp.Navigate(r.base+"/console/authorities/E08000007/team"), chromedp.WaitVisible(chromedp.CSS("#children-table")))
	if n := value(b, sam, "children waiting", chromedp.Evaluate[int](`document.querySelectorAll("#children-table tbody tr").length`)); n != 3 {
		t.Errorf("%d children waiting; want 3", n)
	}
	if p := b.text(sam, "#team-proposal"); p != "Amina Yusuf" {
		t.Errorf("the next child would go to %q", p)
	}
	b.check(sam, "team-children-waiting")

	// The first child by the rota.
	b.run(sam, "allocate the first child",
		chromedp.Click(chromedp.CSS("#allocate-"+kids[0])),
		chromedp.WaitVisible(chromedp.CSS("#mode-0")))
	if intro := b.text(sam, "#form-intro"); !strings.Contains(intro, "Amina Yusuf") {
		t.Errorf("allocation form: %q", intro)
	}
	b.check(sam, "team-allocate")
	b.run(sam, "by the rota", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	if n := b.text(sam, noticeSel); !strings.Contains(n, "HO-team-1 is now with Amina Yusuf") {
		t.Errorf("after allocating by the rota: %q", n)
	}

	// The second by choice: without a worker or a reason, both errors at
	// once; then Cat, for a reason.
	b.run(sam, "allocate the second child by choice, with nothing chosen",
		chromedp.Navigate(r.base+"/console/team/children/"+kids[1]),
		chromedp.WaitVisible(chromedp.CSS("#mode-1")),
		chromedp.Click(chromedp.CSS("#mode-1")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#staffId-error")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	b.check(sam, "team-allocate-errors")
	b.run(sam, "choose Cat, for a reason",
		chromedp.SetValue(chromedp.CSS("#staffId"), "sw-cat"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Speaks Pashto, the child's language"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	if n := b.text(sam, noticeSel); !strings.Contains(n, "HO-team-2 is now with Cat Jones") {
		t.Errorf("after choosing: %q", n)
	}

	// Ben is away: the absence form shows both its errors at once first.
	b.run(sam, "record Ben's absence with nothing filled in",
		chromedp.Click(chromedp.CSS("#away-sw-ben")),
		chromedp.WaitVisible(chromedp.CSS("#until-day")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#until-error")),
		chromedp.WaitVisible(chromedp.CSS("#reason-error")))
	b.check(sam, "team-away-errors")
	back := time.Now().In(calendar.London).AddDate(0, 0, 7)
	b.run(sam, "record Ben's absence",
		chromedp.SendKeys(chromedp.CSS("#until-day"), strconv.Itoa(back.Day())),
		chromedp.SendKeys(chromedp.CSS("#until-month"), strconv.Itoa(int(back.Month()))),
		chromedp.SendKeys(chromedp.CSS("#until-year"), strconv.Itoa(back.Year())),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Annual leave"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))

	// Ben's other children change: his caseload follows.
	b.run(sam, "change Ben's details",
		chromedp.Click(chromedp.CSS("#details-sw-ben")),
		chromedp.WaitVisible(chromedp.CSS("#otherCases")),
		chromedp.SetValue(chromedp.CSS("#otherCases"), "2"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	if c := b.text(sam, `#workers-table tr[data-staff="sw-ben"] [data-field="caseload"]`); c != "2" {
		t.Errorf("Ben's caseload after his details changed: %q", c)
	}

	// Now the rota starts at Ben (away), passes Cat (at her cap of 1) and
	// proposes Amina; the page and the API agree.
	if p := b.text(sam, "#team-proposal"); p != "Amina Yusuf" {
		t.Errorf("after Ben's absence the next child goes to %q", p)
	}
	skipped := b.text(sam, "#team-skipped")
	if !strings.Contains(skipped, "Ben Okafor: away until "+back.Format("2 January 2006")+" (Annual leave)") || !strings.Contains(skipped, "Cat Jones: at their caseload cap (1 of 1 child)") {
		t.Errorf("passed over: %q", skipped)
	}
	b.check(sam, "team")
	var team struct {
		Next     string `json:"next"`
		Proposal struct {
			StaffID string `json:"staffId"`
			Skipped []struct{ StaffID, Reason string }
		} `json:"proposal"`
		Workers []struct {
			StaffID                                     string
			Unaccompanied                               int `json:"unaccompaniedChildren"`
			OtherCases, Caseload, CaseloadCap, Position int
			PassedOver                                  string
		} `json:"workers"`
		ToAllocate []struct{ ReferralID string } `json:"childrenToAllocate"`
	}
	apiJSON(t, r, sp, "/v1/authorities/E08000007/team", &team)
	page := cells(b, sam, "#workers-table", "data-staff")
	for _, w := range team.Workers {
		got := page[w.StaffID]
		want := map[string]string{"position": strconv.Itoa(w.Position), "unaccompaniedChildren": strconv.Itoa(w.Unaccompanied),
			"otherCases": strconv.Itoa(w.OtherCases), "caseload": strconv.Itoa(w.Caseload), "caseloadCap": strconv.Itoa(w.CaseloadCap)}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s %s: page %q, API %q", w.StaffID, k, got[k], v)
			}
		}
	}
	if team.Proposal.StaffID != "sw-amina" || len(team.Proposal.Skipped) != 2 || len(team.ToAllocate) != 1 || team.ToAllocate[0].ReferralID != kids[2] {
		t.Errorf("the API's team: %+v", team)
	}
	if n := value(b, sam, "children waiting", chromedp.Evaluate[int](`document.querySelectorAll("#children-table tbody tr").length`)); n != len(team.ToAllocate) {
		t.Errorf("%d children waiting on the page, %d in the API", n, len(team.ToAllocate))
	}

	// Cat leaves; her child goes to the rota's next, Amina.
	b.run(sam, "record Cat's leaving",
		chromedp.Click(chromedp.CSS("#leaving-sw-cat")),
		chromedp.WaitVisible(chromedp.CSS("#leaver-children")))
	if c := b.text(sam, "#leaver-children"); !strings.Contains(c, "HO-team-2") {
		t.Errorf("the leaver's children: %q", c)
	}
	b.check(sam, "team-leaving")
	b.run(sam, "reallocate by the rota", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#reallocation")))
	if re := b.text(sam, "#reallocation"); !strings.Contains(re, "HO-team-2 is now with Amina Yusuf") {
		t.Errorf("reallocation: %q", re)
	}
	if st := b.text(sam, `#workers-table tr[data-staff="sw-cat"] [data-field="status"]`); !strings.Contains(st, "Left the team") {
		t.Errorf("Cat's row: %q", st)
	}
	b.check(sam, "team-after-leaving")

	// An auditor reads Stockport's team, chosen from a list: no forms, and
	// no child's reference (auditors read those in the history).
	ada := signIn(b, r, "auditor")
	b.run(ada, "the team, from the navigation",
		chromedp.Click(chromedp.CSS(`a[href="/console/team"]`)),
		chromedp.WaitVisible(chromedp.CSS("#authority")))
	b.check(ada, "team-choose")
	b.run(ada, "Stockport's team",
		chromedp.SetValue(chromedp.CSS("#authority"), "E08000007"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#workers-table")))
	b.check(ada, "team-auditor")
	if n := value(b, ada, "no forms for auditors", chromedp.Evaluate[int](`document.querySelectorAll("main form, #add-worker, [id^=allocate-]").length`)); n != 0 {
		t.Errorf("the auditor is offered %d changes", n)
	}
	if txt := b.text(ada, "main"); strings.Contains(txt, "HO-team-") {
		t.Errorf("the auditor sees a child's reference on the team page")
	}

	// The authority's settings: the pledge by keyboard alone.
	b.run(sam, "settings, from the navigation",
		chromedp.Click(chromedp.CSS(`a[href="/console/authority"]`)),
		chromedp.WaitVisible(chromedp.CSS("#pledge")))
	b.check(sam, "settings")
	b.run(sam, "the pledge, by keyboard",
		chromedp.Focus(chromedp.CSS("#pledge")),
		chromedp.KeyEvent("4"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	if p := b.text(sam, "#settings-pledge"); p != "4 children" {
		t.Errorf("pledge: %q", p)
	}
	b.run(sam, "a contact with nothing filled in",
		chromedp.Click(chromedp.CSS("#submit-contact")),
		chromedp.WaitVisible(chromedp.CSS("#name-error")),
		chromedp.WaitVisible(chromedp.CSS("#mailbox-error")))
	b.check(sam, "settings-errors")
	b.run(sam, "a mailbox that is not one",
		chromedp.SendKeys(chromedp.CSS("#name"), "Placements team"),
		chromedp.SendKeys(chromedp.CSS("#mailbox"), "placements at stockport"),
		chromedp.Click(chromedp.CSS("#submit-contact")),
		chromedp.WaitNotPresent(chromedp.CSS("#name-error")),
		chromedp.WaitVisible(chromedp.CSS("#mailbox-error")))
	if e := b.text(sam, "#mailbox-error"); !strings.Contains(e, "role mailbox") {
		t.Errorf("mailbox error: %q", e)
	}
	b.run(sam, "the contact",
		chromedp.SetValue(chromedp.CSS("#mailbox"), "nts@stockport.gov.uk"),
		chromedp.Click(chromedp.CSS("#submit-contact")),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	var settings struct {
		Pledge  *int `json:"pledge"`
		Contact *struct{ Name, Mailbox string }
	}
	apiJSON(t, r, sp, "/v1/authorities/E08000007", &settings)
	contact := b.text(sam, "#settings-contact")
	if settings.Pledge == nil || *settings.Pledge != 4 || settings.Contact == nil || settings.Contact.Mailbox != "nts@stockport.gov.uk" || settings.Contact.Name != "Placements team" ||
		!strings.Contains(contact, "Placements team") || !strings.Contains(contact, "nts@stockport.gov.uk") {
		t.Errorf("settings: API %+v, page %q", settings, contact)
	}

	// The partnership pauses an authority and ends the pause early.
	const nw = "region:North West"
	nia := signIn(b, r, nw)
	first := r.reg.InRegion("North West")[0]
	b.run(nia, "the rota", chromedp.Navigate(r.base+"/console/regions/north-west/rota"), chromedp.WaitVisible(chromedp.CSS("#authority")))
	b.run(nia, "pause an authority",
		chromedp.SetValue(chromedp.CSS("#authority"), first),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Placement pressures"),
		chromedp.Click(chromedp.CSS("#submit-pause")),
		chromedp.WaitVisible(chromedp.CSS("#endAuthority")))
	if n := b.text(nia, noticeSel); !strings.Contains(n, "Pause: recorded") {
		t.Errorf("after pausing: %q", n)
	}
	b.check(nia, "rota-paused")
	b.run(nia, "end the pause early",
		chromedp.SetValue(chromedp.CSS("#endAuthority"), first),
		chromedp.SendKeys(chromedp.CSS("#endReason"), "Placements found"),
		chromedp.Click(chromedp.CSS("#submit-end-pause")),
		chromedp.WaitNotPresent(chromedp.CSS("#endAuthority")),
		chromedp.WaitVisible(chromedp.CSS(noticeSel)))
	if n := b.text(nia, noticeSel); !strings.Contains(n, "Pause ended") {
		t.Errorf("after ending the pause: %q", n)
	}
	b.check(nia, "rota-pause-ended")

	// The partnership reads Stockport's settings, and the national view,
	// whose numbers are the API's.
	b.run(nia, "Stockport's settings", chromedp.Navigate(r.base+"/console/authority?authority=E08000007"), chromedp.WaitVisible(chromedp.CSS("#settings-pledge")))
	if n := value(b, nia, "no forms for the partnership", chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); n != 0 {
		t.Errorf("the partnership is offered %d forms on Stockport's settings", n)
	}
	b.check(nia, "settings-region")
	r.settle()
	b.run(nia, "the national view", chromedp.Click(chromedp.CSS(`a[href="/console/national"]`)), chromedp.WaitVisible(chromedp.CSS("#national-table")))
	b.check(nia, "national")
	var answer struct {
		Result struct {
			Regions []struct {
				Region                       string
				ChildPopulation, LookedAfter int
				ReceivedInYear               int `json:"receivedInYear"`
				Pledged                      int
			} `json:"regions"`
		} `json:"result"`
	}
	apiJSON(t, r, nw, "/v1/capacity/national", &answer)
	national := answer.Result
	rows := cells(b, nia, "#national-table", "data-region")
	if len(rows) != len(national.Regions) || len(rows) == 0 {
		t.Fatalf("%d regions on the page, %d in the API", len(rows), len(national.Regions))
	}
	for _, e := range national.Regions {
		got := rows[e.Region]
		for k, v := range map[string]int{"childPopulation": e.ChildPopulation, "lookedAfter": e.LookedAfter, "receivedInYear": e.ReceivedInYear, "pledged": e.Pledged} {
			if strings.ReplaceAll(got[k], ",", "") != strconv.Itoa(v) {
				t.Errorf("%s %s: page %q, API %d", e.Region, k, got[k], v)
			}
		}
	}
	if got := rows["North West"]; got["receivedInYear"] != "3" || got["pledged"] != "4" {
		t.Errorf("the North West in the national view: %v", got)
	}
}
