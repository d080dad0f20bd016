package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/api"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

const receiveBody = `{"receivingAuthority":"E08000007","route":"hotel","hotel":"Hotel A","childReference":"HO-123","claimedAge":15,"receivedAt":"2025-06-02T10:00:00Z","languages":["Pashto"]}`

func newServer(t *testing.T) (*httptest.Server, *storetest.Node) {
	n := storetest.Start(t, storetest.Options{})
	node := buildNode(t, n, wiring.Config{NoViews: true, Now: func() time.Time { return time.Date(2025, 6, 5, 12, 0, 0, 0, time.UTC) }})
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	return ts, n
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON: %s", r.body)
	}
	return m
}

func (r resp) errCode(t *testing.T) (code, field string) {
	e, _ := r.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("no error object in %s", r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without a message: %s", r.body)
	}
	c, _ := e["code"].(string)
	f, _ := e["field"].(string)
	return c, f
}

func do(t *testing.T, method, url, body string, headers ...string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func create(t *testing.T, base string) string {
	t.Helper()
	r := do(t, "POST", base+"/v1/referrals", receiveBody)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.json(t)["referralId"].(string)
}

func TestWalkThrough(t *testing.T) {
	ts, _ := newServer(t)
	id := create(t, ts.URL)
	steps := []struct{ path, body string }{
		{"notifications", `{"professions":["commissioning","placements","fostering","health","education","mash","police"],"notifiedBy":"team leader"}`},
		{"placement-searches", `{"track":"in-house","offersFound":0}`},
		{"placement-searches", `{"track":"commissioned","offersFound":2,"placementTypes":["U4","H5"]}`},
		{"age-assessment-requests", `{"method":"merton-compliant","reason":"appearance"}`},
		{"age-assessments", `{"method":"merton-compliant","outcome":"child","assessedDateOfBirth":"2009-05-01"}`},
		{"placement", `{"placementType":"U4","provider":"Independent fostering agency","placedAt":"2025-06-05T09:30:00Z"}`},
		{"leaving-care", `{"leftAt":"2025-06-05T11:00:00Z","reason":"moved"}`},
	}
	for i, s := range steps {
		r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/"+s.path, s.body)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", s.path, r.status, r.body)
		}
		// The receipt is version 2: it records the referral and its deadline.
		if v := r.json(t)["version"].(float64); int(v) != i+3 {
			t.Fatalf("%s: version %v", s.path, v)
		}
	}
	g := do(t, "GET", ts.URL+"/v1/referrals/"+id, "")
	m := g.json(t)
	if g.status != 200 || m["status"] != "left-care" || m["placementType"] != "U4" || m["version"].(float64) != 9 || g.header.Get("ETag") != `"9"` {
		t.Fatalf("get: %d %s", g.status, g.body)
	}
	h := do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "")
	evs := h.json(t)["events"].([]any)
	if len(evs) != 9 || evs[0].(map[string]any)["type"] != "referral.received" || evs[1].(map[string]any)["type"] != "deadline.set" || evs[8].(map[string]any)["type"] != "child.left-care" {
		t.Fatalf("history: %s", h.body)
	}
}

func TestSameIdempotencyKeyGivesIdenticalResponses(t *testing.T) {
	ts, n := newServer(t)
	a := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, "Idempotency-Key", "intake-42")
	b := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, "Idempotency-Key", "intake-42")
	if a.status != 201 || b.status != 201 || !bytes.Equal(a.body, b.body) || b.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s\nsecond %d %s", a.status, a.body, b.status, b.body)
	}
	id := a.json(t)["referralId"].(string)
	place := `{"placementType":"U1","provider":"carer","placedAt":"2025-06-03T09:00:00Z"}`
	p1 := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/placement", place, "Idempotency-Key", "p")
	p2 := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/placement", place, "Idempotency-Key", "p")
	if p1.status != 200 || p2.status != 200 || !bytes.Equal(p1.body, p2.body) {
		t.Fatalf("placement replay: %d %s / %d %s", p1.status, p1.body, p2.status, p2.body)
	}
	if last, _ := n.Store.LastSequence(t.Context()); last != 2 {
		t.Fatalf("%d messages in the stream, want 2", last)
	}
	reused := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/placement", `{"placementType":"K2","provider":"home","placedAt":"2025-06-03T09:00:00Z"}`, "Idempotency-Key", "p")
	if code, _ := reused.errCode(t); reused.status != 422 || code != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", reused.status, reused.body)
	}
}

