package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/refdata"
)

func referBody(ref string) string { return referBodyAt(ref, time.Now().UTC().Add(-time.Hour)) }

func referBodyAt(ref string, at time.Time) string {
	return fmt.Sprintf(`{"region":"north-west","route":"hotel","hotel":"Interim hotel B","childReference":%q,"claimedAge":16,"receivedAt":%q}`,
		ref, at.Format(time.RFC3339))
}

// From referral into the scheme, through the rota and the contact's answer,
// to a placement, with each role doing only its part.
func TestAllocationWalkThrough(t *testing.T) {
	ts, rs := newAuthServer(t)
	nw := bearer(rs.northWest)
	sp := bearer(rs.stockport)
	hp := bearer(rs.hartlepool)
	members := refdata.Default().InRegion("North West")
	order := []string{"E08000007"}
	for _, c := range members {
		if c != "E08000007" {
			order = append(order, c)
		}
	}
	orderJSON, _ := json.Marshal(map[string]any{"order": order})
	must := func(r resp, status int, what string) resp {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	must(do(t, "PUT", ts.URL+"/v1/regions/north-west/rota", string(orderJSON), sp...), 403, "an authority sets the rota")
	must(do(t, "PUT", ts.URL+"/v1/regions/north-west/rota", string(orderJSON), nw...), 200, "the partnership sets its rota")
	must(do(t, "PUT", ts.URL+"/v1/authorities/E08000007/contact", `{"mailbox":"nts@stockport.gov.uk","name":"NTS contact"}`, nw...), 403, "the region sets an authority's contact")
	must(do(t, "PUT", ts.URL+"/v1/authorities/E08000007/contact", `{"mailbox":"nts@stockport.gov.uk","name":"NTS contact"}`, sp...), 200, "Stockport sets its contact")
	must(do(t, "POST", ts.URL+"/v1/authorities/E08000007/pledge", `{"pledge":4}`, nw...), 403, "the region sets a pledge")

	// Referred into the scheme by the partnership: awaiting allocation.
	id := must(do(t, "POST", ts.URL+"/v1/referrals", referBody("HO-NW-1"), nw...), 201, "refer").json(t)["referralId"].(string)
	if got := must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", nw...), 200, "region reads").json(t); got["status"] != "awaiting-allocation" {
		t.Fatalf("referred: %v", got)
	}
	must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", sp...), 404, "Stockport reads before allocation")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`, sp...), 404, "an authority allocates")

	// The rota's proposal is Stockport, first in the order.
	rota := must(do(t, "GET", ts.URL+"/v1/regions/north-west/rota", "", nw...), 200, "rota").json(t)
	if rota["next"] != "E08000007" || rota["proposal"].(map[string]any)["authority"] != "E08000007" || len(rota["order"].([]any)) != len(members) {
		t.Fatalf("rota: %v", rota)
	}
	must(do(t, "GET", ts.URL+"/v1/regions/north-west/rota", "", sp...), 403, "an authority reads the rota")

	a := must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`, nw...), 200, "allocate").json(t)
	if ev := a["events"].([]any); len(ev) != 1 || ev[0].(map[string]any)["type"] != "referral.allocated" || a["allocation"].(map[string]any)["authority"] != "E08000007" || a["allocation"].(map[string]any)["position"] != 1.0 || a["allocation"].(map[string]any)["respondBy"] == nil {
		t.Fatalf("allocation: %v", a)
	}
	must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", sp...), 200, "Stockport reads its allocation")
	must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", hp...), 404, "Hartlepool reads Stockport's allocation")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`, hp...), 404, "Hartlepool accepts")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`, nw...), 409, "allocate twice")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`, sp...), 200, "Stockport accepts")
	got := must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", sp...), 200, "read").json(t)
	if got["status"] != "open" || got["receivingAuthority"] != "E08000007" {
		t.Fatalf("accepted: %v", got)
	}
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/withdrawal", `{"reason":"error"}`, nw...), 403, "the region withdraws Stockport's referral")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/placement", fmt.Sprintf(`{"placementType":"U4","provider":"IFA","placedAt":%q}`, time.Now().UTC().Format(time.RFC3339)), sp...), 200, "Stockport places")

	// A second child: Stockport declines it, and the rota moves on.
	id2 := must(do(t, "POST", ts.URL+"/v1/referrals", referBody("HO-NW-2"), nw...), 201, "refer").json(t)["referralId"].(string)
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id2+"/allocation", `{"authority":"E08000007"}`, nw...), 422, "an override without a reason")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id2+"/allocation", `{"authority":"E08000007","reason":"a sibling is placed there"}`, nw...), 200, "override")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id2+"/allocation-exception", `{}`, sp...), 422, "an exception without a reason")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id2+"/allocation-exception", `{"reason":"no placement can meet these needs"}`, sp...), 200, "exception")
	must(do(t, "GET", ts.URL+"/v1/referrals/"+id2, "", sp...), 404, "Stockport no longer sees it")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id2+"/allocation", `{}`, nw...), 200, "allocate again")
	h := must(do(t, "GET", ts.URL+"/v1/referrals/"+id2+"/history", "", nw...), 200, "history").json(t)
	evs := h["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	data := last["data"].(map[string]any)
	skipped, _ := json.Marshal(data["skipped"])
	// The rota's next slot is the second authority (the override did not
	// move it), which is not Stockport, and nobody was skipped; had the
	// rota come round to Stockport it would say declined-this-child.
	if last["type"] != "referral.allocated" || data["authority"] == "E08000007" || data["authority"] != order[1] {
		t.Fatalf("re-allocation: %v (skipped %s)", data, skipped)
	}

	// Planning reads the same counts: Stockport received one (the child it
	// accepted), so it gets training places, and its forecast reads.
	// The views are eventually consistent: poll until the acceptance shows.
	want := `"authority":"E08000007","name":"Stockport","children":1,"places":10`
	for give := time.Now().Add(5 * time.Second); ; {
		tp := must(do(t, "GET", ts.URL+"/v1/planning/training-places?places=10&from=2020-01&to=2099-12", "", bearer(rs.auditor)...), 200, "training places")
		if strings.Contains(string(tp.body), want) {
			break
		}
		if time.Now().After(give) {
			t.Fatalf("training places: %s", tp.body)
		}
		time.Sleep(20 * time.Millisecond) // polling the view, not waiting for time to pass
	}
	must(do(t, "GET", ts.URL+"/v1/planning/forecast?authority=E08000007&casesPerSocialWorker=15", "", sp...), 200, "Stockport's forecast")
	must(do(t, "GET", ts.URL+"/v1/planning/forecast?authority=E06000001", "", sp...), 403, "another authority's forecast")
	csv := must(do(t, "GET", ts.URL+"/v1/planning/forecast?region=north-west&format=csv", "", nw...), 200, "the region's forecast as CSV")
	if !strings.HasPrefix(string(csv.body), "scope,month,kind,expected,low,high,capped_by_threshold\n") {
		t.Fatalf("csv: %.200s", csv.body)
	}
	places := must(do(t, "GET", ts.URL+"/v1/planning/training-places?places=10&from=2020-01&to=2099-12&format=csv", "", bearer(rs.auditor)...), 200, "training places as CSV")
	if !strings.Contains(string(places.body), "authority,name,children,places\nE08000007,Stockport,1,10\n") {
		t.Fatalf("training places csv: %.200s", places.body)
	}

	nat := must(do(t, "GET", ts.URL+"/v1/capacity/national", "", bearer(rs.auditor)...), 200, "national").json(t)
	regions := nat["result"].(map[string]any)["regions"].([]any)
	if len(regions) != 9 {
		t.Fatalf("national: %v", nat)
	}
	for _, r := range regions {
		r := r.(map[string]any)
		if r["childPopulation"].(float64) <= 0 || r["thresholdTotal"].(float64) <= 0 {
			t.Fatalf("national row: %v", r)
		}
	}
}

