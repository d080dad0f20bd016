package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The browser tests drive Debian's chromium with chromedp against the rig
// (a serve-equivalent on embedded JetStream), run axe-core in every page
// they visit (WCAG 2.2 AA rules: no violation allowed), and write a
// screenshot of each under console/testout/ (not committed).
//
// chromium: $NTSFLOW_CHROMIUM, or chromium on the PATH (.ci/run installs
// it). axe-core: $NTSFLOW_AXE, or .tools/node_modules/axe-core/axe.min.js
// (.ci/run installs the pinned version). Without either the suite skips,
// loudly, so that the README's test command passes on a machine with only
// what the README asks for; with NTSFLOW_REQUIRE_BROWSER=1 (.ci/run) it
// fails instead.

// browserTools are what the suite needs beyond Go.
type browserTools struct {
	chromium string
	axe      string // axe-core's source, run in every page
}

// findBrowserTools looks for chromium and axe-core through the given
// lookups (the process's own in the suite); missing says, in words for
// whoever runs the tests, what is absent and how to get it.
func findBrowserTools(getenv func(string) string, lookPath func(string) (string, error), readFile func(string) ([]byte, error)) (tools browserTools, missing string) {
	tools.chromium = getenv("NTSFLOW_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if tools.chromium != "" {
			break
		}
		if p, err := lookPath(name); err == nil {
			tools.chromium = p
		}
	}
	if tools.chromium == "" {
		return tools, "chromium is not installed (apt-get install chromium, or set NTSFLOW_CHROMIUM)"
	}
	p := getenv("NTSFLOW_AXE")
	if p == "" {
		p = filepath.Join("..", ".tools", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := readFile(p)
	if err != nil {
		return tools, fmt.Sprintf("axe-core is not installed (%v): `npm install --prefix .tools axe-core@4.14.1` from the repository's root, as .ci/run does, or set NTSFLOW_AXE", err)
	}
	tools.axe = string(b)
	return tools, ""
}

// needBrowserTools skips the test without the tools, or fails it where
// they are required.
func needBrowserTools(t *testing.T) browserTools {
	tools, missing := findBrowserTools(os.Getenv, exec.LookPath, os.ReadFile)
	if missing == "" {
		return tools
	}
	msg := "\n*** BROWSER TESTS SKIPPED: " + missing + ". The console's pages were NOT checked in a browser. ***\n"
	if os.Getenv("NTSFLOW_REQUIRE_BROWSER") != "" {
		t.Fatal(msg)
	}
	fmt.Fprint(os.Stderr, msg)
	t.Skip(msg)
	return tools
}

// browser is one chromium for the whole suite.
type browser struct {
	t     *testing.T
	ctx   context.Context // the browser's first tab
	axe   string
	out   string
	pages map[string]bool
	// axeVersion is the axe-core version that ran.
	axeVersion string
}

func startBrowser(t *testing.T) *browser {
	tools := needBrowserTools(t)
	path, axe := tools.chromium, tools.axe
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	out := "testout"
	os.MkdirAll(out, 0o755)
	return &browser{t: t, ctx: bctx, axe: axe, out: out, pages: map[string]bool{}}
}

// person is a browser profile of its own (cookies and all): one person
// signed in with one role.
func (b *browser) person() context.Context {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // the first run, without a time limit, makes the tab
		b.t.Fatal(err)
	}
	return ctx
}

// tab opens another tab in the same profile as ctx.
func (b *browser) tab(ctx context.Context) context.Context {
	tctx, cancel := chromedp.NewContext(ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(tctx); err != nil {
		b.t.Fatal(err)
	}
	return tctx
}

// run runs actions with a time limit, failing the test on error.
func (b *browser) run(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	value(b, ctx, what, chromedp.Steps(actions...))
}

// value runs one action that returns a value, with a time limit, failing
// the test on error.
func value[T any](b *browser, ctx context.Context, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		body, _ := chromedp.Run(lctx, chromedp.Text(chromedp.CSS("main")))
		lcancel()
		b.t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
	}
	return v
}

