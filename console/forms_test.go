package console_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A form sent with several answers missing or wrong shows every problem at
// once in the error summary, each linked to its field and worded for the
// person at the form, not the first problem alone nor the API's values.
func TestFormsShowEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// hidden reads the form's hidden fields (CSRF token, key, version).
	hidden := func(path string) url.Values {
		t.Helper()
		res, err := c.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		v := url.Values{}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`).FindAllStringSubmatch(readBody(t, res), -1) {
			v.Set(m[1], m[2])
		}
		return v
	}
	post := func(path string, v url.Values) (int, string) {
		t.Helper()
		res, err := c.PostForm(r.base+path, v)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, readBody(t, res)
	}
	summary := func(page string) []string {
		box := regexp.MustCompile(`(?s)<div class="govuk-error-summary".*?</ul>`).FindString(page)
		var out []string
		for _, m := range regexp.MustCompile(`<a href="#([\w-]+)">([^<]*)</a>`).FindAllStringSubmatch(box, -1) {
			out = append(out, m[1]+": "+m[2])
		}
		return out
	}

	v := hidden("/console/referrals/new")
	v.Set("receivingAuthority", "E08000007")
	v.Set("route", "boat")
	v.Set("claimedAge", "fifteen")
	v.Set("receivedAt-day", "31")
	v.Set("receivedAt-month", "2")
	v.Set("receivedAt-year", "2026")
	v.Set("receivedAt-time", "14:30")
	code, page := post("/console/referrals/new", v)
	want := []string{
		"route-0: Select how the referral came: from an interim hotel or from an entry authority",
		"childReference: Enter the child&#39;s reference, as the Home Office or the transferring authority gave it",
		"claimedAge: Enter the claimed age as a whole number of years from 0 to 17, such as 15",
		"receivedAt-day: Enter when the referral was received: a real date, and a time such as 14:30",
	}
	if got := summary(page); code != http.StatusUnprocessableEntity || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("receive: %d, summary\n%s\nwant\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(page, "must be") {
		t.Errorf("the receive form shows the API's message to a person")
	}

	id := r.receive("forms-1", "E08000007", "hotel", time.Now().Add(-time.Hour))
	v = hidden("/console/referrals/" + id + "/place")
	v.Set("placementType", "Z9")
	v.Set("placedAt-day", "7")
	v.Set("placedAt-month", "13")
	v.Set("placedAt-year", "2026")
	v.Set("placedAt-time", "25:00")
	code, page = post("/console/referrals/"+id+"/place", v)
	want = []string{
		"placementType: Select the placement type",
		"provider: Name the placement provider",
		"placedAt-day: Enter when the child was placed: a real date, and a time such as 14:30",
	}
	if got := summary(page); code != http.StatusUnprocessableEntity || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("place: %d, summary\n%s\nwant\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each message stands beside its field too.
	for _, id := range []string{"placementType-error", "provider-error", "placedAt-error"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("place: no %s beside its field", id)
		}
	}
}

// The at-risk list and the allocation page find a child by all or part of
// the reference, from the list view itself.
func TestSearchByChildReference(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	mine := r.receive("search-1", "E08000007", "hotel", time.Now().Add(-time.Hour))
	other := r.receive("search-2", "E08000007", "hotel", time.Now().Add(-time.Hour))
	referred := r.refer("search-3")
	r.settle()
	// The rig gives each child the reference "HO-" and its key.
	child := "HO-search-1"
	code, page := get(t, r.base+"/console/at-risk?child="+url.QueryEscape(strings.ToLower(child)))
	if code != 200 || !strings.Contains(page, `data-referral="`+mine+`"`) || strings.Contains(page, `data-referral="`+other+`"`) {
		t.Errorf("at risk, searching %q: %d; finds %v, also the other %v", child, code, strings.Contains(page, mine), strings.Contains(page, other))
	}
	if !strings.Contains(page, "Showing 1 of 1 open referrals for the child") {
		t.Errorf("at risk: the search is not said")
	}
	child = "HO-search-3"
	code, page = get(t, r.base+"/console/allocation?region=North+West&child="+url.QueryEscape(child))
	if code != 200 || !strings.Contains(page, `data-referral="`+referred+`"`) {
		t.Errorf("allocation, searching %q: %d", child, code)
	}
	_, page = get(t, r.base+"/console/allocation?region=North+West&child=no-such-child")
	if strings.Contains(page, `data-referral="`+referred+`"`) {
		t.Errorf("allocation: a search for nobody lists %s", referred)
	}
}
