package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
)

// seedMonths receives referrals in the months before this one, in the
// North West (Stockport and Manchester) and London, entry-authority route
// (two hours in the test policy, so no deadline fires while a test reads).
func seedMonths(t *testing.T, r *rig) {
	t.Helper()
	now := time.Now().In(calendar.London)
	this := time.Date(now.Year(), now.Month(), 1, 10, 0, 0, 0, calendar.London)
	var ids []string
	for back, n := range []int{0, 3, 2, 4, 1, 2, 3} {
		month := this.AddDate(0, -back, 0)
		for i := 0; i < n; i++ {
			ids = append(ids, r.receive(fmt.Sprintf("sk-%d-%d", back, i), "E08000007", "entry-authority", month.AddDate(0, 0, i)))
			if i%2 == 0 {
				ids = append(ids, r.receive(fmt.Sprintf("mc-%d-%d", back, i), "E08000003", "entry-authority", month.AddDate(0, 0, i)))
			}
		}
		if n > 2 {
			ids = append(ids, r.receive(fmt.Sprintf("ldn-%d", back), "E09000033", "entry-authority", month))
		}
	}
	for _, id := range ids {
		waitFor(t, "the deadline of "+id, 10*time.Second, func() bool {
			ref, _, err := r.eng.Load(context.Background(), id)
			return err == nil && !ref.DueAt.IsZero()
		})
	}
	r.settle()
}

type forecastJSON struct {
	Scope       string   `json:"scope"`
	YearOne     float64  `json:"yearOne"`
	YearTwo     float64  `json:"yearTwo"`
	LookedAfter int      `json:"lookedAfter"`
	Threshold   *float64 `json:"threshold"`
	Share       float64  `json:"share"`
	Staff       []struct {
		Role         string `json:"role"`
		YearOnePosts int    `json:"yearOnePosts"`
		YearTwoPosts int    `json:"yearTwoPosts"`
	} `json:"staff"`
}

