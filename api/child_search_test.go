package api_test

import (
	"strings"
	"testing"
)

// GET /v1/referrals?child= finds a child's referrals by all or part of the
// reference, for the authorities and regions who may see it; operators and
// auditors neither search by it nor see it in the rows.
func TestListReferralsByChildReference(t *testing.T) {
	ts, rs := newAuthServer(t)
	first := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, bearer(rs.stockport)...)
	second := do(t, "POST", ts.URL+"/v1/referrals", strings.Replace(receiveBody, "HO-123", "HO-777", 1), bearer(rs.stockport)...)
	if first.status != 201 || second.status != 201 {
		t.Fatalf("receive: %d %s / %d %s", first.status, first.body, second.status, second.body)
	}
	firstID, secondID := first.json(t)["referralId"].(string), second.json(t)["referralId"].(string)
	read := "&readToken=" + second.json(t)["readToken"].(string)

	l := do(t, "GET", ts.URL+"/v1/referrals?child=ho-77"+read, "", bearer(rs.stockport)...)
	if l.status != 200 || !strings.Contains(string(l.body), secondID) || strings.Contains(string(l.body), firstID) || !strings.Contains(string(l.body), `"childReference":"HO-777"`) {
		t.Fatalf("Stockport searches ho-77: %d %s", l.status, l.body)
	}
	if l := do(t, "GET", ts.URL+"/v1/referrals?child="+strings.Repeat("x", 65)+read, "", bearer(rs.stockport)...); l.status != 400 || !strings.Contains(string(l.body), "longer than 64") {
		t.Errorf("a reference longer than any: %d %s", l.status, l.body)
	}
	if l := do(t, "GET", ts.URL+"/v1/referrals?child=HO-777", "", bearer(rs.auditor)...); l.status != 403 {
		t.Errorf("the auditor searches by child: %d %s", l.status, l.body)
	}
	if l := do(t, "GET", ts.URL+"/v1/referrals", "", bearer(rs.auditor)...); l.status != 200 || strings.Contains(string(l.body), "childReference") {
		t.Errorf("the auditor's list: %d %s", l.status, l.body)
	}
}
