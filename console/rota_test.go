package console_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

// The rota page ends a pause early: the form lists the authorities paused
// now, a missing reason is shown beside its field, and once ended the
// authority is the rota's proposal again.
func TestEndAPauseFromTheRotaPage(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	members := r.reg.InRegion("North West")
	first := members[0]
	pause := aggregates.PauseAuthority{Authority: first, Reason: "Placement pressures", Until: time.Now().Add(30 * 24 * time.Hour), Members: members}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := engine.Handle(ctx, r.eng, aggregates.Regions, "north-west", aggregates.RegionCommand(pause), engine.Meta{Actor: "test setup"}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func() string {
		t.Helper()
		res, err := c.Get(r.base + "/console/regions/north-west/rota")
		if err != nil {
			t.Fatal(err)
		}
		return readBody(t, res)
	}
	body := page()
	form := regexp.MustCompile(`(?s)<form method="post" action="/console/regions/north-west/end-pause".*?</form>`).FindString(body)
	if form == "" || !strings.Contains(form, `value="`+first+`"`) || strings.Contains(form, `value="`+members[1]+`"`) {
		t.Fatalf("no end-pause form listing only the paused authority:\n%s", form)
	}
	field := func(name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(form)
		if m == nil {
			t.Fatalf("no %s in the form", name)
		}
		return m[1]
	}
	v := url.Values{"csrf": {field("csrf")}, "key": {field("key")}, "version": {field("version")}, "endAuthority": {first}}
	post := func(v url.Values) *http.Response {
		t.Helper()
		res, err := c.PostForm(r.base+"/console/regions/north-west/end-pause", v)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := post(v)
	if b := readBody(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "Enter why the pause ends early") {
		t.Fatalf("without a reason: %d", res.StatusCode)
	}
	v.Set("endReason", "Placements found after all")
	res = post(v)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/regions/north-west/rota?recorded=end-pause" {
		t.Fatalf("end the pause: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = c.Get(r.base + res.Header.Get("Location"))
	body = readBody(t, res)
	if !strings.Contains(body, "Pause ended") || strings.Contains(body, "End a pause early") {
		t.Fatalf("after the pause ended the page does not say so, or still offers to end it")
	}
	g, _, err := engine.Load(ctx, r.eng.Store, aggregates.Regions, "north-west")
	if err != nil {
		t.Fatal(err)
	}
	if _, on := g.Paused(first, time.Now()); on {
		t.Fatal("the authority is still paused")
	}
}

// The rota page shows the allocations awaiting each authority's answer,
// and the pledge places they hold, as the API counts them.
func TestRotaPageShowsAllocationsAwaitingAnswer(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := engine.Handle(ctx, r.eng, aggregates.Authorities, "E08000007", aggregates.AuthorityCommand(aggregates.SetPledge{Authority: "E08000007", Pledge: new(3)}), engine.Meta{Actor: "test setup"}); err != nil {
		t.Fatal(err)
	}
	id := r.refer("awaiting")
	res, err := http.Post(r.base+"/v1/referrals/"+id+"/allocation", "application/json", strings.NewReader(`{"authority":"E08000007","reason":"a sibling is placed there"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, res); res.StatusCode != 200 {
		t.Fatalf("allocate: %d %s", res.StatusCode, b)
	}
	r.settle()
	_, page := get(t, r.base+"/console/regions/north-west/rota")
	if c := rowCells(page, "data-code")["E08000007"]; c["awaitingAnswer"] != "1" || c["pledge"] != "3" || c["pledgeRemaining"] != "2" {
		t.Fatalf("Stockport on the rota page: %v", c)
	}
}
