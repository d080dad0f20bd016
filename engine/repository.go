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
func Load[S any, C aggregates.Command](ctx context.Context, store Loader, d aggregates.Decider[S, C], id string) (S, []eventstore.Stored, error) {
	stored, err := store.Load(ctx, d.Subject(id))
	return folded(d, id, stored, err)
}

// folded is an aggregate's state from the commits loaded for it, or why
// they could not be loaded.
func folded[S any, C aggregates.Command](d aggregates.Decider[S, C], id string, stored []eventstore.Stored, err error) (S, []eventstore.Stored, error) {
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
	return folded(d, id, stored, err)
}

// LoadHolding reads an aggregate for a reaction to its commit at stream
// sequence seq (a saga's, the publisher's): its state as of that commit or
// later. When the engine's cache already holds that commit, as it does for
// every command this instance ran, nothing is read: a reaction may see a
// state a little behind the newest, never one before the commit it reacts
// to, and what it then does is decided again, server-checked, by the
// engine. Otherwise it loads as LoadThrough does. The error says when even
// a load does not reach seq (a replica behind): retry later.
func LoadHolding[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], id string, seq uint64) (S, []eventstore.Stored, error) {
	stored, ok := e.cached(d.Subject(id))
	if !ok || eventstore.LastSequenceOf(stored) < seq {
		var err error
		if stored, err = e.load(ctx, d.Subject(id)); err != nil {
			var zero S
			return zero, nil, fmt.Errorf("load %s %s: %w", d.Kind, id, err)
		}
	}
	if eventstore.LastSequenceOf(stored) < seq {
		var zero S
		return zero, nil, fmt.Errorf("%s %s loaded without its commit at sequence %d", d.Kind, id, seq)
	}
	s, _ := fold(d, id, stored)
	return s, stored, nil
}

// Fold is an aggregate's state from its commits read by other means than
// a load (a sweep's read of many at once): the same fold a load makes.
func Fold[S any, C aggregates.Command](d aggregates.Decider[S, C], id string, stored []eventstore.Stored) S {
	s, _ := fold(d, id, stored)
	return s
}

// fold is the one fold of stored commits: the state, and the version (the
// number of events, including any this build cannot read). A message an
// operator voided (void.go) is passed over, content and all; the void
// itself is an event of the aggregate like any other, so it counts.
func fold[S any, C aggregates.Command](d aggregates.Decider[S, C], id string, stored []eventstore.Stored) (S, int) {
	s := d.Start(id)
	version := 0
	voided := eventstore.VoidedIn(stored)
	for _, st := range stored {
		if voided[st.Sequence] {
			continue
		}
		s = d.Apply(s, st.Commit.Events)
		version += len(st.Commit.Events)
	}
	return s, version
}
