package contracttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The demo tokens whose hashes examples/tokens.json holds.
const (
	stockport = "demo-stockport" // authority:E08000007
	northWest = "demo-north-west"
	auditor   = "demo-auditor"
	operator  = "demo-operator"
	dpo       = "demo-data-protection"
)

// referInto refers a child into the scheme for the North West (the
// receiveReferral operation with a region instead of an authority).
var referInto = fmt.Sprintf(`{"region":"north-west","route":"hotel","hotel":"Interim hotel A","childReference":"HO-2025-0102","claimedAge":16,"receivedAt":%q}`, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))

// operation is one documented operation of docs/openapi.yaml.
type operation struct {
	method, path string
	op           *v3.Operation
}

// contract loads docs/openapi.yaml: its operations by id, and a validator.
func contract(t *testing.T) (map[string]operation, validator.Validator) {
	t.Helper()
	spec, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	ops := map[string]operation{}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.OperationId == "" {
				t.Errorf("%s %s has no operationId", method, path)
				continue
			}
			ops[op.OperationId] = operation{method: strings.ToUpper(method), path: path, op: op}
		}
	}
	// JSON Lines: each line is a JSON value; the contract's schema is that
	// of the lines as an array.
	ndjson := content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
		var lines []any
		dec := json.NewDecoder(in.Body)
		for dec.More() {
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			lines = append(lines, v)
		}
		return lines, nil
	})
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithBodyDecoder("application/x-ndjson", ndjson))
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return ops, v
}