type violation struct {
	ID    string   `json:"id"`
	Help  string   `json:"help"`
	Nodes []string `json:"nodes"`
}

// check runs axe-core in the page (WCAG 2.0, 2.1 and 2.2, A and AA) and
// fails on any violation, then writes a screenshot named name.
func (b *browser) check(ctx context.Context, name string) {
	b.t.Helper()
	// axe and the 320 px check measure the page as styled: wait until the
	// page has loaded with its style sheets, not just its markup.
	value(b, ctx, "the page of "+name+" loaded", chromedp.Poll[bool](`document.readyState === "complete" && [...document.styleSheets].every(s => { try { return s.cssRules.length > 0 } catch (e) { return false } })`, chromedp.WithPollingTimeout(10*time.Second)))
	script := b.axe + `;
axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
  .then(r => JSON.stringify({version: r.testEngine.version, passes: r.passes.length,
    violations: r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)}))}))`
	out := value(b, ctx, "axe on "+name, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	var res struct {
		Version    string      `json:"version"`
		Passes     int         `json:"passes"`
		Violations []violation `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Passes == 0 {
		b.t.Fatalf("axe on %s did not run (%v): %s", name, err, out)
	}
	b.axeVersion = res.Version
	for _, v := range res.Violations {
		b.t.Errorf("axe on %s: %s (%s)\n  %s", name, v.ID, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	b.narrow(ctx, name)
	png := value(b, ctx, "screenshot of "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.out, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.pages[name] = true
}

// narrow fails when the page scrolls sideways at 320 CSS pixels wide (WCAG
// 1.4.10, reflow), naming what sticks out so the fix can start there.
func (b *browser) narrow(ctx context.Context, name string) {
	b.t.Helper()
	type width struct {
		Scroll, Client int
		Wide           []string
	}
	b.run(ctx, "320 px wide for "+name, chromedp.EmulateViewport(320, 800))
	w := value(b, ctx, "scroll width of "+name, chromedp.Evaluate[width](`(() => {
  const d = document.documentElement, wide = [];
  for (const e of document.body.querySelectorAll("*")) {
    const r = e.getBoundingClientRect();
    if (r.right > d.clientWidth + 1 && !(e.parentElement && e.parentElement.closest("[data-scroll-region]"))) {
      wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + e.className.split(" ").join(".") : "") + " " + Math.round(r.right) + "px");
    }
  }
  return {scroll: d.scrollWidth, client: d.clientWidth, wide: wide.slice(0, 8)};
})()`))
	b.run(ctx, "back to full width for "+name, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
	if w.Scroll > w.Client {
		b.t.Errorf("%s scrolls sideways at 320 px: %d px of content in %d px; wider than the window: %s", name, w.Scroll, w.Client, strings.Join(w.Wide, ", "))
	}
}

// text reads the visible text of the first element sel matches, through
// the page's own DOM, waiting (with a bound) until there is one: a node
// query made while a page that replaced another settles can name a node
// of the document it replaced ("No node with given id found", seen in CI
// under -race), and a script run as it navigates finds its context gone.
func (b *browser) text(ctx context.Context, sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	type found struct {
		Found bool
		Text  string
	}
	var got found
	var lastErr error
	if !storetest.WaitFor(20*time.Second, func() bool {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		got, lastErr = chromedp.Run(tctx, chromedp.Evaluate[found](`(() => { const e = document.querySelector(`+string(q)+`); return e ? {found: true, text: e.innerText} : {found: false, text: ""}; })()`))
		return lastErr == nil && got.Found
	}) {
		b.t.Fatalf("read %s: not on the page (last error: %v)", sel, lastErr)
	}
	return got.Text
}

func signIn(b *browser, r *rig, role string) context.Context {
	ctx := b.person()
	b.run(ctx, "sign in as "+role,
		chromedp.Navigate(r.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), r.tokens[role]),
		chromedp.Click(chromedp.CSS("button[type=submit].govuk-button")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.WaitVisible(chromedp.CSS(".signed-in")),
	)
	return ctx
}

func TestConsoleInTheBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	r := newRig(t, true)
	defer func() {
		t.Logf("browser suite: %d pages checked with axe-core %s (WCAG 2.2 AA rules), %v", len(b.pages), b.axeVersion, time.Since(start).Round(time.Millisecond))
	}()

	// Sign-in: a wrong token is refused beside the field; each role signs in.
	anon := b.person()
	b.run(anon, "open the console", chromedp.Navigate(r.base+"/console/capacity"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.check(anon, "sign-in")
	b.run(anon, "a wrong token",
		chromedp.SendKeys(chromedp.CSS("#token"), "ntsf_not-a-token"),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#token-error")))
	if msg := b.text(anon, "#token-error"); !strings.Contains(msg, "not known") {
		t.Errorf("wrong token: %q", msg)
	}
	b.check(anon, "sign-in-error")

	people := map[string]context.Context{}
	for _, ro := range roles {
		ctx := signIn(b, r, ro.role)
		people[ro.role] = ctx
		if who := b.text(ctx, ".signed-in"); !strings.Contains(who, ro.name) {
			t.Errorf("%s: header says %q", ro.role, who)
		}
	}
	if h := b.text(people["operator"], "h1"); h != "Operations" {
		t.Errorf("operator lands on %q, want the operations page", h)
	}
	b.check(people["operator"], "operator")
	if h := b.text(people["auditor"], "h1"); h != "Referrals at risk now" {
		t.Errorf("auditor lands on %q", h)
	}

	// An authority's team leader walks a referral from received to placed,
	// through the forms only.
	sam := people["authority:E08000007"]
	b.run(sam, "open the new referral form", chromedp.Navigate(r.base+"/console/referrals/new"), chromedp.WaitVisible(chromedp.CSS("#childReference")))
	b.check(sam, "referral-new")
	b.run(sam, "receive a referral",
		chromedp.Click(chromedp.CSS("#route-1")), // entry authority
		chromedp.SetValue(chromedp.CSS("#transferringAuthority"), "E09000008"),
		chromedp.SendKeys(chromedp.CSS("#childReference"), "HO-2026-0042"),
		chromedp.SendKeys(chromedp.CSS("#claimedAge"), "15"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#timeline")))
	loc := value(b, sam, "where", chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1 : strings.Index(loc, "?")]
	if n := b.text(sam, ".notice"); !strings.Contains(n, "Referral received") {
		t.Errorf("after receiving: notice %q", n)
	}
	// The deadline saga sets the deadline; the page shows it on reload.
	waitFor(t, "the deadline set", 10*time.Second, func() bool {
		ref, _, err := r.eng.Load(context.Background(), id)
		return err == nil && !ref.DueAt.IsZero()
	})
	b.run(sam, "reload", chromedp.Navigate(r.base+"/console/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if d := b.text(sam, "#deadline"); !strings.Contains(d, "2026") && !strings.Contains(d, "20") {
		t.Errorf("deadline %q", d)
	}
	if tl := b.text(sam, "#timeline"); !strings.Contains(tl, "Deadline set") || !strings.Contains(tl, "Referral received") || !strings.Contains(tl, "by Sam Stockport") {
		t.Errorf("timeline: %s", tl)
	}
	b.check(sam, "referral-received")

	b.run(sam, "send the referral form",
		chromedp.Click(chromedp.CSS("#action-notify")),
		chromedp.WaitVisible(chromedp.CSS("#notifiedBy")))
	b.check(sam, "form-notify")
	b.run(sam, "send it", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS(".notice")))

	for _, s := range []struct{ track, offers, types string }{{"#track-1", "0", ""}, {"#track-0", "2", "U4 H5"}} {
		b.run(sam, "open the search form", chromedp.Click(chromedp.CSS("#action-search")), chromedp.WaitVisible(chromedp.CSS("#offersFound")))
		if s.offers == "0" {
			b.check(sam, "form-search")
		}
		acts := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(s.track)), chromedp.SendKeys(chromedp.CSS("#offersFound"), s.offers)}
		if s.types != "" {
			acts = append(acts, chromedp.SendKeys(chromedp.CSS("#placementTypes"), s.types))
		}
		acts = append(acts, chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS(".notice")))
		b.run(sam, "record a search", acts...)
	}
	if tl := b.text(sam, "#timeline"); !strings.Contains(tl, "Commissioned search: 2 offers found (U4, H5)") || !strings.Contains(tl, "In-house search: 0 offers found") {
		t.Errorf("timeline after searches: %s", tl)
	}

	// A refused placement: no provider. The decider's message stands beside
	// the provider field.
	b.run(sam, "open the placement form", chromedp.Click(chromedp.CSS("#action-place")), chromedp.WaitVisible(chromedp.CSS("#provider")))
	b.check(sam, "form-place")
	b.run(sam, "place without a provider",
		chromedp.SetValue(chromedp.CSS("#placementType"), "U4"),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#provider-error")))
	if msg := b.text(sam, "#provider-error"); !strings.Contains(msg, "Name the placement provider") {
		t.Errorf("provider error: %q", msg)
	}
	if s := b.text(sam, ".govuk-error-summary"); !strings.Contains(s, "Name the placement provider") {
		t.Errorf("error summary: %q", s)
	}
	b.check(sam, "form-place-refused")
	// Then by keyboard alone: type the provider and press Enter.
	b.run(sam, "place, by keyboard",
		chromedp.Focus(chromedp.CSS("#provider")),
		chromedp.KeyEvent("Independent fostering agency"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if st := b.text(sam, "#referral-status"); st != "Placed" {
		t.Errorf("after placing: status %q", st)
	}
	if tag := b.text(sam, "p .govuk-tag"); tag != "Placed in time" {
		t.Errorf("after placing: tag %q", tag)
	}
	b.check(sam, "referral-placed")

	// Two tabs: the second is stale after the first records something.
	other := r.receive("stale-1", "E08000007", "entry-authority", time.Now().Add(-time.Minute))
	tab2 := b.tab(sam)
	b.run(sam, "open withdraw in tab 1", chromedp.Navigate(r.base+"/console/referrals/"+other+"/withdraw"), chromedp.WaitVisible(chromedp.CSS("#reason-0")))
	b.check(sam, "form-withdraw")
	b.run(tab2, "notify in tab 2",
		chromedp.Navigate(r.base+"/console/referrals/"+other+"/notify"),
		chromedp.WaitVisible(chromedp.CSS("#notifiedBy")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.run(sam, "withdraw in tab 1, now stale",
		chromedp.Click(chromedp.CSS("#reason-1")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#stale-message")))
	if msg := b.text(sam, "#stale-message"); !strings.Contains(msg, "changed since you opened this form") || !strings.Contains(msg, "Nothing was recorded") {
		t.Errorf("stale message: %q", msg)
	}
	b.check(sam, "form-withdraw-stale")
	if ref, _, _ := r.eng.Load(context.Background(), other); ref.Status != aggregates.StatusOpen {
		t.Errorf("a stale withdrawal was recorded: %s", ref.Status)
	}

	// The region's at-risk list updates by itself when a deadline passes
	// (hotel route: 6 seconds in the test policy).
	nia := people["region:North West"]
	b.run(nia, "open the at-risk list", chromedp.Navigate(r.base+"/console/at-risk"), chromedp.WaitVisible(chromedp.CSS("#at-risk-results")),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](`window.notReloaded = true`)(ctx, t)
			return chromedp.Void{}, err
		})
	hot := r.receive("hot-1", "E08000003", "hotel", time.Now())
	b.run(nia, "the new referral appears", chromedp.WaitVisible(chromedp.CSS(`tr[data-referral="`+hot+`"]`)))
	first := value(b, nia, "its state", chromedp.AttributeValue(chromedp.CSS(`tr[data-referral="`+hot+`"]`), "data-state")).Value
	b.check(nia, "at-risk")
	b.run(nia, "the deadline passes", chromedp.WaitVisible(chromedp.CSS(`tr[data-referral="`+hot+`"][data-state="breached"]`)))
	same := value(b, nia, "no reload", chromedp.Evaluate[bool](`window.notReloaded === true`))
	if !same || first == "breached" {
		t.Errorf("the list did not update in place (first state %q, same page %v)", first, same)
	}
	if left := b.text(nia, `tr[data-referral="`+hot+`"] .time-left`); left != "overdue" {
		t.Errorf("time left after the deadline: %q", left)
	}
	b.check(nia, "at-risk-breached")
	b.run(nia, "capacity for the region", chromedp.Navigate(r.base+"/console/capacity"), chromedp.WaitVisible(chromedp.CSS("#capacity-table")))
	b.check(nia, "capacity-region")
	b.run(nia, "timeliness for the region", chromedp.Navigate(r.base+"/console/timeliness"), chromedp.WaitVisible(chromedp.CSS("#months-table")))
	b.check(nia, "timeliness-region")
	b.run(sam, "capacity for the authority", chromedp.Navigate(r.base+"/console/capacity"), chromedp.WaitVisible(chromedp.CSS("#capacity-table")))
	b.check(sam, "capacity-authority")
	// Another region's referral is no referral to this region.
	b.run(nia, "a referral of London", chromedp.Navigate(r.base+"/console/referrals/"+r.receive("ldn", "E09000008", "hotel", time.Now())), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := b.text(nia, "h1"); h != "There is no referral with this reference" {
		t.Errorf("another region's referral: %q", h)
	}
	b.check(nia, "not-found")

	// The auditor: capacity now and as of a date, timeliness, the whole
	// log verified, and the walked referral's chain.
	ada := people["auditor"]
	b.run(ada, "capacity", chromedp.Navigate(r.base+"/console/capacity"), chromedp.WaitVisible(chromedp.CSS("#capacity-table")))
	b.check(ada, "capacity-england")
	b.run(ada, "capacity as of a date",
		chromedp.SendKeys(chromedp.CSS("#asOf-day"), "30"), chromedp.SendKeys(chromedp.CSS("#asOf-month"), "6"), chromedp.SendKeys(chromedp.CSS("#asOf-year"), "2025"),
		chromedp.Submit(chromedp.CSS("#asOf-day")), chromedp.WaitVisible(chromedp.CSS("#as-of")))
	if s := b.text(ada, "#as-of"); !strings.Contains(s, "30 June 2025, 23:59:59") {
		t.Errorf("as of: %q", s)
	}
	b.check(ada, "capacity-as-of")
	b.run(ada, "timeliness", chromedp.Navigate(r.base+"/console/timeliness"), chromedp.WaitVisible(chromedp.CSS("#months-table")))
	b.check(ada, "timeliness-england")
	b.run(ada, "audit", chromedp.Navigate(r.base+"/console/audit"), chromedp.WaitVisible(chromedp.CSS("#verify-never")))
	b.check(ada, "audit-never-run")
	b.run(ada, "verify", chromedp.Click(chromedp.CSS("#run-verify")), chromedp.WaitVisible(chromedp.CSS("#verify-ok")))
	if c := b.text(ada, "#verify-checked"); !strings.Contains(c, time.Now().Format("2006")) {
		t.Errorf("last run: %q", c)
	}
	b.check(ada, "audit-verified")
	b.run(ada, "the referral", chromedp.Navigate(r.base+"/console/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	actions := value(b, ada, "no actions for auditors", chromedp.Evaluate[int](`document.querySelectorAll(".action-list a, #steps a").length`))
	if actions != 0 {
		t.Errorf("the auditor is offered %d actions", actions)
	}
	b.check(ada, "referral-auditor")
	b.run(ada, "its history", chromedp.Navigate(r.base+"/console/audit/referrals/"+id), chromedp.WaitVisible(chromedp.CSS("#chain-status")))
	if s := b.text(ada, "#chain-status"); s != "Chain intact" {
		t.Errorf("chain: %q", s)
	}
	b.check(ada, "history")
}
