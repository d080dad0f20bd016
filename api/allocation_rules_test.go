package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/wiring"
)

// The partnership's allocation rules as an authority and a region rely on
// them (issue 21, section 2), over HTTP against a real embedded JetStream.

// referInto refers a child into the North West and returns its id.
func referInto(t *testing.T, base, ref string, tok []string) string {
	t.Helper()
	r := do(t, "POST", base+"/v1/referrals", referBody(ref), tok...)
	if r.status != 201 {
		t.Fatalf("refer %s: %d %s", ref, r.status, r.body)
	}
	return r.json(t)["referralId"].(string)
}

// allocateTo allocates a referral to an authority by the coordinator's
// choice and returns the response.
func allocateTo(t *testing.T, base, id, authority string, tok []string) resp {
	t.Helper()
	return do(t, "POST", base+"/v1/referrals/"+id+"/allocation", fmt.Sprintf(`{"authority":%q,"reason":"a sibling is placed there"}`, authority), tok...)
}

// A referral awaiting Stockport's answer is in Stockport's own list: its
// contact must find the child it is asked to take.
func TestAwaitingAnswerInAuthorityList(t *testing.T) {
	ts, rs := newAuthServer(t)
	nw, sp := bearer(rs.northWest), bearer(rs.stockport)
	id := referInto(t, ts.URL, "HO-LIST-1", nw)
	a := allocateTo(t, ts.URL, id, "E08000007", nw)
	if a.status != 200 {
		t.Fatalf("allocate: %d %s", a.status, a.body)
	}
	token := url.QueryEscape(a.json(t)["readToken"].(string))
	for _, q := range []string{"", "&status=awaiting-acceptance", "&authority=E08000007"} {
		list := do(t, "GET", ts.URL+"/v1/referrals?readToken="+token+q, "", sp...)
		if list.status != 200 || !strings.Contains(string(list.body), id) {
			t.Fatalf("Stockport's list%s does not show the referral awaiting its answer: %d %s", q, list.status, list.body)
		}
	}
	// Another authority of the region does not see it.
	other := do(t, "GET", ts.URL+"/v1/referrals?readToken="+token, "", bearer(rs.hartlepool)...)
	if other.status != 200 || strings.Contains(string(other.body), id) {
		t.Fatalf("Hartlepool sees a referral allocated to Stockport: %d %s", other.status, other.body)
	}
}

// accept answers an allocation with an acceptance.
func accept(t *testing.T, base, id string, tok ...string) resp {
	t.Helper()
	return do(t, "POST", base+"/v1/referrals/"+id+"/acceptance", `{}`, tok...)
}

func wantCode(t *testing.T, r resp, status int, code, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.body, status, code)
	}
	if code != "" {
		if got, _ := r.errCode(t); got != code {
			t.Fatalf("%s: code %s, want %s (%s)", what, got, code, r.body)
		}
	}
}