// The planning page's figures are the API's, for the same moment and the
// same question: the forecast's years and staff, the training places; and
// its downloads are the API's CSV, byte for byte.
func TestPlanningPageIsTheAPIs(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	seedMonths(t, r)
	now := time.Now().In(calendar.London)
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	from, to := this.AddDate(0, -12, 0).Format("2006-01"), this.AddDate(0, -1, 0).Format("2006-01")

	for _, c := range []struct {
		role, page, api string
	}{
		// An authority's page is its own forecast, with the page's default
		// caseloads (15 and 20).
		{"authority:E08000007", "/console/planning", "/v1/planning/forecast?authority=E08000007&casesPerSocialWorker=15&casesPerPersonalAdviser=20"},
		{"region:North West", "/console/planning?casesPerSocialWorker=12&casesPerPersonalAdviser=25", "/v1/planning/forecast?region=north-west&casesPerSocialWorker=12&casesPerPersonalAdviser=25"},
		{"region:North West", "/console/planning?authority=E08000003", "/v1/planning/forecast?authority=E08000003&casesPerSocialWorker=15&casesPerPersonalAdviser=20"},
		{"auditor", "/console/planning?region=London", "/v1/planning/forecast?region=london&casesPerSocialWorker=15&casesPerPersonalAdviser=20"},
	} {
		code, body := apiAs(t, r, c.role, "GET", c.api, "")
		var f forecastJSON
		if code != 200 || json.Unmarshal(body, &f) != nil {
			t.Fatalf("%s GET %s: %d %s", c.role, c.api, code, body)
		}
		if f.YearOne == 0 {
			t.Fatalf("%s: the seeded forecast is empty: %s", c.role, body)
		}
		v := signedIn(t, r, c.role)
		res, page := v.get(c.page)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d", c.role, c.page, res.StatusCode)
		}
		for id, want := range map[string]string{"year-one": children(f.YearOne), "year-two": children(f.YearTwo), "looked-after": children(float64(f.LookedAfter)),
			"share": fmt.Sprintf("%.1f%%", f.Share*100)} {
			if got := textOf(page, `id="`+id+`"`); got != want {
				t.Errorf("%s %s: %s on the page %q, from the API %q", c.role, c.page, id, got, want)
			}
		}
		if f.Threshold != nil {
			if got, want := textOf(page, `id="threshold"`), children(*f.Threshold); got != want {
				t.Errorf("%s: threshold on the page %q, from the API %q", c.role, got, want)
			}
		}
		staff := rowCells(page, "data-role")
		if len(f.Staff) != 2 || len(staff) != 2 {
			t.Errorf("%s: staff rows: page %v, API %+v", c.role, staff, f.Staff)
		}
		for _, s := range f.Staff {
			row := staff[strings.ToUpper(s.Role[:1])+s.Role[1:]+"s"]
			if row["yearOnePosts"] != strconv.Itoa(s.YearOnePosts) || row["yearTwoPosts"] != strconv.Itoa(s.YearTwoPosts) {
				t.Errorf("%s: %s posts: page %v, API %+v", c.role, s.Role, row, s)
			}
		}
		// The download is the API's CSV.
		link := hrefOf(page, `id="forecast-csv"`)
		res, csvPage := v.get(link)
		q, _ := url.ParseQuery(link[strings.Index(link, "?")+1:])
		q.Set("format", "csv")
		_, csvAPI := apiAs(t, r, c.role, "GET", "/v1/planning/forecast?"+q.Encode(), "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || csvPage != string(csvAPI) || !strings.Contains(csvPage, "forecast") {
			t.Errorf("%s: the page's CSV (%d) is not the API's:\n%s\n---\n%s", c.role, res.StatusCode, csvPage, csvAPI)
		}
	}

	// Training places: the page's default question, asked of the API.
	code, body := apiAs(t, r, "auditor", "GET", "/v1/planning/training-places?places=1000&from="+from+"&to="+to, "")
	var tp struct {
		Authorities []struct {
			Authority string `json:"authority"`
			Children  int    `json:"children"`
			Places    int    `json:"places"`
		} `json:"authorities"`
	}
	if code != 200 || json.Unmarshal(body, &tp) != nil || len(tp.Authorities) != 3 {
		t.Fatalf("training places: %d %s", code, body)
	}
	ada := signedIn(t, r, "auditor")
	_, page := ada.get("/console/planning")
	rows := rowCells(page, "data-code")
	for _, a := range tp.Authorities {
		if rows[a.Authority]["places"] != thousandsOf(a.Places) || rows[a.Authority]["children"] != strconv.Itoa(a.Children) {
			t.Errorf("training places of %s: page %v, API %+v", a.Authority, rows[a.Authority], a)
		}
	}
	res, csvPage := ada.get(hrefOf(page, `id="places-csv"`))
	_, csvAPI := apiAs(t, r, "auditor", "GET", "/v1/planning/training-places?format=csv&places=1000&from="+from+"&to="+to, "")
	if res.StatusCode != 200 || csvPage != string(csvAPI) || !strings.HasPrefix(csvPage, "authority,name,children,places\n") {
		t.Errorf("training places CSV: page (%d)\n%s\nAPI\n%s", res.StatusCode, csvPage, csvAPI)
	}
	// Without a region or authority chosen, the auditor is asked for one.
	if !strings.Contains(page, `id="choose-scope"`) {
		t.Errorf("the auditor's page does not ask for a region or authority")
	}
}

