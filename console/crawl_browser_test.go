package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The crawler signs in as every role the rig has a token for, starts on
// the console's home page and follows every same-origin link it finds,
// breadth first, GET only (it sends no form), so it reaches the pages
// nobody told it about. Every page it opens must answer below 400, or say
// why on the page (listed in allowedRefusals), and pass the suite's check
// (axe-core, WCAG 2.2 A and AA). Pages of one shape (a referral, a form,
// a region's capacity) are opened in the browser up to crawlPerShape
// times; the other links of that shape are fetched in the page, with the
// person's session, and must answer too.
//
// With NTSFLOW_SCREENSHOTS=docs/console it writes the first view of each
// page shape (per role where the page differs) as PNG into that folder
// (relative to the repository's root): docs/console/README.md.

const (
	crawlPerShape = 1
	crawlMaxPages = 60 // per role: a bound, far above what the rig's pages need
)

// allowedRefusals are the links a role finds that answer 4xx on purpose,
// each with why. The page must say so in its heading.
var allowedRefusals = map[string]string{}

// seedForCrawl gives the rig a small but complete history: referrals at
// every stage (received, notified, searched, placed, withdrawn, referred
// into the scheme and awaiting allocation, allocated and awaiting the
// answer), a child missing now, a child who left care, and a parked
// message.
func seedForCrawl(t *testing.T, r *rig) {
	t.Helper()
	now := time.Now()
	const sk = "E08000007"
	// Some received in earlier months, so the forecast has a rate to show.
	r.receive("crawl-received", sk, "entry-authority", now.AddDate(0, -1, -3))
	notified := r.receive("crawl-notified", sk, "entry-authority", now.AddDate(0, -2, -3))
	r.do(notified, aggregates.NotifyProfessionals{Professions: []string{"health", "police"}, NotifiedBy: "team leader"})
	searched := r.receive("crawl-searched", sk, "entry-authority", now.AddDate(0, -3, -3))
	offers := 1
	r.do(searched, aggregates.RecordPlacementSearch{Track: "commissioned", OffersFound: &offers, PlacementTypes: []string{"U4"}})
	placed := r.receive("crawl-placed", sk, "entry-authority", now.Add(-2*time.Hour))
	r.do(placed, aggregates.Place{PlacementType: "U4", Provider: "Independent fostering agency", PlacedAt: now.Add(-time.Hour)})
	missing := r.receive("crawl-missing", sk, "entry-authority", now.Add(-3*time.Hour))
	r.do(missing, aggregates.Place{PlacementType: "K2", Provider: "Children's home", PlacedAt: now.Add(-2 * time.Hour)})
	left := r.receive("crawl-left", sk, "entry-authority", now.Add(-3*time.Hour))
	r.do(left, aggregates.Place{PlacementType: "H5", Provider: "Supported lodgings", PlacedAt: now.Add(-2 * time.Hour)})
	r.do(left, aggregates.RecordLeftCare{LeftAt: now.Add(-time.Hour), Reason: "turned-18"})
	withdrawn := r.receive("crawl-withdrawn", sk, "entry-authority", now.AddDate(0, -4, -3))
	r.do(withdrawn, aggregates.Withdraw{Reason: "family-reunion"})
	r.receive("crawl-elsewhere", "E09000008", "hotel", now.Add(-time.Hour))
	r.refer("crawl-awaiting-allocation")
	allocated := r.refer("crawl-allocated")
	// The missing episode goes through the API, which adds the child and
	// the safeguarding rules to the command as it does for everyone.
	api := &http.Client{Timeout: 10 * time.Second}
	post := func(path, body, role string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+r.tokens[role])
		res, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode >= 300 {
			t.Fatalf("POST %s as %s: %d", path, role, res.StatusCode)
		}
	}
	post("/v1/referrals/"+missing+"/missing-episodes", fmt.Sprintf(`{"missingAt":%q,"lastSeen":"Stockport bus station","policeReference":"GMP-1"}`, now.Add(-30*time.Minute).UTC().Format(time.RFC3339)), "authority:"+sk)
	post("/v1/referrals/"+allocated+"/allocation", `{"authority":"E08000007","reason":"Her brother is placed in Stockport"}`, "region:North West")
	// A legal hold, so the data protection page lists a record whose own
	// page the crawler then opens.
	post("/v1/records/"+placed+"/legal-hold", `{"reason":"Inquiry into 2026 placements"}`, "data-protection")

	parkOne(t, r, "nts.events.referral."+withdrawn)
	r.settle()
}