// An allocation awaiting the authority's answer holds one of its pledge
// places, and the acceptance keeps the pledge: with a pledge of one, an
// authority is not allocated a second child before it answers for the
// first, and does not accept two.
func TestPledgePlaces(t *testing.T) {
	ts := newViewServer(t)
	members := refdata.Default().InRegion("North West")
	const bolton, stockport = "E08000001", "E08000007"
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = referInto(t, ts.URL, fmt.Sprint("HO-PLEDGE-", i), nil)
	}

	// Two children allocated to Stockport before it pledged; then it
	// pledges one place: it may accept one of them, not both.
	wantCode(t, allocateTo(t, ts.URL, ids[0], stockport, nil), 200, "", "allocate the first to Stockport")
	wantCode(t, allocateTo(t, ts.URL, ids[1], stockport, nil), 200, "", "allocate the second to Stockport")
	wantCode(t, do(t, "POST", ts.URL+"/v1/authorities/"+stockport+"/pledge", `{"pledge":1}`), 200, "", "Stockport pledges 1")
	wantCode(t, accept(t, ts.URL, ids[0]), 200, "", "Stockport accepts the first")
	second := accept(t, ts.URL, ids[1])
	wantCode(t, second, 409, "pledge_used_up", "Stockport accepts a second child on a pledge of 1")
	if !strings.Contains(string(second.body), "raise an exception") {
		t.Errorf("the refusal does not say what to do: %s", second.body)
	}
	if got := do(t, "GET", ts.URL+"/v1/referrals/"+ids[1], "").json(t)["status"]; got != "awaiting-acceptance" {
		t.Errorf("after the refused acceptance the referral is %v, want still awaiting-acceptance", got)
	}
	// Its one place taken, Stockport cannot be chosen for a third.
	wantCode(t, allocateTo(t, ts.URL, ids[2], stockport, nil), 409, "pledge_used_up", "a coordinator chooses Stockport past its pledge")

	// Bolton pledges one; a child allocated to it and awaiting its answer
	// holds that place.
	wantCode(t, do(t, "POST", ts.URL+"/v1/authorities/"+bolton+"/pledge", `{"pledge":1}`), 200, "", "Bolton pledges 1")
	wantCode(t, allocateTo(t, ts.URL, ids[3], bolton, nil), 200, "", "allocate to Bolton")
	wantCode(t, allocateTo(t, ts.URL, ids[4], bolton, nil), 409, "pledge_used_up", "a second allocation to Bolton while the first awaits its answer")
	// The rota, starting at Bolton, passes it over while its place is held.
	order := append([]string{bolton}, slices.DeleteFunc(slices.Clone(members), func(c string) bool { return c == bolton })...)
	body, _ := json.Marshal(map[string]any{"order": order})
	wantCode(t, do(t, "PUT", ts.URL+"/v1/regions/north-west/rota", string(body)), 200, "", "set the rota")
	a := do(t, "POST", ts.URL+"/v1/referrals/"+ids[5]+"/allocation", `{}`)
	wantCode(t, a, 200, "", "allocate by the rota")
	alloc := a.json(t)["allocation"].(map[string]any)
	skipped, _ := alloc["skipped"].([]any)
	if alloc["authority"] == bolton || len(skipped) == 0 || skipped[0].(map[string]any)["authority"] != bolton || skipped[0].(map[string]any)["reason"] != "pledge-met" {
		t.Fatalf("the rota allocated %s, want Bolton passed over with its pledge met", a.body)
	}
	// Bolton declines: its place is free again, and the rota may offer it
	// the next child.
	wantCode(t, do(t, "POST", ts.URL+"/v1/referrals/"+ids[3]+"/allocation-exception", `{"reason":"no placement for these needs"}`), 200, "", "Bolton declines")
	wantCode(t, allocateTo(t, ts.URL, ids[4], bolton, nil), 200, "", "allocate to Bolton once its place is free")
}

// Acceptances racing for an authority's last pledge places, through
// three instances (each an engine and views of its own on one store, as
// three `ntsflow serve` on one cluster): exactly as many are accepted as
// there are places, whatever the interleaving. Within one instance the
// engine takes them in turn; across instances only the authority's
// subject, checked by the server, keeps them apart.
func TestRacingAcceptancesKeepThePledge(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	quiet := slog.New(slog.DiscardHandler)
	var bases []string
	for range 3 {
		node := buildNode(t, n, wiring.Config{Log: quiet}, wiring.Views)
		node.API.MaxWait = 2 * time.Second
		ts := httptest.NewServer(node.API.Handler())
		t.Cleanup(ts.Close)
		bases = append(bases, ts.URL)
	}
	const k, pledge = 6, 2
	// A round per authority (Stockport, Bolton, Bury): a pledge set after
	// its allocations, so that every one of them is there to accept.
	for round, authority := range []string{"E08000007", "E08000001", "E08000002"} {
		ids := make([]string, k)
		for i := range ids {
			ids[i] = referInto(t, bases[0], fmt.Sprint("HO-ACCEPT-", round, "-", i), nil)
			wantCode(t, allocateTo(t, bases[0], ids[i], authority, nil), 200, "", "allocate")
		}
		wantCode(t, do(t, "POST", bases[0]+"/v1/authorities/"+authority+"/pledge", fmt.Sprintf(`{"pledge":%d}`, pledge)), 200, "", "pledge")
		got := make([]resp, k)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() { got[i] = accept(t, bases[i%len(bases)], ids[i]) })
		}
		wg.Wait()
		accepted := 0
		for i, r := range got {
			switch r.status {
			case 200:
				accepted++
			case 409:
				wantCode(t, r, 409, "pledge_used_up", fmt.Sprint("acceptance ", i))
			default:
				t.Fatalf("acceptance %d: %d %s", i, r.status, r.body)
			}
		}
		if accepted != pledge {
			t.Fatalf("%s: %d of %d acceptances went through for %d places", authority, accepted, k, pledge)
		}
	}
}