// Wrong choices are all shown at once, beside their fields, in words; an
// authority's page is its own whatever the address asks.
func TestPlanningPageSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	sam := signedIn(t, r, "authority:E08000007")
	res, page := sam.get("/console/planning?casesPerSocialWorker=NaN&casesPerPersonalAdviser=0&places=many&from=2025-13&to=2025-01")
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		`href="#casesPerSocialWorker">Enter the children per social worker as a number more than 0 and at most 1,000, such as 15`,
		`href="#casesPerPersonalAdviser">Enter the young people per personal adviser as a number more than 0 and at most 1,000, such as 20`,
		`href="#places">Enter the training places to share as a whole number from 1 to 1,000,000, such as 1000`,
		`href="#from">Enter a month as year and month, such as 2025-06`,
		`id="casesPerSocialWorker-error"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// Another authority asked for: the page is Stockport's.
	_, page = sam.get("/console/planning?authority=E08000003")
	if !strings.Contains(page, "Stockport.</p>") {
		t.Errorf("an authority's page shows another authority's forecast")
	}
	// The operator plans nothing.
	op := signedIn(t, r, "operator")
	if res, _ := op.get("/console/planning"); res.StatusCode != http.StatusForbidden {
		t.Errorf("operator at planning: %d", res.StatusCode)
	}
}

func children(x float64) string {
	n := int(math.Round(x))
	if n == 1 {
		return "1 child"
	}
	return thousandsOf(n) + " children"
}

func thousandsOf(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func hrefOf(page, attr string) string {
	i := strings.Index(page, attr)
	if i < 0 {
		return ""
	}
	tag := page[strings.LastIndex(page[:i], "<"):]
	tag = tag[:strings.Index(tag, ">")]
	j := strings.Index(tag, `href="`)
	if j < 0 {
		return ""
	}
	h := tag[j+6:]
	return strings.ReplaceAll(h[:strings.Index(h, `"`)], "&amp;", "&")
}

// The capacity and timeliness pages show each signed-in role the numbers
// the API gives the same role for the same scope.
func TestCapacityAndTimelinessPagesAreTheAPIsForEachRole(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	seedMonths(t, r)
	for _, c := range []struct{ role, capacity, timeliness, code string }{
		{"authority:E08000007", "/v1/capacity/authorities/E08000007", "/v1/timeliness?authority=E08000007", "E08000007"},
		{"region:North West", "/v1/capacity/regions/north-west", "/v1/timeliness?region=north-west", "E08000003"},
	} {
		v := signedIn(t, r, c.role)
		code, body := apiAs(t, r, c.role, "GET", c.capacity, "")
		// An authority's capacity is its row; a region's, its authorities'.
		var capAPI struct {
			Result struct {
				capRow
				Authorities []capRow `json:"authorities"`
			} `json:"result"`
		}
		if code != 200 || json.Unmarshal(body, &capAPI) != nil {
			t.Fatalf("%s GET %s: %d %s", c.role, c.capacity, code, body)
		}
		_, page := v.get("/console/capacity")
		rows := rowCells(page, "data-code")
		found := false
		for _, a := range append(capAPI.Result.Authorities, capAPI.Result.capRow) {
			if a.Code != c.code {
				continue
			}
			found = true
			if got := rows[a.Code]; got["lookedAfter"] != strconv.Itoa(a.LookedAfter) || got["inFlight"] != strconv.Itoa(a.InFlight) || got["headroom"] != strconv.Itoa(*a.Headroom) {
				t.Errorf("%s: capacity of %s: page %v, API %+v", c.role, a.Code, got, a)
			}
			if a.InFlight == 0 {
				t.Errorf("%s: the seeded referrals are not in flight: %+v", c.role, a)
			}
		}
		if !found {
			t.Errorf("%s: the API's capacity has no %s", c.role, c.code)
		}

		code, body = apiAs(t, r, c.role, "GET", c.timeliness, "")
		var tl struct {
			Result struct {
				ByMonth []struct {
					Month    string `json:"month"`
					Received int    `json:"received"`
					Placed   int    `json:"placed"`
					Breaches int    `json:"breaches"`
				} `json:"byMonth"`
			} `json:"result"`
		}
		if code != 200 || json.Unmarshal(body, &tl) != nil || len(tl.Result.ByMonth) == 0 {
			t.Fatalf("%s GET %s: %d %s", c.role, c.timeliness, code, body)
		}
		_, page = v.get("/console/timeliness")
		months := rowCells(page, "data-month")
		for _, m := range tl.Result.ByMonth {
			got := months[m.Month]
			if got["received"] != strconv.Itoa(m.Received) || got["placed"] != strconv.Itoa(m.Placed) || got["breaches"] != strconv.Itoa(m.Breaches) {
				t.Errorf("%s: timeliness %s: page %v, API %+v", c.role, m.Month, got, m)
			}
		}
	}
}
