package api_test

import (
	"testing"
)

// Issue 21: an ordinary client retry of an acceptance (a new idempotency
// key) recorded a second acceptance with no authority and a receipt with
// no referral id, authority, route or child reference; the authority then
// got 404 for its own child. It must be a 409 that changes nothing.
func TestASecondAcceptanceChangesNothing(t *testing.T) {
	ts, rs := newAuthServer(t)
	nw, sp := bearer(rs.northWest), bearer(rs.stockport)
	must := func(r resp, status int, what string) resp {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s", what, r.status, r.body)
		}
		return r
	}
	id := must(do(t, "POST", ts.URL+"/v1/referrals", referBody("S1"), append(nw, "Idempotency-Key", "s1")...), 201, "refer").json(t)["referralId"].(string)
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{"authority":"E08000007","reason":"sibling"}`, nw...), 200, "allocate")
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`, append(sp, "Idempotency-Key", "a1")...), 200, "accept")
	before := must(do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "", sp...), 200, "history before")

	again := must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`, append(sp, "Idempotency-Key", "a2")...), 409, "accept again")
	if code, _ := again.errCode(t); code != "not_awaiting_acceptance" {
		t.Fatalf("accept again: code %q: %s", code, again.body)
	}
	exc := must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation-exception", `{"reason":"changed our mind"}`, sp...), 409, "an exception once accepted")
	if code, _ := exc.errCode(t); code != "not_awaiting_acceptance" {
		t.Fatalf("exception: code %q: %s", code, exc.body)
	}
	// The idempotent retry with the first key still answers as the first.
	must(do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`, append(sp, "Idempotency-Key", "a1")...), 200, "retry the first acceptance")

	got := must(do(t, "GET", ts.URL+"/v1/referrals/"+id, "", sp...), 200, "Stockport reads its child").json(t)
	if got["status"] != "open" || got["receivingAuthority"] != "E08000007" || got["referralId"] != id || got["route"] != "hotel" {
		t.Fatalf("after the refused acceptance: %v", got)
	}
	after := must(do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "", sp...), 200, "history after")
	if string(after.body) != string(before.body) {
		t.Fatalf("the history changed:\nbefore %s\nafter  %s", before.body, after.body)
	}
}

// Without roles in force, accepting a referral that was received directly
// (never allocated) recorded the same empty receipt.
func TestAcceptingADirectReceiptIsRefused(t *testing.T) {
	ts, _ := newServer(t)
	id := create(t, ts.URL)
	r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/acceptance", `{}`)
	if r.status != 409 {
		t.Fatalf("accept a direct receipt: %d %s", r.status, r.body)
	}
	r = do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation-exception", `{"reason":"no placement"}`)
	if r.status != 409 {
		t.Fatalf("an exception to a direct receipt: %d %s", r.status, r.body)
	}
	got := do(t, "GET", ts.URL+"/v1/referrals/"+id, "").json(t)
	// Version 2: the receipt records the referral and its deadline.
	if got["receivingAuthority"] != "E08000007" || got["version"].(float64) != 2 {
		t.Fatalf("after the refused answers: %v", got)
	}
}