// exampleValue decodes an example (a YAML node) into the value a client sends as JSON.
func exampleValue(t *testing.T, n interface{ Decode(any) error }) any {
	t.Helper()
	var v any
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// exampleRequest builds the request an operation's documented examples
// make: path parameters from their examples (ids from the run), query
// parameters that have an example, and the body's example.
func exampleRequest(t *testing.T, base string, o operation, ids map[string]string, token string) *http.Request {
	t.Helper()
	path := o.path
	q := url.Values{}
	for _, p := range o.op.Parameters {
		var val string
		switch {
		case p.In == "path" && ids[p.Name] != "":
			val = ids[p.Name]
		case p.Example != nil && (p.In == "path" || p.In == "query"):
			val = fmt.Sprint(exampleValue(t, p.Example))
		case p.In == "path":
			t.Fatalf("%s: path parameter %s has no example and no value from the run", o.op.OperationId, p.Name)
		}
		switch {
		case val == "":
		case p.In == "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(val))
		case p.In == "query":
			q.Set(p.Name, val)
		}
	}
	var body io.Reader
	if o.op.RequestBody != nil {
		mt, ok := o.op.RequestBody.Content.Get("application/json")
		if !ok || mt.Example == nil {
			t.Fatalf("%s: the request body has no application/json example", o.op.OperationId)
		}
		b, err := json.Marshal(exampleValue(t, mt.Example))
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(o.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// send sends a request and returns the response with its body read (and
// put back, for the validator) and the request's body put back too.
func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b := readAll(t, res.Body)
	res.Body = io.NopCloser(bytes.NewReader(b))
	if reqBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	return res, b
}

func describe(errs []*verrors.ValidationError) string {
	var out []string
	for _, e := range errs {
		s := e.Message
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		for _, se := range e.SchemaValidationErrors {
			s += fmt.Sprintf("\n      at %s: %s", se.FieldPath, se.Reason)
		}
		out = append(out, "  - "+s)
	}
	return strings.Join(out, "\n")
}

// TestEveryOperationsExampleMatchesTheContract sends every documented
// operation's example request to a real engine (authentication on, with the
// demo tokens) and validates the request and the response (status, headers,
// body) against docs/openapi.yaml with libopenapi-validator. Then it sends
// requests that must be refused and validates each refusal.
func TestEveryOperationsExampleMatchesTheContract(t *testing.T) {
	ops, v := contract(t)
	e := startEngine(t, "--tokens", "examples/tokens.json", "--deadline-policy", "examples/demo-policy.json")

	// The order matters only where a step needs an earlier one's referral:
	// referral A is taken from received to left care, B is withdrawn.
	type step struct {
		op, token, referral string
		body                string // instead of the operation's example
	}
	plan := []step{
		{"healthz", "", "", ""},
		{"readyz", "", "", ""},
		{"receiveReferral", stockport, "A", ""},
		{"receiveReferral", northWest, "B", ""},
		{"getReferral", stockport, "A", ""},
		{"correctChildDetail", stockport, "A", ""},
		{"exportSubjectAccess", dpo, "A", ""},
		{"listReadsOfReferral", dpo, "A", ""},
		{"listReadsByReader", dpo, "", ""},
		{"notifyProfessionals", stockport, "A", ""},
		{"recordPlacementSearch", stockport, "A", ""},
		{"requestAgeAssessment", stockport, "A", ""},
		{"recordAgeAssessment", stockport, "A", ""},
		{"setDateOfBirth", stockport, "A", ""},
		{"place", stockport, "A", ""},
		{"reportMissing", stockport, "A", ""},
		{"recordStrategyDiscussion", stockport, "A", ""},
		{"recordMissingReturn", stockport, "A", ""},
		{"recordReturnInterview", stockport, "A", ""},
		{"recordLeaveToRemain", stockport, "A", ""},
		{"recordLeftCare", stockport, "A", ""},
		{"withdraw", stockport, "B", ""},
		{"getReferralHistory", auditor, "A", ""},
		{"placeLegalHold", dpo, "B", ""},
		{"getChildRecord", dpo, "B", ""},
		{"releaseLegalHold", dpo, "B", `{"reason":"The inquiry has closed"}`},
		{"listRecords", dpo, "", ""},
		{"setPledge", stockport, "", ""},
		// The allocation: C referred into the scheme, allocated by the rota
		// (Stockport first in the order set) and accepted; D chosen for
		// Stockport by the coordinator, and declined.
		{"setRota", northWest, "", ""},
		{"pauseAuthority", northWest, "", ""},
		{"endPause", northWest, "", ""},
		{"setContact", stockport, "", ""},
		{"getAuthority", northWest, "", ""},
		{"receiveReferral", northWest, "C", referInto},
		{"getRota", northWest, "", ""},
		{"allocate", northWest, "C", ""},
		{"acceptAllocation", stockport, "C", ""},
		{"setWorker", stockport, "", ""},
		{"markWorkerAway", stockport, "", `{"until":"2030-01-31T17:00:00Z","reason":"Annual leave"}`},
		{"allocateWorker", stockport, "C", `{"staffId":"sw-amina","reason":"Speaks Pashto, the child's language"}`},
		{"getTeam", auditor, "", ""},
		{"recordWorkerLeft", stockport, "", ""},
		{"receiveReferral", northWest, "D", referInto},
		{"allocate", northWest, "D", `{"authority":"E08000007","reason":"Her brother is placed in Stockport."}`},
		{"raiseAllocationException", stockport, "D", ""},
		{"nationalEquity", auditor, "", ""},
		{"forecast", stockport, "", ""},
		{"trainingPlaces", auditor, "", ""},
		{"listReferrals", auditor, "", ""},
		{"capacity", auditor, "", ""},
		{"capacityOfRegion", northWest, "", ""},
		{"capacityOfAuthority", stockport, "", ""},
		{"timeliness", northWest, "", ""},
		{"safeguarding", stockport, "", ""},
		{"children", stockport, "", ""},
		{"viewStatuses", operator, "", ""},
		{"rebuildView", operator, "", ""},
		{"listParked", operator, "", ""},
		{"replayParked", operator, "", ""},
		{"verifyLog", auditor, "", ""},
		{"exportLog", auditor, "", ""},
		{"metrics", operator, "", ""},
	}
	// A fresh log holds no message to void: voidMessage's refusals below
	// are checked against the contract instead.
	planned := []string{"voidMessage"}
	for _, s := range plan {
		planned = append(planned, s.op)
	}
	var documented []string
	for id := range ops {
		documented = append(documented, id)
		if !slices.Contains(planned, id) {
			t.Errorf("operation %s is documented but this test sends no request to it: add a step", id)
		}
	}
	sort.Strings(documented)

	refs := map[string]string{} // A, B -> referral id
	for i, s := range plan {
		o, ok := ops[s.op]
		if !ok {
			t.Errorf("step %d: operation %s is not in docs/openapi.yaml", i, s.op)
			continue
		}
		ids := map[string]string{}
		if s.referral != "" {
			ids["id"] = refs[s.referral]
		}
		req := exampleRequest(t, e.URL, o, ids, s.token)
		if s.body != "" {
			req.Body = io.NopCloser(strings.NewReader(s.body))
			req.ContentLength = int64(len(s.body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s.body)), nil }
		}
		res, body := send(t, req)
		name := fmt.Sprintf("%s (%s %s)", s.op, req.Method, req.URL.RequestURI())
		if res.StatusCode/100 != 2 {
			t.Errorf("%s: status %d, want 2xx: %s", name, res.StatusCode, body)
			continue
		}
		if ok, errs := v.ValidateHttpRequestResponse(req, res); !ok {
			t.Errorf("%s: %d does not match docs/openapi.yaml:\n%s\n  body: %.400s", name, res.StatusCode, describe(errs), body)
		}
		if s.op == "receiveReferral" {
			var r struct{ ReferralID string }
			json.Unmarshal(body, &r)
			refs[s.referral] = r.ReferralID
		}
	}
	t.Logf("sent the example request of every documented operation (%d): %s", len(documented), strings.Join(documented, ", "))

	// Refusals: each must be one the operation documents, shaped as documented.
	a := refs["A"]
	refusals := []struct {
		name, method, path, token, contentType, body string
		want                                         int
		header                                       string // a header the refusal must carry
	}{
		{"no token", "GET", "/v1/referrals/" + a, "", "", "", 401, "WWW-Authenticate"},
		{"unknown token", "GET", "/v1/referrals/" + a, "not-a-token", "", "", 401, "WWW-Authenticate"},
		{"operator writes", "POST", "/v1/referrals/" + a + "/withdrawal", operator, "application/json", `{"reason":"error"}`, 403, ""},
		{"region reads metrics", "GET", "/metrics", northWest, "", "", 403, ""},
		{"unknown referral", "GET", "/v1/referrals/no-such-referral", stockport, "", "", 404, ""},
		{"placed twice", "POST", "/v1/referrals/" + a + "/placement", stockport, "application/json", `{"placementType":"U4","provider":"P","placedAt":"2025-06-05T15:00:00Z"}`, 409, ""},
		{"malformed JSON", "POST", "/v1/referrals/" + a + "/notifications", stockport, "application/json", `{"professions":`, 400, ""},
		{"unknown field", "POST", "/v1/referrals/" + a + "/notifications", stockport, "application/json", `{"professions":["police"],"notifiedBy":"x","colour":"red"}`, 400, ""},
		{"not JSON", "POST", "/v1/referrals/" + a + "/notifications", stockport, "text/plain", "police", 415, ""},
		{"too large", "POST", "/v1/referrals", stockport, "application/json", `{"hotel":"` + strings.Repeat("h", 70<<10) + `"}`, 413, ""},
		{"value the scheme refuses", "POST", "/v1/referrals", stockport, "application/json", `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2015-01-01T00:00:00Z"}`, 422, ""},
		{"bad query", "GET", "/v1/referrals?limit=0", auditor, "", "", 400, ""},
		{"unknown view", "POST", "/v1/views/nothing/rebuild", operator, "", "", 404, ""},
		{"void a readable commit", "POST", "/v1/voids", operator, "application/json", `{"subject":"nts.events.referral.` + a + `","sequence":1,"reason":"mistaken publish"}`, 409, ""},
		{"void with no reason", "POST", "/v1/voids", operator, "application/json", `{"subject":"nts.events.referral.` + a + `","sequence":1}`, 422, ""},
		{"void a sequence not in the log", "POST", "/v1/voids", operator, "application/json", `{"subject":"nts.events.referral.` + a + `","sequence":99999999,"reason":"mistaken publish"}`, 404, ""},
		{"void by an auditor", "POST", "/v1/voids", auditor, "application/json", `{"subject":"nts.events.referral.` + a + `","sequence":1,"reason":"r"}`, 403, ""},
	}
	for _, r := range refusals {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, _ := http.NewRequest(r.method, e.URL+r.path, body)
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		res, b := send(t, req)
		if res.StatusCode != r.want {
			t.Errorf("%s: %s %s: status %d, want %d: %s", r.name, r.method, r.path, res.StatusCode, r.want, b)
			continue
		}
		if r.header != "" && res.Header.Get(r.header) == "" {
			t.Errorf("%s: no %s header", r.name, r.header)
		}
		// The request is wrong on purpose: validate the response only.
		if ok, errs := v.ValidateHttpResponse(req, res); !ok {
			t.Errorf("%s: %d does not match docs/openapi.yaml:\n%s\n  body: %s", r.name, res.StatusCode, describe(errs), b)
		}
	}
}