// Every class of bad input: its exact status and code, and nothing written.
func TestBadInput(t *testing.T) {
	ts, n := newServer(t)
	id := create(t, ts.URL)
	do(t, "POST", ts.URL+"/v1/referrals/"+id+"/withdrawal", `{"reason":"missing"}`)
	open := create(t, ts.URL)
	before, _ := n.Store.LastSequence(t.Context())
	url := ts.URL + "/v1/referrals/" + id
	cases := []struct {
		name, method, url, body string
		headers                 []string
		status                  int
		code, field             string
	}{
		{"malformed JSON", "POST", ts.URL + "/v1/referrals", `{"route":`, nil, 400, "malformed_json", ""},
		{"not JSON", "POST", ts.URL + "/v1/referrals", `hello`, nil, 400, "malformed_json", ""},
		{"empty body", "POST", ts.URL + "/v1/referrals", ` `, nil, 400, "malformed_json", ""},
		{"two values", "POST", ts.URL + "/v1/referrals", receiveBody + `{}`, nil, 400, "malformed_json", ""},
		{"unknown field", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"route"`, `"colour":"red","route"`, 1), nil, 400, "unknown_field", "colour"},
		{"wrong type", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `15`, `"fifteen"`, 1), nil, 400, "wrong_type", "claimedAge"},
		{"bad time", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `2025-06-02T10:00:00Z`, `yesterday`, 1), nil, 400, "wrong_type", "receivedAt"},
		// Issue 12, items 10, 11 and 13.
		{"duplicate key", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"route"`, `"receivingAuthority":"E06000001","route"`, 1), nil, 400, "duplicate_field", "receivingAuthority"},
		{"duplicate key in a nested object", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"route"`, `"x":{"a":1,"a":2},"route"`, 1), nil, 400, "unknown_field", "x"},
		{"field name in another case", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"receivingAuthority"`, `"RECEIVINGAUTHORITY"`, 1), nil, 400, "unknown_field", "RECEIVINGAUTHORITY"},
		{"field name in title case", "POST", url + "/withdrawal", `{"Reason":"missing"}`, nil, 400, "unknown_field", "Reason"},
		{"array body", "POST", ts.URL + "/v1/referrals", `[` + receiveBody + `]`, nil, 400, "not_an_object", ""},
		{"null body", "POST", url + "/withdrawal", `null`, nil, 400, "not_an_object", ""},
		{"a string body", "POST", url + "/withdrawal", `"missing"`, nil, 400, "not_an_object", ""},
		{"a bad time in a command", "POST", ts.URL + "/v1/referrals/" + id + "/placement", `{"placementType":"U1","provider":"p","placedAt":"3 June"}`, nil, 400, "wrong_type", "placedAt"},
		{"X-Actor too long", "POST", ts.URL + "/v1/referrals", receiveBody, []string{"X-Actor", strings.Repeat("a", api.MaxPersonLength+1)}, 400, "invalid_header", "X-Actor"},
		{"X-Actor with a tab", "POST", ts.URL + "/v1/referrals", receiveBody, []string{"X-Actor", "Director\tof Services"}, 400, "invalid_header", "X-Actor"},
		{"X-Correlation-Id too long", "POST", ts.URL + "/v1/referrals", receiveBody, []string{"X-Correlation-Id", strings.Repeat("c", 129)}, 400, "invalid_header", "X-Correlation-Id"},
		{"offersFound past every bound", "POST", ts.URL + "/v1/referrals/" + open + "/placement-searches", `{"track":"in-house","offersFound":9223372036854775807}`, nil, 422, "invalid_value", "offersFound"},
		{"64 characters and 1,000 spaces too many", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "HO-123", strings.Repeat("é", 65)+strings.Repeat(" ", 1000), 1), nil, 422, "invalid_value", "childReference"},
		{"a reference of a zero-width space", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "HO-123", `\u200b`, 1), nil, 422, "invalid_value", "childReference"},
		{"a hotel of NUL", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "Hotel A", `\u0000`, 1), nil, 422, "invalid_value", "hotel"},
		{"If-Match on an id never used", "POST", ts.URL + "/v1/referrals/never-used/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`, []string{"If-Match", `"1"`}, 404, "not_found", ""},
		{"wrong method", "DELETE", url, "", nil, 405, "method_not_allowed", ""},
		{"GET of a command", "GET", url + "/placement", "", nil, 405, "method_not_allowed", ""},
		{"invalid UTF-8", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "Hotel A", "Hotel \xff", 1), nil, 400, "invalid_utf8", ""},
		{"too deep", "POST", ts.URL + "/v1/referrals", strings.Repeat("[", 40) + strings.Repeat("]", 40), nil, 400, "too_deep", ""},
		{"oversized", "POST", ts.URL + "/v1/referrals", `{"hotel":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, nil, 413, "body_too_large", ""},
		{"wrong content type", "POST", ts.URL + "/v1/referrals", receiveBody, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", "Content-Type"},
		{"unknown authority", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "E08000007", "E06000999", 1), nil, 422, "unknown_authority", "receivingAuthority"},
		{"malformed authority", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "E08000007", "Stockport", 1), nil, 422, "invalid_value", "receivingAuthority"},
		{"far past", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "2025-06-02", "1901-06-02", 1), nil, 422, "invalid_value", "receivedAt"},
		{"far future", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, "2025-06-02", "2999-06-02", 1), nil, 422, "invalid_value", "receivedAt"},
		{"claimed age as text", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"claimedAge":15`, `"claimedAge":"15"`, 1), nil, 400, "wrong_type", "claimedAge"},
		{"list where a string goes", "POST", ts.URL + "/v1/referrals", strings.Replace(receiveBody, `"hotel":"Hotel A"`, `"hotel":["Hotel A"]`, 1), nil, 400, "wrong_type", "hotel"},
		{"bad idempotency key", "POST", ts.URL + "/v1/referrals", receiveBody, []string{"Idempotency-Key", "a b"}, 400, "invalid_header", "Idempotency-Key"},
		{"bad If-Match", "POST", url + "/notifications", `{"professions":["health"],"notifiedBy":"x"}`, []string{"If-Match", "banana"}, 400, "invalid_header", "If-Match"},
		{"unknown referral", "POST", ts.URL + "/v1/referrals/nope/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`, nil, 404, "not_found", ""},
		{"unknown referral GET", "GET", ts.URL + "/v1/referrals/nope", "", nil, 404, "not_found", ""},
		{"id that is not a subject token", "GET", ts.URL + "/v1/referrals/a.b", "", nil, 404, "not_found", ""},
		{"illegal transition", "POST", url + "/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`, nil, 409, "withdrawn", ""},
		{"placement before receipt", "POST", ts.URL + "/v1/referrals/" + open + "/placement", `{"placementType":"U1","provider":"p","placedAt":"2025-06-01T09:00:00Z"}`, nil, 422, "invalid_value", "placedAt"},
		{"placement far in the future", "POST", ts.URL + "/v1/referrals/" + open + "/placement", `{"placementType":"U1","provider":"p","placedAt":"2031-06-01T09:00:00Z"}`, nil, 422, "invalid_value", "placedAt"},
		{"unknown placement type", "POST", ts.URL + "/v1/referrals/" + open + "/placement", `{"placementType":"Q9","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`, nil, 422, "invalid_value", "placementType"},
		{"stale version", "POST", url + "/leaving-care", `{"leftAt":"2025-06-03T09:00:00Z","reason":"moved"}`, []string{"If-Match", `"1"`}, 409, "stale_version", "If-Match"},
		{"no such route", "GET", ts.URL + "/v2/referrals", "", nil, 404, "no_route", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, c.method, c.url, c.body, c.headers...)
			code, field := r.errCode(t)
			if r.status != c.status || code != c.code || field != c.field {
				t.Fatalf("got %d %s/%s, want %d %s/%s: %s", r.status, code, field, c.status, c.code, c.field, r.body)
			}
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Fatalf("a 405 without Allow")
			}
			if c.status == 409 {
				if v, ok := r.json(t)["error"].(map[string]any)["currentVersion"].(float64); !ok || v != 3 {
					t.Fatalf("a 409 carries the current version: %s", r.body)
				}
			}
		})
	}
	if after, _ := n.Store.LastSequence(t.Context()); after != before {
		t.Fatalf("bad input wrote %d messages", after-before)
	}
}

