package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/app"
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

// Every action package app can offer has a form here, and every form is
// one package app knows how to offer: a name spelt differently would never
// be offered.
func TestEveryActionHasAForm(t *testing.T) {
	var names []string
	for _, a := range actions {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, app.ActionNames) {
		t.Errorf("the console's forms are %v; package app's actions are %v", names, app.ActionNames)
	}
}
