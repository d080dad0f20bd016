package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// Issue 12, item 3: with tokens on, the actor recorded is the token's name;
// X-Actor only adds a person within it.
func TestActorIsTheTokens(t *testing.T) {
	ts, rs := newAuthServer(t)
	plain := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, bearer(rs.stockport)...)
	claimed := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", "HO-124", 1),
		append(bearer(rs.stockport), "X-Actor", "Director of Children's Services, Manchester")...)
	if plain.status != 201 || claimed.status != 201 {
		t.Fatalf("create: %d %s / %d %s", plain.status, plain.body, claimed.status, claimed.body)
	}
	// The identity is the token's; the person the caller names is kept
	// apart from it, in its own field, never in place of it.
	for _, c := range []struct {
		res          resp
		want, person any
	}{
		{plain, "authority:E08000007 holder", nil},
		{claimed, "authority:E08000007 holder", "Director of Children's Services, Manchester"},
	} {
		id := c.res.json(t)["referralId"].(string)
		h := do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "", bearer(rs.auditor)...)
		ev := h.json(t)["events"].([]any)[0].(map[string]any)
		if ev["actor"] != c.want || ev["person"] != c.person {
			t.Errorf("actor %q person %q, want %q and %q", ev["actor"], ev["person"], c.want, c.person)
		}
	}
}

// Issue 12, item 4: another authority's referral and an id never used get
// the same answer, with If-Match or without; authorities get opaque read
// tokens, never stream sequences.
func TestNoLeakAcrossAuthorities(t *testing.T) {
	ts, rs := newAuthServer(t)
	hp := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "E08000007", "E06000001", 1), bearer(rs.hartlepool)...)
	hpID := hp.json(t)["referralId"].(string)
	place := `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`
	for _, h := range [][]string{nil, {"If-Match", `"1"`}, {"If-Match", `"0"`}} {
		other := do(t, "POST", ts.URL+"/v1/referrals/"+hpID+"/placement", place, append(bearer(rs.stockport), h...)...)
		never := do(t, "POST", ts.URL+"/v1/referrals/0191a8c4-0000-7000-8000-000000000000/placement", place, append(bearer(rs.stockport), h...)...)
		if other.status != 404 || other.status != never.status || string(other.body) != string(never.body) {
			t.Errorf("with %v: another's %d %s; never used %d %s", h, other.status, other.body, never.status, never.body)
		}
	}

	sp := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, bearer(rs.stockport)...)
	res := sp.json(t)
	tok, _ := res["readToken"].(string)
	if _, has := res["sequence"]; has || !strings.HasPrefix(tok, "rt1.") {
		t.Fatalf("an authority's command result: %s", sp.body)
	}
	id := res["referralId"].(string)
	for _, path := range []string{"/v1/referrals/" + id, "/v1/referrals/" + id + "/history", "/v1/capacity/authorities/E08000007", "/v1/referrals?readToken=" + tok} {
		r := do(t, "GET", ts.URL+path, "", bearer(rs.stockport)...)
		if r.status != 200 || strings.Contains(string(r.body), `"sequence"`) {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
		if path == "/v1/referrals?readToken="+tok && !strings.Contains(string(r.body), id) {
			t.Errorf("reading with the read token does not show the write: %s", r.body)
		}
	}
	for q, code := range map[string]string{"minSequence=1": "invalid_query", "readToken=rt1.AAAA": "invalid_query", "readToken=" + tok[:len(tok)-2] + "xx": "invalid_query"} {
		r := do(t, "GET", ts.URL+"/v1/referrals?"+q, "", bearer(rs.stockport)...)
		if c, _ := r.errCode(t); r.status != 400 || c != code {
			t.Errorf("?%s: %d %s", q, r.status, r.body)
		}
	}
	if r := do(t, "GET", ts.URL+"/v1/referrals/"+id, "", bearer(rs.auditor)...); r.json(t)["sequence"] == nil {
		t.Errorf("the auditor sees no sequence: %s", r.body)
	}
	if r := do(t, "GET", ts.URL+"/v1/referrals/"+id, "", bearer(rs.northWest)...); r.json(t)["sequence"] != nil {
		t.Errorf("a region sees the sequence: %s", r.body)
	}
}

// Issue 12, item 13: the bearer scheme's name is case-insensitive.
func TestBearerSchemeAnyCase(t *testing.T) {
	ts, rs := newAuthServer(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		if r := do(t, "GET", ts.URL+"/v1/capacity", "", "Authorization", scheme+" "+rs.auditor); r.status != 200 {
			t.Errorf("%s: %d", scheme, r.status)
		}
	}
	if r := do(t, "GET", ts.URL+"/v1/capacity", "", "Authorization", "Basic "+rs.auditor); r.status != 401 {
		t.Errorf("Basic: %d", r.status)
	}
}

// Issue 12, item 12: a body that does not arrive in time is cut off, the
// slow ones and the ones announcing more than they send.
func TestSlowBodyIsCut(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	node := buildNode(t, n, wiring.Config{NoViews: true})
	node.API.BodyTimeout = 300 * time.Millisecond
	ts := httptest.NewServer(node.API.Handler())
	defer ts.Close()
	for _, c := range []struct {
		name   string
		length string
		drip   bool
		status string
	}{
		{"announces 10^15 bytes and sends 2", "1000000000000000", false, "413"},
		{"announces 60,000 bytes and sends 2", "60000", false, "408"},
		{"sends a byte every 50 ms", "4000", true, "408"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/referrals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n{\"", c.length)
			start := time.Now()
			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(conn).ReadString('\n')
				got <- line
			}()
			drip := time.NewTicker(50 * time.Millisecond)
			defer drip.Stop()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case line := <-got:
					if !strings.Contains(line, " "+c.status+" ") {
						t.Fatalf("answer %q after %v", line, time.Since(start))
					}
					if took := time.Since(start); took > 5*time.Second {
						t.Fatalf("cut after %v", took)
					}
					return
				case <-drip.C:
					if c.drip {
						conn.Write([]byte("a"))
					}
				case <-deadline:
					t.Fatal("the slow body is still being read after 10 s")
				}
			}
		})
	}
}

var _ = http.StatusOK