func TestProbes(t *testing.T) {
	ts, n := newServer(t)
	if r := do(t, "GET", ts.URL+"/healthz", ""); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := do(t, "GET", ts.URL+"/readyz", ""); r.status != 200 {
		t.Fatal(r.status)
	}
	n.Stop()
	if r := do(t, "GET", ts.URL+"/readyz", ""); r.status != 503 {
		t.Fatalf("readyz with the server gone: %d", r.status)
	}
	if r := do(t, "GET", ts.URL+"/healthz", ""); r.status != 200 {
		t.Fatalf("healthz is liveness, not readiness: %d", r.status)
	}
}

// Every route the server serves is in docs/openapi.yaml, and every
// documented operation is served.
func TestEveryRouteIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var path string
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	opRe := regexp.MustCompile(`^    (get|post|put|patch|delete):\s*$`)
	inPaths := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "paths:") {
			inPaths = true
			continue
		}
		if inPaths && len(line) > 0 && line[0] != ' ' {
			inPaths = false
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := opRe.FindStringSubmatch(line); m != nil {
			documented[strings.ToUpper(m[1])+" "+path] = true
		}
	}
	served := (&api.Server{}).Routes()
	for route := range served {
		if !documented[route] {
			t.Errorf("%s is served but not in docs/openapi.yaml", route)
		}
	}
	for route := range documented {
		if _, ok := served[route]; !ok {
			t.Errorf("%s is documented but not served", route)
		}
	}
}

