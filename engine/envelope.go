package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// envelope fills in what the decider leaves to the shell: ids, times,
// actor, correlation, schema version, and the hash chain from prev, the
// hash of the aggregate's last recorded event. Personal fields are sealed
// under the child's key here, the one place events are made for the log,
// before the hash: the chain covers what is stored (docs/design/privacy.md).
func (e *Engine) envelope(ctx context.Context, id string, decided []events.Event, now time.Time, meta Meta, prev string) ([]events.Event, error) {
	out := make([]events.Event, len(decided))
	for i, ev := range decided {
		ev.ID = newEventID()
		ev.SchemaVersion = events.SchemaVersion(ev.Type)
		ev.AggregateID = id
		ev.RecordedAt = now
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now
		}
		ev.Actor, ev.Person = meta.Actor, meta.Person
		ev.CorrelationID = meta.CorrelationID
		ev.CausationID = meta.CausationID
		if ev.CorrelationID == "" {
			ev.CorrelationID = id
		}
		ev.PrevHash = prev
		if e.Keys != nil && len(events.PersonalFields(ev.Type)) > 0 {
			key, err := e.Keys.DataKey(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%s for %s: %w", ev.Type, id, err)
			}
			if ev, err = events.Seal(ev, key); err != nil {
				return nil, err
			}
		}
		h, err := events.ChainHash(e.ChainKey, ev)
		if err != nil {
			return nil, err
		}
		ev.Hash, prev = h, h
		out[i] = ev
	}
	return out, nil
}

// lastHash is the hash the next event of an aggregate chains to.
func lastHash(stored []eventstore.Stored) string {
	// A message that does not decode has no events: the chain runs past
	// it, as verify reads it (a void always follows such a message, so it
	// is never the last of a loaded subject; this is for the void itself).
	for i := len(stored) - 1; i >= 0; i-- {
		if evs := stored[i].Commit.Events; len(evs) > 0 {
			return evs[len(evs)-1].Hash
		}
	}
	return ""
}
