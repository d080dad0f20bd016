package engine

import (
	"context"
	"fmt"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Load reads one aggregate's commits and folds them with its decider. The
// commits come back too, for history views and for checking that a load
// holds a given commit. An aggregate with no events loads as the zero
// state. The API, the sagas and the publisher read aggregates through it.
func Load[S any, C aggregates.Command](ctx context.Context, store *eventstore.Store, d aggregates.Decider[S, C], id string) (S, []eventstore.Stored, error) {
	stored, err := store.Load(ctx, d.Subject(id))
	if err != nil {
		var zero S
		return zero, nil, fmt.Errorf("load %s %s: %w", d.Kind, id, err)
	}
	s, _ := fold(d, id, stored)
	return s, stored, nil
}

// LoadThrough is Load for any aggregate, through the engine's cache: it
// returns the same (every commit acknowledged before the call, on a
// replicated stream too), but reads from the store only the commits the
// engine does not already hold (cache.go). The slice returned is shared:
// do not modify it.
func LoadThrough[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], id string) (S, []eventstore.Stored, error) {
	stored, err := e.load(ctx, d.Subject(id))
	if err != nil {
		var zero S
		return zero, nil, fmt.Errorf("load %s %s: %w", d.Kind, id, err)
	}
	s, _ := fold(d, id, stored)
	return s, stored, nil
}

// fold is the one fold of stored commits: the state, and the version (the
// number of events, including any this build cannot read).
func fold[S any, C aggregates.Command](d aggregates.Decider[S, C], id string, stored []eventstore.Stored) (S, int) {
	s := d.Start(id)
	version := 0
	for _, st := range stored {
		s = d.Apply(s, st.Commit.Events)
		version += len(st.Commit.Events)
	}
	return s, version
}