// When JetStream refuses a write (the stream is full), the command fails
// with a clear 503, nothing is half-written, and reads go on.
func TestFullStoreAnswers503AndKeepsReading(t *testing.T) {
	n := storetest.Start(t, storetest.Options{Store: eventstore.Config{MaxBytes: 6000}})
	ts := httptest.NewServer(buildNode(t, n, wiring.Config{NoViews: true}).API.Handler())
	defer ts.Close()
	var first string
	var full resp
	for i := 0; i < 50; i++ {
		r := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", fmt.Sprint("HO-", i), 1))
		if r.status == 503 {
			full = r
			break
		}
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if first == "" {
			first = r.json(t)["referralId"].(string)
		}
	}
	if code, _ := full.errCode(t); full.status != 503 || code != "unavailable" || full.header.Get("Retry-After") == "" {
		t.Fatalf("a full store: %d %s", full.status, full.body)
	}
	// The request is the scene, not the subject: whether it fits depends on
	// the room the receipts left.
	do(t, "POST", ts.URL+"/v1/referrals/"+first+"/age-assessment-requests", `{"method":"naab"}`)
	before, _ := n.Store.LastSequence(t.Context())
	// An adult age assessment would write two events: it must write none.
	r := do(t, "POST", ts.URL+"/v1/referrals/"+first+"/age-assessments", `{"method":"naab","outcome":"adult"}`)
	if r.status != 503 && r.status != 409 {
		t.Fatalf("two-event command on a full store: %d %s", r.status, r.body)
	}
	if after, _ := n.Store.LastSequence(t.Context()); after != before {
		t.Fatalf("a refused write left %d messages", after-before)
	}
	if g := do(t, "GET", ts.URL+"/v1/referrals/"+first, ""); g.status != 200 {
		t.Fatalf("reads stop when the store is full: %d", g.status)
	}
	if g := do(t, "GET", ts.URL+"/v1/referrals/"+first+"/history", ""); g.status != 200 {
		t.Fatalf("history stops when the store is full: %d", g.status)
	}
}
