package api_test

import (
	"strings"
	"testing"
)

// With tokens on, a command's latency must still reach /metrics under its
// route: the dashboard's latency panel reads nothing else.
func TestCommandLatencyExportedWithTokens(t *testing.T) {
	ts, rs := newAuthServer(t)
	if r := do(t, "POST", ts.URL+"/v1/referrals", receiveBody, bearer(rs.stockport)...); r.status != 201 {
		t.Fatalf("receive: %d %s", r.status, r.body)
	}
	r := do(t, "GET", ts.URL+"/metrics", "", bearer(rs.operator)...)
	if r.status != 200 {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	want := `ntsflow_command_duration_seconds_count{command="receive",outcome="ok"} 1`
	if !strings.Contains(string(r.body), want) {
		var got []string
		for _, l := range strings.Split(string(r.body), "\n") {
			if strings.HasPrefix(l, "ntsflow_command_duration") {
				got = append(got, l)
			}
		}
		t.Fatalf("/metrics lacks %s; its command latency lines:\n%s", want, strings.Join(got, "\n"))
	}
}
