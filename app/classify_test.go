package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// A stale rota is told apart from a stale referral: the person at the
// allocation form did not change the rota, another allocation did.
func TestClassifyAStaleRota(t *testing.T) {
	o := Classify(fmt.Errorf("allocate: %w", &engine.StaleError{Kind: aggregates.Regions.Kind, Expected: 4, Current: 5}))
	if o.Kind != Stale || !o.StaleRota || o.Stale.Current != 5 {
		t.Errorf("a stale rota: %+v", o)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		kind   Kind
		status int
		code   string
		field  string
		says   string
		retry  bool
	}{
		{"a refusal of the rules", &aggregates.Refusal{Kind: aggregates.Illegal, Code: aggregates.CodeAlreadyPlaced, Message: "the child was already placed"}, Refused, http.StatusConflict, "already_placed", "", "already placed", false},
		{"a wrong value", &aggregates.Refusal{Kind: aggregates.Invalid, Code: aggregates.CodeInvalidValue, Field: "provider", Message: "name the placement provider"}, Invalid, http.StatusUnprocessableEntity, "invalid_value", "provider", "name the placement provider", false},
		{"no such referral", &aggregates.Refusal{Kind: aggregates.Illegal, Code: aggregates.CodeNotFound, Message: "there is no referral with this id"}, NotFound, http.StatusNotFound, "not_found", "", "no referral", false},
		{"a stale version", fmt.Errorf("handle: %w", &engine.StaleError{Kind: "referral", Expected: 2, Current: 3}), Stale, http.StatusConflict, "stale_version", "", "version 3, not 2", false},
		{"a key used twice", fmt.Errorf("handle: %w", engine.ErrKeyReused), KeyReused, http.StatusUnprocessableEntity, "idempotency_key_reused", "", "already used", false},
		{"a busy rota", &engine.ContentionError{Kind: "region", ID: "north-west", Attempts: 9}, Contention, http.StatusServiceUnavailable, "contention", "", "north-west region's rota", true},
		{"a busy referral", engine.ErrContention, Contention, http.StatusServiceUnavailable, "contention", "", "changing too fast", true},
		{"a corrupt history", fmt.Errorf("load: %w", &eventstore.CorruptError{Sequence: 42, Err: errors.New("bad json")}), Corrupt, http.StatusInternalServerError, "corrupt_history", "", "stream sequence 42", false},
		{"a store that is down", fmt.Errorf("append: %w", eventstore.ErrUnavailable), Unavailable, http.StatusServiceUnavailable, "unavailable", "", "nothing was written", true},
		// A timeout is the same answer as a store that is down: the
		// faces used to differ here (500 from the API, 503 on a page).
		{"a timeout", fmt.Errorf("load referral r1: %w", context.DeadlineExceeded), Unavailable, http.StatusServiceUnavailable, "unavailable", "", "nothing was written", true},
		{"a disposed child", fmt.Errorf("referral.withdrawn for r1: %w", events.ErrKeyDestroyed), Refused, http.StatusConflict, "disposed", "", "disposed of when its retention ended", false},
		{"anything else", errors.New("boom"), Internal, http.StatusInternalServerError, "internal", "", "something went wrong", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Classify(c.err)
			if o.StaleRota {
				t.Errorf("Classify(%v) says the rota changed", c.err)
			}
			if o.Kind != c.kind || o.Status != c.status || o.Code != c.code || o.Field != c.field {
				t.Errorf("Classify(%v) = %s %d %s field %q; want %s %d %s field %q", c.err, o.Kind, o.Status, o.Code, o.Field, c.kind, c.status, c.code, c.field)
			}
			if !strings.Contains(o.Message, c.says) {
				t.Errorf("Classify(%v) says %q; want it to say %q", c.err, o.Message, c.says)
			}
			if (o.RetryAfter > 0) != c.retry {
				t.Errorf("Classify(%v) retry after %v; want a wait: %v", c.err, o.RetryAfter, c.retry)
			}
			if strings.Contains(o.Message, "boom") {
				t.Errorf("an internal error's message shows the internals: %q", o.Message)
			}
		})
	}
}
