package sagarun_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagarun"
)

// Given a commit, every saga of a joined consumer is given it, whichever
// fails: one saga's failure does not keep the commit from the others. Any
// failure that may pass brings the commit back; only when every failure
// is for good is it parked.
func TestAJoinedConsumerGivesEveryCommitToEverySaga(t *testing.T) {
	transient := errors.New("the store is away")
	permanent := fmt.Errorf("%w: cannot be done", eventstore.ErrPermanent)
	for _, tc := range []struct {
		name    string
		errs    []error
		want    error
		parking bool
		named   string // the saga the error names
	}{
		{"all done", []error{nil, nil, nil}, nil, false, ""},
		{"the first fails for now", []error{transient, nil, nil}, transient, false, "saga 0: "},
		{"one for now, one for good", []error{permanent, transient, nil}, transient, false, "saga 1: "},
		{"the last fails for good", []error{nil, nil, permanent}, permanent, true, "saga 2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := make([]int, len(tc.errs))
			j := &sagarun.Joined{}
			for i, err := range tc.errs {
				j.Handlers = append(j.Handlers, sagarun.Handler{Saga: fmt.Sprintf("saga %d", i), Handle: func(context.Context, eventstore.Stored) error { called[i]++; return err }})
			}
			err := j.Handle(context.Background(), eventstore.Stored{Sequence: 7})
			for i, n := range called {
				if n != 1 {
					t.Errorf("saga %d was given the commit %d times", i, n)
				}
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.named != "" && !strings.Contains(err.Error(), tc.named) {
				t.Errorf("the error %q does not name the saga (%q)", err, tc.named)
			}
			if got := errors.Is(err, eventstore.ErrPermanent); got != tc.parking {
				t.Fatalf("parked: %v, want %v (error %v)", got, tc.parking, err)
			}
		})
	}
}
