package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// A team leader sets up the rota, and each child received goes to the
// next available social worker; a worker who leaves has their children
// reallocated; only the authority sees and changes its team.
func TestSocialWorkerRota(t *testing.T) {
	ts, rs := newAuthServer(t)
	sp, hp, nw := bearer(rs.stockport), bearer(rs.hartlepool), bearer(rs.northWest)
	must := func(r resp, status int, what string) resp {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	base := ts.URL + "/v1/authorities/E08000007/team"
	must(do(t, "PUT", base+"/workers/sw1", `{"name":"Amina","caseloadCap":12,"otherCases":11}`, sp...), 200, "add sw1")
	must(do(t, "PUT", base+"/workers/sw2", `{"name":"Ben","caseloadCap":12,"otherCases":3}`, sp...), 200, "add sw2")
	must(do(t, "PUT", base+"/workers/sw3", `{"name":"Chen","caseloadCap":12}`, nw...), 403, "the region adds a worker")
	must(do(t, "GET", base, "", hp...), 403, "Hartlepool reads Stockport's team")
	must(do(t, "PUT", base+"/workers/sw3", `{"name":"Chen"}`, sp...), 422, "no cap")

	var ids []string
	for i := range 3 {
		body := strings.Replace(receiveBody, "HO-123", fmt.Sprintf("HO-SW-%d", i), 1)
		r := must(do(t, "POST", ts.URL+"/v1/referrals", body, sp...), 201, "receive")
		ids = append(ids, r.json(t)["referralId"].(string))
	}
	// sw1 (11 others, cap 12) takes one and is then full; sw2 takes the rest.
	var got []string
	for _, id := range ids {
		a := must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/social-worker", `{}`, sp...), 200, "allocate").json(t)
		if a["authority"] != "E08000007" || a["referralId"] != nil {
			t.Fatalf("a team command's result is the team's, named by its authority: %v", a)
		}
		got = append(got, a["events"].([]any)[0].(map[string]any)["type"].(string))
	}
	team := must(do(t, "GET", base, "", sp...), 200, "team").json(t)
	workers := team["workers"].([]any)
	w1, w2 := workers[0].(map[string]any), workers[1].(map[string]any)
	if w1["unaccompaniedChildren"] != 1.0 || w1["caseload"] != 12.0 || w2["unaccompaniedChildren"] != 2.0 || w2["caseload"] != 5.0 {
		t.Fatalf("caseloads: %v (events %v)", team, got)
	}
	must(do(t, "POST", ts.URL+"/v1/referrals/"+ids[0]+"/social-worker", `{}`, sp...), 409, "allocate twice")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+ids[0]+"/social-worker", `{}`, nw...), 403, "the region allocates a social worker")

	// sw1 leaves: their child is named for reallocation, and goes to sw2
	// by the rota with the reason.
	must(do(t, "POST", base+"/workers/sw1/leaving", `{}`, sp...), 200, "sw1 leaves")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+ids[0]+"/social-worker", `{"reason":"Amina left the team"}`, sp...), 200, "reallocate")
	team = must(do(t, "GET", base, "", bearer(rs.auditor)...), 200, "the auditor reads the team").json(t)
	if w := team["workers"].([]any)[1].(map[string]any); w["unaccompaniedChildren"] != 3.0 {
		t.Fatalf("after reallocation: %v", team)
	}
}

// Allocations racing for the team's rota never give a child twice nor one
// slot to two children past a cap: the team's subject serialises them.
func TestRacingWorkerAllocations(t *testing.T) {
	ts, _ := newServer(t)
	base := ts.URL + "/v1/authorities/E08000007/team/workers/"
	for i := range 3 {
		if r := do(t, "PUT", base+fmt.Sprint("sw", i), `{"name":"W","caseloadCap":2}`); r.status != 200 {
			t.Fatalf("worker: %d %s", r.status, r.body)
		}
	}
	const n = 6 // exactly the team's capacity
	ids := make([]string, n)
	for i := range ids {
		r := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", fmt.Sprint("HO-RACE-SW-", i), 1))
		ids[i] = r.json(t)["referralId"].(string)
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = do(t, "POST", ts.URL+"/v1/referrals/"+ids[i]+"/social-worker", `{}`).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("allocation %d: %d", i, s)
		}
	}
	team := do(t, "GET", ts.URL+"/v1/authorities/E08000007/team", "").json(t)
	for _, w := range team["workers"].([]any) {
		if c := w.(map[string]any)["unaccompaniedChildren"]; c != 2.0 {
			t.Fatalf("a worker has %v children: %v", c, team)
		}
	}
	// The team is full: the next is refused, naming each worker at cap.
	r := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", "HO-RACE-SW-X", 1))
	x := r.json(t)["referralId"].(string)
	if r := do(t, "POST", ts.URL+"/v1/referrals/"+x+"/social-worker", `{}`); r.status != 409 || !strings.Contains(string(r.body), "at-caseload-cap") {
		t.Fatalf("a full team: %d %s", r.status, r.body)
	}
}