// The threshold counts a child accepted (received) and not yet placed: the
// Isles of Scilly (339 children, a threshold of 0.339) with one child
// received and not yet placed is at its threshold, and the rota passes it
// over.
func TestThresholdCountsAcceptedNotYetPlaced(t *testing.T) {
	ts := newViewServer(t)
	const scilly = "E06000053"
	members := refdata.Default().InRegion("South West")
	order := append([]string{scilly}, slices.DeleteFunc(slices.Clone(members), func(c string) bool { return c == scilly })...)
	body, _ := json.Marshal(map[string]any{"order": order})
	wantCode(t, do(t, "PUT", ts.URL+"/v1/regions/south-west/rota", string(body)), 200, "", "set the rota")
	wantCode(t, do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "E08000007", scilly, 1)), 201, "", "Scilly receives a child")
	r := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(referBody("HO-SW-1"), "north-west", "south-west", 1))
	wantCode(t, r, 201, "", "refer into the South West")
	a := do(t, "POST", ts.URL+"/v1/referrals/"+r.json(t)["referralId"].(string)+"/allocation", `{}`)
	wantCode(t, a, 200, "", "allocate by the rota")
	alloc := a.json(t)["allocation"].(map[string]any)
	skipped, _ := alloc["skipped"].([]any)
	if alloc["authority"] == scilly || len(skipped) == 0 || skipped[0].(map[string]any)["reason"] != "at-threshold" {
		t.Fatalf("allocated %s, want the Isles of Scilly passed over at its threshold", a.body)
	}
}

// Fifty allocations by the rota at once in one region all succeed: each
// loses the race for the region's rota to the others many times, and the
// retries must outlast that. No timing is asserted; outcomes are counted.
func TestFiftyAllocationsAtOnceInOneRegion(t *testing.T) {
	ts := newViewServer(t)
	const n = 50
	ids := make([]string, n)
	for i := range ids {
		ids[i] = referInto(t, ts.URL, fmt.Sprint("HO-BURST-", i), nil)
	}
	got := make([]resp, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { got[i] = do(t, "POST", ts.URL+"/v1/referrals/"+ids[i]+"/allocation", `{}`) })
	}
	wg.Wait()
	failed := map[string]int{}
	positions := map[float64]int{}
	for _, r := range got {
		if r.status != 200 {
			code, _ := r.errCode(t)
			failed[fmt.Sprint(r.status, " ", code)]++
			continue
		}
		positions[r.json(t)["allocation"].(map[string]any)["position"].(float64)]++
	}
	if len(failed) > 0 {
		t.Fatalf("of %d allocations at once, these failed (status and code: count): %v", n, failed)
	}
	// The rota went round in order: 50 slots over its authorities, each
	// position taken as often as the turns give it.
	members := len(refdata.Default().InRegion("North West"))
	for pos, k := range positions {
		p := int(pos)
		if want := n / members; k != want && !(k == want+1 && p <= n%members) {
			t.Errorf("position %d was given %d times, want %d", p, k, want)
		}
	}
	if rota := do(t, "GET", ts.URL+"/v1/regions/north-west/rota", "").json(t); rota["version"].(float64) != n {
		t.Fatalf("after %d allocations the rota is at version %v", n, rota["version"])
	}
}

