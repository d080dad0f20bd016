package engine

import (
	"context"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// BatchItem is one aggregate's command in a batch.
type BatchItem[C aggregates.Command] struct {
	ID   string
	Cmd  C
	Meta Meta
}

// BatchResult is one item's answer: as Handle would give it.
type BatchResult struct {
	Outcome Outcome
	Err     error
}

// HandleBatch runs one command on each of many aggregates of a kind and
// writes what they decide as one atomic batch (eventstore.AppendAtomic):
// a few synced writes for the lot instead of one each. It is for bursts of
// saga commands (a sweep's breaches), where the disk's rate of single
// synced writes is the limit.
//
// The batch is one job of the engine's one loop (loop.go), tried once on
// the engine's commits of each aggregate: each write expects its
// aggregate's last sequence, so the batch lands only if no aggregate
// moved. Anything else goes through Handle, one by one, with its full
// rules: an item refused or not yet loaded (a refusal is only given after
// a fresh load), an item with an idempotency key or an If-Match, and, when
// the batch conflicts or fails, every item of it. When only one item is
// left to write it goes as a plain append, as Handle's do, under its
// message id. The ids must be distinct; results are in the items' order.
func HandleBatch[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], items []BatchItem[C]) []BatchResult {
	results := make([]BatchResult, len(items))
	var parts []*part
	var at, alone []int // at: the item of each part
	for i, it := range items {
		if err := d.CheckID(it.ID); err != nil {
			results[i].Err = err
			continue
		}
		if err := aggregates.CheckInput(it.Cmd); err != nil {
			results[i].Err = err
			continue
		}
		subject := d.Subject(it.ID)
		if _, ok := e.cached(subject); !ok || it.Meta.IdempotencyKey != "" || it.Meta.ExpectedVersion != nil {
			alone = append(alone, i)
			continue
		}
		parts = append(parts, answer(d.Kind, it.ID, subject, it.Cmd, it.Meta))
		at = append(at, i)
	}
	if len(parts) > 0 {
		states := make([]S, len(parts))
		err := e.loop(ctx, &job{parts: parts, once: true,
			fold: func() {
				for k, p := range parts {
					states[k], p.version = fold(d, p.id, p.stored)
				}
			},
			decide: func(now time.Time) error {
				for k, p := range parts {
					s := states[k]
					p.decided, p.refused = d.Decide(s, items[at[k]].Cmd, now)
					p.after = func(recorded []events.Event) any { return d.Apply(s, recorded) }
				}
				return nil
			},
		})
		if err != nil {
			e.logger().Debug("batch not written; its commands run one by one", "commands", len(parts), "err", err)
		}
	}
	for k, p := range parts {
		if p.done {
			results[at[k]].Outcome = p.out
		} else {
			alone = append(alone, at[k])
		}
	}
	for _, i := range alone {
		results[i].Outcome, results[i].Err = Handle(ctx, e, d, items[i].ID, items[i].Cmd, items[i].Meta)
	}
	return results
}
