package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/wiring"
)

type roles struct {
	stockport, hartlepool, northWest, auditor, operator string
	file                                                string
}

func newAuthServer(t *testing.T) (*httptest.Server, roles) {
	n := storetest.Start(t, storetest.Options{})
	quiet := slog.New(slog.DiscardHandler)
	reg, cal := refdata.Default(), calendar.Default()
	var rs roles
	var f auth.File
	for _, r := range []struct {
		role string
		to   *string
	}{{"authority:E08000007", &rs.stockport}, {"authority:E06000001", &rs.hartlepool}, {"region:north-west", &rs.northWest}, {"auditor", &rs.auditor}, {"operator", &rs.operator}} {
		tok, e := auth.NewToken(r.role+" holder", r.role)
		*r.to = tok
		f.Tokens = append(f.Tokens, e)
	}
	b, _ := json.Marshal(f)
	rs.file = filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(rs.file, b, 0o600)
	tokens, err := auth.Load(rs.file, reg)
	if err != nil {
		t.Fatal(err)
	}
	node := buildNode(t, n, wiring.Config{Log: quiet, Authorities: reg, Calendar: cal, Tokens: tokens, Version: "test"}, wiring.Views)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go tokens.Watch(ctx, 50*time.Millisecond, nil)
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	return ts, rs
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestAuthenticationAndRoles(t *testing.T) {
	ts, rs := newAuthServer(t)
	stockportBody := receiveBody
	hartlepoolBody := strings.Replace(receiveBody, "E08000007", "E06000001", 1)

	// 401: no token, a wrong token. Probes stay open.
	if r := do(t, "GET", ts.URL+"/v1/capacity", ""); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", r.status)
	}
	if r := do(t, "GET", ts.URL+"/v1/capacity", "", bearer("ntsf_not-a-token")...); r.status != 401 {
		t.Fatalf("unknown token: %d", r.status)
	}
	if r := do(t, "GET", ts.URL+"/healthz", ""); r.status != 200 {
		t.Fatalf("healthz needs no token: %d", r.status)
	}

	// Writes: each authority its own; the region allocates within it; the
	// auditor and operator write nothing.
	sp := do(t, "POST", ts.URL+"/v1/referrals", stockportBody, bearer(rs.stockport)...)
	if sp.status != 201 {
		t.Fatalf("Stockport receives its own: %d %s", sp.status, sp.body)
	}
	spID := sp.json(t)["referralId"].(string)
	hp := do(t, "POST", ts.URL+"/v1/referrals", hartlepoolBody, bearer(rs.hartlepool)...)
	hpID := hp.json(t)["referralId"].(string)
	for _, c := range []struct {
		name, tok, method, path, body string
		status                        int
	}{
		{"authority receives for another", rs.stockport, "POST", "/v1/referrals", hartlepoolBody, 403},
		{"region allocates within", rs.northWest, "POST", "/v1/referrals", strings.Replace(stockportBody, "HO-123", "HO-NW", 1), 201},
		{"region allocates outside", rs.northWest, "POST", "/v1/referrals", hartlepoolBody, 403},
		{"auditor writes", rs.auditor, "POST", "/v1/referrals", stockportBody, 403},
		{"operator writes", rs.operator, "POST", "/v1/referrals", stockportBody, 403},
		{"authority places another's referral", rs.stockport, "POST", "/v1/referrals/" + hpID + "/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`, 404},
		{"authority pledges for another", rs.stockport, "POST", "/v1/authorities/E06000001/pledge", `{"pledge":3}`, 403},
		{"authority pledges its own", rs.stockport, "POST", "/v1/authorities/E08000007/pledge", `{"pledge":3}`, 200},
		// Reads.
		{"authority reads its own referral", rs.stockport, "GET", "/v1/referrals/" + spID, "", 200},
		{"authority reads another's referral by id", rs.stockport, "GET", "/v1/referrals/" + hpID, "", 404},
		{"authority reads another's history", rs.stockport, "GET", "/v1/referrals/" + hpID + "/history", "", 404},
		{"region reads a referral in it", rs.northWest, "GET", "/v1/referrals/" + spID, "", 200},
		{"region reads a referral outside it", rs.northWest, "GET", "/v1/referrals/" + hpID, "", 404},
		{"auditor reads any referral", rs.auditor, "GET", "/v1/referrals/" + hpID + "/history", "", 200},
		{"operator reads a referral", rs.operator, "GET", "/v1/referrals/" + spID, "", 403},
		{"authority lists another's referrals", rs.stockport, "GET", "/v1/referrals?authority=E06000001", "", 403},
		{"region lists another region", rs.northWest, "GET", "/v1/referrals?region=north-east", "", 403},
		{"authority reads its own capacity", rs.stockport, "GET", "/v1/capacity/authorities/E08000007", "", 200},
		{"authority reads all capacity", rs.stockport, "GET", "/v1/capacity", "", 403},
		{"region reads its capacity", rs.northWest, "GET", "/v1/capacity/regions/north-west", "", 200},
		{"region reads another's capacity", rs.northWest, "GET", "/v1/capacity/regions/london", "", 403},
		{"auditor reads all capacity", rs.auditor, "GET", "/v1/capacity", "", 200},
		{"auditor exports", rs.auditor, "GET", "/v1/audit/export", "", 200},
		{"auditor verifies", rs.auditor, "GET", "/v1/audit/verify", "", 200},
		{"authority exports", rs.stockport, "GET", "/v1/audit/export", "", 403},
		{"authority reads metrics", rs.stockport, "GET", "/metrics", "", 403},
		{"operator reads metrics", rs.operator, "GET", "/metrics", "", 200},
		{"operator reads view status", rs.operator, "GET", "/v1/views", "", 200},
		{"operator verifies", rs.operator, "GET", "/v1/audit/verify", "", 200},
		{"operator reads parked messages", rs.operator, "GET", "/v1/parked", "", 200},
		{"authority reads parked messages", rs.stockport, "GET", "/v1/parked", "", 403},
		{"operator reads timeliness", rs.operator, "GET", "/v1/timeliness", "", 403},
		{"authority reads its own safeguarding", rs.stockport, "GET", "/v1/safeguarding", "", 200},
		{"authority reads another's safeguarding", rs.stockport, "GET", "/v1/safeguarding?authority=E06000001", "", 403},
		{"region reads its safeguarding", rs.northWest, "GET", "/v1/safeguarding?region=north-west", "", 200},
		{"region reads another's safeguarding", rs.northWest, "GET", "/v1/safeguarding?region=london", "", 403},
		{"auditor reads all safeguarding", rs.auditor, "GET", "/v1/safeguarding", "", 200},
		{"operator reads safeguarding", rs.operator, "GET", "/v1/safeguarding", "", 403},
		{"auditor rebuilds a view", rs.auditor, "POST", "/v1/views/capacity/rebuild", "", 403},
	} {
		r := do(t, c.method, ts.URL+c.path, c.body, bearer(c.tok)...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.body)
		}
		if c.status == 404 && strings.Contains(string(r.body), "E06000001") {
			t.Errorf("%s: a refused read leaks data: %s", c.name, r.body)
		}
	}
	// The list is narrowed to the caller's own.
	l := do(t, "GET", ts.URL+"/v1/referrals?readToken="+sp.json(t)["readToken"].(string), "", bearer(rs.stockport)...)
	if strings.Contains(string(l.body), hpID) || !strings.Contains(string(l.body), spID) {
		t.Fatalf("Stockport's list: %s", l.body)
	}

	// Reloadable: revoke Stockport by rewriting the file.
	var f auth.File
	b, _ := os.ReadFile(rs.file)
	json.Unmarshal(b, &f)
	f.Tokens = f.Tokens[1:]
	b, _ = json.Marshal(f)
	time.Sleep(20 * time.Millisecond) // a distinct modification time
	os.WriteFile(rs.file, b, 0o600)
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if do(t, "GET", ts.URL+"/v1/referrals/"+spID, "", bearer(rs.stockport)...).status == 401 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a revoked token still works after the file changed")
		}
	}
	if r := do(t, "GET", ts.URL+"/v1/referrals/"+hpID, "", bearer(rs.hartlepool)...); r.status != 200 {
		t.Fatalf("other tokens survive a reload: %d", r.status)
	}
	// The file holds hashes, never tokens.
	if strings.Contains(string(b), rs.hartlepool) {
		t.Fatal("the token file holds a token")
	}
}
