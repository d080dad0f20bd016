package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/eventstore"
)

// A form's answer to a corrupt history and to a timeout is the API's, in
// the same words (capitalised for a page).
func TestFormAnswersAsTheAPI(t *testing.T) {
	code, errs, _ := errorsFor(fmt.Errorf("load: %w", &eventstore.CorruptError{Sequence: 7, Err: errors.New("bad")}))
	if code != http.StatusInternalServerError || len(errs) != 1 || !strings.Contains(errs[0].Message, "stream sequence 7") || !strings.Contains(errs[0].Message, "void") {
		t.Errorf("a corrupt history shows %d %+v; want 500 naming the sequence and the operator's void", code, errs)
	}
	code, errs, _ = errorsFor(fmt.Errorf("load: %w", context.DeadlineExceeded))
	if code != http.StatusServiceUnavailable || len(errs) != 1 || !strings.Contains(errs[0].Message, "nothing was written") {
		t.Errorf("a timeout shows %d %+v; want 503, nothing written", code, errs)
	}
}