// Allocations racing for the same rota never give one slot twice: each is
// an atomic append to the region and the referral, checked by the server.
func TestRacingAllocations(t *testing.T) {
	ts, _ := newServer(t)
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		r := do(t, "POST", ts.URL+"/v1/referrals", referBodyAt(fmt.Sprintf("HO-RACE-%d", i), time.Date(2025, 6, 5, 9, 0, 0, 0, time.UTC)))
		if r.status != 201 {
			t.Fatalf("refer: %d %s", r.status, r.body)
		}
		ids[i] = r.json(t)["referralId"].(string)
	}
	var wg sync.WaitGroup
	got := make([]resp, n)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = do(t, "POST", ts.URL+"/v1/referrals/"+ids[i]+"/allocation", `{}`)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range got {
		if r.status != 200 {
			t.Fatalf("allocation %d: %d %s", i, r.status, r.body)
		}
		h := do(t, "GET", ts.URL+"/v1/referrals/"+ids[i]+"/history", "").json(t)
		evs := h["events"].([]any)
		a := evs[len(evs)-1].(map[string]any)["data"].(map[string]any)["authority"].(string)
		if seen[a] {
			t.Fatalf("%s was given two slots", a)
		}
		seen[a] = true
	}
	rota := do(t, "GET", ts.URL+"/v1/regions/north-west/rota", "").json(t)
	members := refdata.Default().InRegion("North West")
	if rota["next"] != members[n] || rota["version"].(float64) != n {
		t.Fatalf("after %d allocations the rota is at %v (version %v), want %s", n, rota["next"], rota["version"], members[n])
	}
}
