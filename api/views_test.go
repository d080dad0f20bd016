package api_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

func newViewServer(t *testing.T) *httptest.Server {
	n := storetest.Start(t, storetest.Options{})
	quiet := slog.New(slog.DiscardHandler)
	node := buildNode(t, n, wiring.Config{Log: quiet}, wiring.Views)
	node.API.MaxWait = 2 * time.Second
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func TestViewsOverHTTP(t *testing.T) {
	ts := newViewServer(t)
	var seq float64
	for i := range 3 {
		r := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", fmt.Sprint("HO-", i), 1))
		if r.status != 201 {
			t.Fatal(r.status, string(r.body))
		}
		seq = r.json(t)["sequence"].(float64)
		if i == 0 {
			id := r.json(t)["referralId"].(string)
			if p := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`); p.status != 200 {
				t.Fatal(string(p.body))
			}
		}
	}
	before := time.Now()
	time.Sleep(10 * time.Millisecond)                                              // a moment strictly between the two groups of commits, not a wait
	pl := do(t, "POST", ts.URL+"/v1/authorities/E08000016/pledge", `{"pledge":4}`) // Barnsley's earlier code
	if pl.status != 200 || pl.json(t)["authority"] != "E08000038" || pl.json(t)["referralId"] != nil {
		t.Fatalf("pledge: %d %s", pl.status, pl.body)
	}
	seq = pl.json(t)["sequence"].(float64)
	min := fmt.Sprintf("?minSequence=%d", int(seq))

	c := do(t, "GET", ts.URL+"/v1/capacity/authorities/E08000007"+min, "")
	res := c.json(t)
	row := res["result"].(map[string]any)
	if c.status != 200 || res["sequence"].(float64) < seq || row["lookedAfter"].(float64) != 1 || row["inFlight"].(float64) != 2 ||
		row["threshold"] != 63.903 || row["childPopulation"] != 63903.0 || row["populationYear"] != "mid-2020" || !strings.HasPrefix(row["populationSource"].(string), "ONS mid-2020") {
		t.Fatalf("capacity of Stockport: %s", c.body)
	}
	reg := do(t, "GET", ts.URL+"/v1/capacity/regions/yorkshire-and-the-humber"+min, "")
	if !strings.Contains(string(reg.body), `"pledge":4`) || strings.Contains(string(reg.body), "--population") || !strings.Contains(string(reg.body), `"threshold"`) {
		t.Fatalf("region: %s", reg.body)
	}
	tl := do(t, "GET", ts.URL+"/v1/timeliness?region=north-west&from=2025-06&to=2025-06"+strings.Replace(min, "?", "&", 1), "")
	if tl.status != 200 || !strings.Contains(string(tl.body), `"received":3`) {
		t.Fatalf("timeliness: %s", tl.body)
	}
	list := do(t, "GET", ts.URL+"/v1/referrals?authority=E08000007&status=open&limit=1"+strings.Replace(min, "?", "&", 1), "")
	page := list.json(t)["result"].(map[string]any)
	if list.status != 200 || page["total"].(float64) != 2 || len(page["referrals"].([]any)) != 1 || page["next"].(float64) != 1 {
		t.Fatalf("list: %s", list.body)
	}
	// As of a moment before the pledge: no pledge.
	asOf := do(t, "GET", ts.URL+"/v1/capacity/authorities/E08000038?asOf="+url.QueryEscape(before.Format(time.RFC3339Nano)), "")
	if asOf.status != 200 || strings.Contains(string(asOf.body), "pledge") || asOf.json(t)["asOf"] == nil {
		t.Fatalf("as of: %s", asOf.body)
	}
	// Bad queries.
	for q, code := range map[string]string{
		"/v1/capacity?asOf=yesterday":          "invalid_query",
		"/v1/capacity?minSequence=-1":          "invalid_query",
		"/v1/capacity?minSequence=999999":      "view_behind",
		"/v1/capacity/regions/atlantis":        "not_found",
		"/v1/capacity/authorities/E06000999":   "not_found",
		"/v1/timeliness?from=June":             "invalid_query",
		"/v1/referrals?status=lost":            "invalid_query",
		"/v1/referrals?limit=100000":           "invalid_query",
		"/v1/referrals?deadlineState=whenever": "invalid_query",
	} {
		r := do(t, "GET", ts.URL+q, "")
		if got, _ := r.errCode(t); got != code {
			t.Errorf("%s: %d %s, want %s", q, r.status, got, code)
		}
	}
	// Rebuild over HTTP: 202, then the status shows it done.
	rb := do(t, "POST", ts.URL+"/v1/views/capacity/rebuild", "")
	if rb.status != 202 {
		t.Fatalf("rebuild: %d %s", rb.status, rb.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(do(t, "GET", ts.URL+"/v1/views", "").body), `"lastRebuild"`) {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := do(t, "POST", ts.URL+"/v1/views/nothing/rebuild", ""); r.status != 404 {
		t.Fatalf("unknown view: %d", r.status)
	}
}