// parkOne parks a message of subject, as a saga with a bug would: a
// consumer that cannot handle it parks it at once (a permanent failure).
// Once fixed is called, the consumer handles it, so a replay succeeds.
func parkOne(t *testing.T, r *rig, subject string) (fix func()) {
	t.Helper()
	store, ok := r.eng.Store.(*eventstore.Store)
	if !ok {
		t.Fatalf("the rig's engine store is a %T", r.eng.Store)
	}
	var fixed atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		store.ConsumeEvents(ctx, "crawl-test-consumer", subject, true, func(st eventstore.Stored) error {
			if fixed.Load() {
				return nil
			}
			return fmt.Errorf("no rule for this commit yet: %w", eventstore.ErrPermanent)
		})
	}()
	waitFor(t, "a parked message", 20*time.Second, func() bool {
		lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer lcancel()
		p, err := store.ListParked(lctx, 10)
		return err == nil && len(p) > 0
	})
	return func() { fixed.Store(true) }
}

// idLike is a path segment that names one thing (a referral's id).
var idLike = regexp.MustCompile(`^[0-9A-Za-z_-]*[0-9][0-9A-Za-z_-]{11,}$`)

// shape is a link with what varies from one thing to the next taken out:
// ids in the path, and the values of its query.
func shape(u *url.URL) string {
	parts := strings.Split(u.Path, "/")
	for i, p := range parts {
		if idLike.MatchString(p) {
			parts[i] = "{id}"
		}
	}
	s := strings.Join(parts, "/")
	if u.RawQuery != "" {
		var keys []string
		for k := range u.Query() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s += "?" + strings.Join(keys, "&")
	}
	return s
}

type crawlLink struct {
	Href     string `json:"href"`
	Download bool   `json:"download"`
}

type crawlStats struct {
	opened, fetched int
	shots           map[string]string // screenshot name -> what the page is
}

func TestCrawlEveryPageForEveryRole(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	r := newRig(t, true)
	seedForCrawl(t, r)
	shots := screenshotDir(t)
	stats := crawlStats{shots: map[string]string{}}
	seen := map[string]string{} // the shape and what the page shows -> the role whose screenshot it is
	var shapes []string
	for _, ro := range roles {
		ctx := signIn(b, r, ro.role)
		found := crawl(t, b, r, ctx, ro.role, shots, seen, &stats)
		shapes = append(shapes, found...)
		t.Logf("%s: %d page shapes: %s", ro.role, len(found), strings.Join(found, " "))
	}
	// The crawler must have found the pages it was not told about: at
	// least every page of the navigation of each role.
	for _, want := range []string{"/console/at-risk", "/console/planning", "/console/operations", "/console/capacity", "/console/timeliness", "/console/audit", "/console/referrals/{id}"} {
		found := false
		for _, s := range shapes {
			if s == want || strings.HasPrefix(s, want+"?") {
				found = true
			}
		}
		if !found {
			t.Errorf("the crawler never reached %s", want)
		}
	}
	t.Logf("crawl: %d pages opened with axe-core, %d more links fetched, %d screenshots, %v", stats.opened, stats.fetched, len(stats.shots), time.Since(start).Round(time.Millisecond))
}

