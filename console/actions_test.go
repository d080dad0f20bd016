package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A referral awaiting allocation is offered only what the rules accept
// then: allocating it and withdrawing it. Notifying, searching, asking for
// an age assessment and placing wait for an authority to accept it (the
// page used to offer them, and the decider then refused each).
func TestAwaitingAllocationIsOfferedOnlyWhatTheRulesAccept(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	referred := r.refer("offers-1")
	received := r.receive("offers-2", "E08000007", "entry-authority", time.Now().Add(-time.Hour))
	offered := func(id string) string {
		t.Helper()
		code, body := get(t, r.base+"/console/referrals/"+id)
		if code != http.StatusOK {
			t.Fatalf("GET referral %s: %d\n%s", id, code, body)
		}
		return body
	}
	page := offered(referred)
	for _, refused := range []string{"notify", "search", "age-request", "age", "place", "accept", "exception", "left-care"} {
		if strings.Contains(page, `id="action-`+refused+`"`) {
			t.Errorf("a referral awaiting allocation is offered %q, which the decider refuses", refused)
		}
	}
	for _, accepted := range []string{"allocate", "withdraw"} {
		if !strings.Contains(page, `id="action-`+accepted+`"`) {
			t.Errorf("a referral awaiting allocation is not offered %q", accepted)
		}
	}
	// The same page for a referral received directly offers the work on it.
	page = offered(received)
	for _, accepted := range []string{"notify", "search", "age-request", "place", "withdraw"} {
		if !strings.Contains(page, `id="action-`+accepted+`"`) {
			t.Errorf("a received referral is not offered %q", accepted)
		}
	}
}