// When the retries run out, the refusal says what was busy (the region's
// rota, not the referral), that nothing was written, and when to try
// again. Exhaustion is forced: one attempt only (Engine.MaxAttempts), and
// another instance moves the rota on between every load and append (it
// writes whenever the engine asks the time, which it does after loading).
func TestContentionRefusalNamesTheRota(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	members := refdata.Default().InRegion("North West")
	other := buildNode(t, n, wiring.Config{NoViews: true}).Engine
	var armed atomic.Bool
	node := buildNode(t, n, wiring.Config{NoViews: true, Now: func() time.Time {
		if armed.Load() {
			pause := aggregates.PauseAuthority{Authority: members[0], Reason: "placement pressures", Until: time.Now().Add(24 * time.Hour), Members: members}
			if _, err := engine.Handle(context.Background(), other, aggregates.Regions, "north-west", aggregates.RegionCommand(pause), engine.Meta{}); err != nil {
				t.Errorf("the other instance's write: %v", err)
			}
		}
		return time.Now().UTC()
	}})
	node.Engine.MaxAttempts = 1
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	id := referInto(t, ts.URL, "HO-BUSY-1", nil)
	armed.Store(true)
	r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`)
	armed.Store(false)
	wantCode(t, r, 503, "contention", "allocation while the rota moves at every attempt")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("no Retry-After on %s", r.body)
	}
	msg := r.json(t)["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, "north-west region's rota") || strings.Contains(msg, "referral") || !strings.Contains(msg, "nothing was written") {
		t.Errorf("the message does not name the region's rota: %q", msg)
	}
	if got := do(t, "GET", ts.URL+"/v1/referrals/"+id, "").json(t)["status"]; got != "awaiting-allocation" {
		t.Errorf("after the refusal the referral is %v", got)
	}
	// With the rota left alone the same request goes through.
	wantCode(t, do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`), 200, "", "allocation once the rota is quiet")
}

// A pause can be ended early: the rota offers the authority children again
// at once, the history shows who ended it and why, and only the region's
// partnership may.
func TestEndPauseEarly(t *testing.T) {
	ts, rs := newAuthServer(t)
	nw := bearer(rs.northWest)
	members := refdata.Default().InRegion("North West")
	first := members[0]
	body := fmt.Sprintf(`{"authority":%q,"reason":"Placement pressures agreed at the board","until":%q}`, first, time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339))
	wantCode(t, do(t, "POST", ts.URL+"/v1/regions/north-west/pauses", body, nw...), 200, "", "pause the rota's first authority")
	end := ts.URL + "/v1/regions/north-west/pauses/" + first + "/end"
	wantCode(t, do(t, "POST", end, `{"reason":"placements found"}`, bearer(rs.stockport)...), 403, "forbidden", "an authority ends a pause")
	wantCode(t, do(t, "POST", end, `{}`, nw...), 422, "invalid_value", "ending a pause without a reason")
	e := do(t, "POST", end, `{"reason":"Placements found after all"}`, nw...)
	wantCode(t, e, 200, "", "the partnership ends the pause")
	if !strings.Contains(string(e.body), "region.pause-ended") {
		t.Fatalf("the answer does not show the event: %s", e.body)
	}
	wantCode(t, do(t, "POST", end, `{"reason":"again"}`, nw...), 409, "not_paused", "ending it twice")
	wantCode(t, do(t, "POST", ts.URL+"/v1/regions/north-west/pauses/"+members[1]+"/end", `{"reason":"x"}`, nw...), 409, "not_paused", "ending a pause never set")
	wantCode(t, do(t, "POST", ts.URL+"/v1/regions/north-west/pauses/E06000001/end", `{"reason":"x"}`, nw...), 422, "invalid_value", "an authority of another region")
	rota := do(t, "GET", ts.URL+"/v1/regions/north-west/rota", "", nw...).json(t)
	if p := rota["proposal"].(map[string]any); p["authority"] != first || p["skipped"] != nil {
		t.Fatalf("after the pause ended the rota proposes %v", p)
	}
	if row := rota["order"].([]any)[0].(map[string]any); row["pausedUntil"] != nil {
		t.Fatalf("the rota still shows the pause: %v", row)
	}
	id := referInto(t, ts.URL, "HO-UNPAUSED-1", nw)
	a := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/allocation", `{}`, nw...)
	wantCode(t, a, 200, "", "allocate by the rota")
	if got := a.json(t)["allocation"].(map[string]any)["authority"]; got != first {
		t.Fatalf("allocated to %v, want %s whose pause ended", got, first)
	}
}
