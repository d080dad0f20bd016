package contracttest

import (
	"net/http"
	"strconv"
	"testing"
)

// The 429 an address gets after too many unknown tokens is the one
// docs/openapi.yaml documents (status, Retry-After, body), and it comes
// even with a good token.
func TestTooManyUnknownTokensAsDocumented(t *testing.T) {
	_, v := contract(t)
	e := startEngine(t, "--tokens", "examples/tokens.json")
	get := func(token string) (*http.Request, *http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/v1/audit/verify", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, b := send(t, req)
		return req, res, b
	}
	const limit = 10 // as docs/openapi.yaml says
	for i := range limit {
		if _, res, b := get("ntsf_guess-" + strconv.Itoa(i)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unknown token %d: %d %s", i+1, res.StatusCode, b)
		}
	}
	req, res, b := get(auditor)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a good token after %d unknown ones: %d %s", limit, res.StatusCode, b)
	}
	if ok, errs := v.ValidateHttpResponse(req, res); !ok {
		t.Errorf("429 does not match docs/openapi.yaml:\n%s\n  body: %s", describe(errs), b)
	}
}
