package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
)

// rowCells reads a table's rows keyed by a data attribute, each row's
// cells keyed by data-field.
func rowCells(html, attr string) map[string]map[string]string {
	rows := map[string]map[string]string{}
	rowRe := regexp.MustCompile(`(?s)<tr(?: class="[^"]*")? ` + attr + `="([^"]*)"[^>]*>(.*?)</tr>`)
	cellRe := regexp.MustCompile(`data-field="(\w+)"((?: [\w-]+="[^"]*")*)>([^<]*)<`)
	exactRe := regexp.MustCompile(`data-exact="([^"]*)"`)
	for _, m := range rowRe.FindAllStringSubmatch(html, -1) {
		cells := map[string]string{}
		for _, c := range cellRe.FindAllStringSubmatch(m[2], -1) {
			cells[c[1]] = strings.TrimSpace(c[3])
			if x := exactRe.FindStringSubmatch(c[2]); x != nil {
				cells[c[1]+"Exact"] = x[1]
			}
		}
		rows[m[1]] = cells
	}
	return rows
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// The console shows the views' numbers as the API serves them: capacity
// (thresholds unrounded, looked after, pledges), timeliness shares (as
// percentages) and the count of open referrals.
func TestConsoleShowsTheAPIsNumbers(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	june := func(day, hour int) time.Time { return time.Date(2025, 6, day, hour, 0, 0, 0, calendar.London) }
	// Stockport: three in June 2025, two placed (one in time, one late: the
	// test policy gives the hotel route 6 seconds), one still open;
	// Manchester: one placed in May; a pledge.
	a := r.receive("a", "E08000007", "hotel", june(2, 10))
	b := r.receive("b", "E08000007", "hotel", june(3, 10))
	r.receive("c", "E08000007", "entry-authority", june(4, 10))
	m := r.receive("m", "E08000003", "entry-authority", time.Date(2025, 5, 12, 9, 0, 0, 0, calendar.London))
	r.do(a, aggregates.Place{PlacementType: "U4", Provider: "IFA", PlacedAt: june(2, 10).Add(2 * time.Second)})
	r.do(b, aggregates.Place{PlacementType: "K2", Provider: "Home", PlacedAt: june(20, 15)})
	r.do(m, aggregates.Place{PlacementType: "H5", Provider: "Supported", PlacedAt: time.Date(2025, 5, 14, 9, 0, 0, 0, calendar.London)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := engine.Handle(ctx, r.eng, aggregates.Authorities, "E08000007", aggregates.AuthorityCommand(aggregates.SetPledge{Authority: "E08000007", Pledge: new(12)}), engine.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b, m} {
		waitFor(t, "the deadline of "+id, 10*time.Second, func() bool {
			ref, _, err := r.eng.Load(ctx, id)
			return err == nil && !ref.DueAt.IsZero()
		})
	}
	r.settle()

	// Capacity, the North West's authorities.
	var capAPI struct {
		Result struct {
			Region      capRow   `json:"region"`
			Authorities []capRow `json:"authorities"`
		} `json:"result"`
	}
	getJSON(t, r.base+"/v1/capacity/regions/north-west", &capAPI)
	_, page := get(t, r.base+"/console/capacity?region="+url.QueryEscape("North West"))
	rows := rowCells(page, "data-code")
	if len(capAPI.Result.Authorities) < 20 || len(rows) != len(capAPI.Result.Authorities)+1 {
		t.Fatalf("API %d authorities, console %d rows", len(capAPI.Result.Authorities), len(rows))
	}
	for _, a := range append(capAPI.Result.Authorities, capAPI.Result.Region) {
		c := rows[a.Code]
		// A threshold reads as the children at which it is reached; the
		// exact rate stays beside it.
		want := map[string]string{"threshold": thousands(int(math.Ceil(*a.Threshold))), "thresholdExact": strconv.FormatFloat(math.Round(*a.Threshold*1000)/1000, 'f', -1, 64),
			"lookedAfter": strconv.Itoa(a.LookedAfter), "inFlight": strconv.Itoa(a.InFlight), "headroom": thousands(*a.Headroom), "pledge": "none", "pledgeRemaining": "none"}
		if a.Pledge != nil {
			want["pledge"], want["pledgeRemaining"] = strconv.Itoa(*a.Pledge), strconv.Itoa(*a.PledgeRemaining)
		}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("capacity %s %s: console %q, API %q", a.Name, k, c[k], v)
			}
		}
	}
	if c := rows["E08000007"]; c["lookedAfter"] != "2" || c["pledge"] != "12" || c["pledgeRemaining"] != "12" || c["threshold"] != "64" || c["thresholdExact"] != "63.903" {
		t.Errorf("Stockport: %v", c)
	}

	// Timeliness, by month.
	var tAPI struct {
		Result struct {
			ByMonth []struct {
				Month       string   `json:"month"`
				Received    int      `json:"received"`
				Placed      int      `json:"placed"`
				ShareWithin *float64 `json:"shareWithin"`
				Breaches    int      `json:"breaches"`
			} `json:"byMonth"`
		} `json:"result"`
	}
	getJSON(t, r.base+"/v1/timeliness", &tAPI)
	_, page = get(t, r.base+"/console/timeliness")
	months := rowCells(page, "data-month")
	if len(tAPI.Result.ByMonth) != 2 {
		t.Fatalf("API months: %+v", tAPI.Result.ByMonth)
	}
	for _, m := range tAPI.Result.ByMonth {
		c := months[m.Month]
		share := fmt.Sprintf("%.1f%%", *m.ShareWithin*100)
		if c["share"] != share || c["received"] != strconv.Itoa(m.Received) || c["placed"] != strconv.Itoa(m.Placed) || c["breaches"] != strconv.Itoa(m.Breaches) {
			t.Errorf("timeliness %s: console %v, API %+v (share %s)", m.Month, c, m, share)
		}
	}
	if months["2025-06"]["share"] != "50.0%" {
		t.Errorf("June: %v", months["2025-06"])
	}

	// The open referrals.
	var list struct {
		Result struct {
			Total int `json:"total"`
		} `json:"result"`
	}
	getJSON(t, r.base+"/v1/referrals?status=open", &list)
	_, page = get(t, r.base+"/console/at-risk")
	if want := fmt.Sprintf("Showing %d of %d open referrals", list.Result.Total, list.Result.Total); list.Result.Total != 1 || !strings.Contains(page, want) {
		t.Errorf("at risk: API total %d; console page lacks %q", list.Result.Total, want)
	}
}

type capRow struct {
	Code            string   `json:"code"`
	Name            string   `json:"name"`
	LookedAfter     int      `json:"lookedAfter"`
	InFlight        int      `json:"inFlight"`
	Threshold       *float64 `json:"threshold"`
	Headroom        *int     `json:"headroom"`
	Pledge          *int     `json:"pledge"`
	PledgeRemaining *int     `json:"pledgeRemaining"`
}

// Without tokens every page says that sign-in is off; with them, pages
// send callers to sign in, the session cookie is HttpOnly and
// SameSite=Strict, and a form without its CSRF token is refused.
func TestSignInSessionAndCSRF(t *testing.T) {
	t.Parallel()
	open := newRig(t, false)
	for _, p := range []string{"/", "/console/at-risk", "/console/capacity", "/console/timeliness", "/console/audit", "/console/referrals/new", "/console/sign-in"} {
		code, body := get(t, open.base+p)
		if code != 200 || !strings.Contains(body, "Sign-in is off") {
			t.Errorf("%s: %d, sign-in-off banner missing", p, code)
		}
	}

	r := newRig(t, true)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(r.base + "/console/capacity")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/sign-in?next=") {
		t.Fatalf("not signed in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	ck := res.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Fatalf("session cookie %+v", ck)
	}
	// Without the form's CSRF token, signing in is refused.
	res, err = c.PostForm(r.base+"/console/sign-in", url.Values{"token": {r.tokens["auditor"]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign in without CSRF: %d", res.StatusCode)
	}
	// With it, it works and the session id changes.
	res, _ = c.Get(r.base + "/console/sign-in")
	b := new(strings.Builder)
	fmt.Fprint(b, readBody(t, res))
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(b.String())
	if csrf == nil {
		t.Fatal("no CSRF token on the sign-in form")
	}
	res, err = c.PostForm(r.base+"/console/sign-in", url.Values{"token": {r.tokens["auditor"]}, "csrf": {csrf[1]}, "next": {"/console/audit"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/audit" || len(res.Cookies()) != 1 {
		t.Fatalf("sign in: %d %s %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
	res, _ = c.Get(r.base + "/console/audit")
	if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, "Signed in as Ada Auditor") || strings.Contains(body, "Sign-in is off") {
		t.Fatalf("audit page as auditor: %d", res.StatusCode)
	}
	// The API still answers bearer tokens, not the console's cookie.
	res, _ = c.Get(r.base + "/v1/capacity")
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API with the console's cookie: %d", res.StatusCode)
	}
	// An open redirect is not possible.
	res, _ = c.PostForm(r.base+"/console/sign-in", url.Values{"token": {r.tokens["auditor"]}, "csrf": {csrf[1]}, "next": {"//evil.example/"}})
	res.Body.Close()
	if loc := res.Header.Get("Location"); loc != "/console/at-risk" && res.StatusCode != http.StatusForbidden {
		t.Fatalf("next=//evil: %d %s", res.StatusCode, loc)
	}
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b := new(strings.Builder)
	if _, err := io.Copy(b, res.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// thousands writes n as people read it, with a comma between thousands.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
