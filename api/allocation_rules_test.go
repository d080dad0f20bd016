package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
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