// screenshotDir is where the first views go ("" for nowhere): the
// repository's own docs/console when NTSFLOW_SCREENSHOTS=docs/console.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("NTSFLOW_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // the test runs in console/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// crawl walks one role's console and returns the page shapes it opened.
func crawl(t *testing.T, b *browser, r *rig, ctx context.Context, role, shots string, seen map[string]string, stats *crawlStats) []string {
	t.Helper()
	base, _ := url.Parse(r.base)
	queue := []string{r.base + "/"}
	visited := map[string]bool{r.base + "/": true}
	perShape := map[string]int{}
	var shapes []string
	opened := 0
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		u, _ := url.Parse(next)
		sh := shape(u)
		if perShape[sh] >= crawlPerShape || opened >= crawlMaxPages {
			stats.fetched++
			if code, h1 := fetchInPage(b, ctx, next); code >= 400 {
				refusal(t, role, next, sh, code, h1)
			}
			continue
		}
		opened++
		perShape[sh]++
		stats.opened++
		resp := value(b, ctx, role+" opens "+next, chromedp.NavigateResponse(next))
		code := int(resp.Status)
		landed := value(b, ctx, "where", chromedp.Location())
		lu, _ := url.Parse(landed)
		lsh := shape(lu)
		h1 := value(b, ctx, "the heading of "+next, chromedp.Evaluate[string](`(document.querySelector("h1") || {}).textContent || ""`))
		if code >= 400 {
			refusal(t, role, next, sh, code, h1)
		}
		if perShape[sh] == 1 && !slices.Contains(shapes, lsh) {
			shapes = append(shapes, lsh)
		}
		name := strings.NewReplacer(":", "-", " ", "-").Replace(role) + "--" + fileName(lsh)
		if perShape[sh] == 1 {
			b.check(ctx, "crawl-"+name)
			screenshot(t, b, ctx, shots, role, lsh, h1, name, seen, stats)
		}
		links := value(b, ctx, "the links of "+next, chromedp.Evaluate[[]crawlLink](
			`Array.from(document.querySelectorAll("a[href]")).map(a => ({href: a.href.split("#")[0], download: a.hasAttribute("download")}))`))
		for _, l := range links {
			lu, err := url.Parse(l.Href)
			if err != nil || lu.Scheme != base.Scheme || lu.Host != base.Host || visited[l.Href] {
				continue
			}
			visited[l.Href] = true
			if l.Download || strings.HasPrefix(lu.Path, "/console/static/") {
				// A download (or a static file, such as GOV.UK Frontend's
				// licence) is not a page: it must answer, as a file.
				stats.fetched++
				if code, _ := fetchInPage(b, ctx, l.Href); code >= 400 {
					t.Errorf("%s: the download %s (linked from %s) answers %d", role, l.Href, next, code)
				}
				continue
			}
			queue = append(queue, l.Href)
		}
	}
	return shapes
}

// refusal fails the test for a 4xx or 5xx, unless the link is one listed
// as refused on purpose and the page says why.
func refusal(t *testing.T, role, link, sh string, code int, h1 string) {
	t.Helper()
	if why, ok := allowedRefusals[sh]; ok && code < 500 && strings.TrimSpace(h1) != "" {
		t.Logf("%s: %s answers %d on purpose (%s): %q", role, link, code, why, h1)
		return
	}
	t.Errorf("%s: %s answers %d: %q", role, link, code, strings.TrimSpace(h1))
}

// fetchInPage GETs link from the page, with the person's session, and
// returns its status and the heading of what it answered.
func fetchInPage(b *browser, ctx context.Context, link string) (int, string) {
	b.t.Helper()
	type res struct {
		Status int    `json:"status"`
		H1     string `json:"h1"`
	}
	out := value(b, ctx, "fetch "+link, chromedp.Evaluate[res](fmt.Sprintf(
		`fetch(%q, {credentials: "same-origin"}).then(async r => { const t = await r.text(); const m = t.match(/<h1[^>]*>([\s\S]*?)<\/h1>/); return {status: r.status, h1: m ? m[1] : ""}; })`, link), chromedp.EvalAwaitPromise))
	return out.Status, out.H1
}

func fileName(sh string) string {
	s := strings.TrimPrefix(sh, "/console/")
	if s == "" || s == "/" {
		s = "home"
	}
	s = strings.NewReplacer("/", "-", "{id}", "id", "?", "--", "&", "-", "=", "").Replace(s)
	return strings.Trim(s, "-")
}

// screenshot writes the first view of a page into shots, once for each
// page shape and what it shows: a role whose page has the same heading
// and sections as another role's adds no screenshot.
func screenshot(t *testing.T, b *browser, ctx context.Context, shots, role, sh, h1, name string, seen map[string]string, stats *crawlStats) {
	t.Helper()
	if shots == "" {
		return
	}
	sections := value(b, ctx, "the sections of "+sh, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("main h2, nav a")).map(e => e.textContent.trim()).join("|")`))
	// Not the address: the home page is the at-risk list by another name.
	key := h1 + "\n" + sections
	if _, ok := seen[key]; ok {
		return
	}
	seen[key] = role
	png := value(b, ctx, "the first view of "+sh, chromedp.CaptureScreenshot())
	file := name + ".png"
	if err := os.WriteFile(filepath.Join(shots, file), png, 0o644); err != nil {
		t.Fatal(err)
	}
	stats.shots[file] = role + ": " + strings.TrimSpace(h1)
}
