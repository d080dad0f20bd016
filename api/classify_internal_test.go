package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/eventstore"
)

// The API's answer to a timeout is the console's (see console's
// TestFormAnswersAsTheAPI): nothing was written, try again.
func TestTimeoutIsUnavailable(t *testing.T) {
	e := errorFor(fmt.Errorf("load referral r1: %w", context.DeadlineExceeded), noVersion)
	if e.status != http.StatusServiceUnavailable || e.Code != "unavailable" || !strings.Contains(e.Message, "nothing was written") {
		t.Errorf("a timeout answers %d %s %q; want 503 unavailable, nothing written", e.status, e.Code, e.Message)
	}
	c := errorFor(&eventstore.CorruptError{Sequence: 7, Err: errors.New("bad")}, noVersion)
	if c.status != http.StatusInternalServerError || c.Code != "corrupt_history" || !strings.Contains(c.Message, "sequence 7") {
		t.Errorf("a corrupt history answers %d %s %q; want 500 corrupt_history naming the sequence", c.status, c.Code, c.Message)
	}
}
