package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// BatchItem is one aggregate's command in a batch.
type BatchItem[C aggregates.Command] struct {
	ID   string
	Cmd  C
	Meta Meta
	// Stored, if set, are the aggregate's commits the caller decided on
	// (as LoadHolding gave them): the batch is tried on them as on the
	// engine's cache, which in a burst of thousands of aggregates has
	// long moved on by the time a batch is written. Nil: the cache.
	Stored []eventstore.Stored
}

// BatchResult is one item's answer: as Handle would give it.
type BatchResult struct {
	Outcome Outcome
	Err     error
}

// aloneAtOnce bounds the items of a batch run through Handle at the same
// time: each is a synced write of its own, and the disk groups those only
// when several wait.
const aloneAtOnce = 16

// HandleBatch runs one command on each of many aggregates of a kind and
// writes what they decide as one atomic batch (eventstore.AppendAtomic):
// a few synced writes for the lot instead of one each. It is for bursts of
// saga commands (a sweep's breaches), where the disk's rate of single
// synced writes is the limit.
//
// The batch is one job of the engine's one loop (loop.go), tried once on
// the commits each item brings, or the engine's: each write expects its
// aggregate's last sequence, so the batch lands only if no aggregate
// moved. When one moved (or was written already under its message id) the
// server refuses the whole batch without saying which, so each aggregate
// is read again and the batch written again without those that moved: a
// round of reads and one more batch, not a synced write per item.
// Anything else goes through Handle with its full rules, several at once:
// an item refused or not loaded (a refusal is only given after a fresh
// load), an item with an idempotency key or an If-Match, an item whose
// batch failed for another reason, and those that moved. When only one
// item is left to write it goes as a plain append, as Handle's do, under
// its message id. The ids must be distinct; results are in the items'
// order.
func HandleBatch[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], items []BatchItem[C]) []BatchResult {
	results := make([]BatchResult, len(items))
	items = slices.Clone(items) // batchOnce fills in what it reads again
	var batched, alone []int
	for i, it := range items {
		if err := d.CheckID(it.ID); err != nil {
			results[i].Err = err
			continue
		}
		if err := aggregates.CheckInput(it.Cmd); err != nil {
			results[i].Err = err
			continue
		}
		if _, ok := e.cached(d.Subject(it.ID)); (!ok && it.Stored == nil) || it.Meta.IdempotencyKey != "" || it.Meta.ExpectedVersion != nil {
			alone = append(alone, i)
			continue
		}
		batched = append(batched, i)
	}
	if len(batched) > 0 {
		alone = append(alone, batchOnce(ctx, e, d, items, batched, results, batchTries)...)
	}
	sem := make(chan struct{}, aloneAtOnce)
	var wg sync.WaitGroup
	for _, i := range alone {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i].Outcome, results[i].Err = Handle(ctx, e, d, items[i].ID, items[i].Cmd, items[i].Meta)
		}()
	}
	wg.Wait()
	return results
}

// batchTries bounds how often a batch is written again after aggregates
// of it moved.
const batchTries = 3

// batchOnce writes the items at as one batch and fills in the results of
// those written; it returns the items left to run alone. A batch refused
// because some of its aggregates moved is tried again without them, up to
// tries times in all.
func batchOnce[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], items []BatchItem[C], at []int, results []BatchResult, tries int) (alone []int) {
	parts := make([]*part, len(at))
	for k, i := range at {
		it := items[i]
		parts[k] = answer(d.Kind, it.ID, d.Subject(it.ID), it.Cmd, it.Meta)
		parts[k].held = it.Stored
	}
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
	var conflict *eventstore.ConflictError
	if err != nil && tries > 1 && (errors.As(err, &conflict) || errors.Is(err, eventstore.ErrDuplicate)) {
		// The server refuses the whole batch without saying which aggregate
		// moved (or holds its command already), so each is read again:
		// those that moved run alone, decided afresh; the rest are batched
		// again on what was read. Reads, not a synced write per item.
		again := make([]int, 0, len(parts))
		fresh := make([][]eventstore.Stored, len(parts))
		var wg sync.WaitGroup
		sem := make(chan struct{}, aloneAtOnce)
		for k, p := range parts {
			if p.refused != nil {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				fresh[k], _ = e.load(ctx, p.subject)
			}()
		}
		wg.Wait()
		for k, p := range parts {
			if p.refused == nil && fresh[k] != nil && eventstore.LastSequenceOf(fresh[k]) == eventstore.LastSequenceOf(p.stored) {
				items[at[k]].Stored = fresh[k]
				again = append(again, at[k])
			} else {
				alone = append(alone, at[k])
			}
		}
		if len(again) > 0 {
			alone = append(alone, batchOnce(ctx, e, d, items, again, results, tries-1)...)
		}
		return alone
	}
	if err != nil {
		e.logger().Debug("batch not written; its commands run one by one", "commands", len(parts), "err", err)
	}
	for k, p := range parts {
		if p.done {
			results[at[k]].Outcome = p.out
		} else {
			alone = append(alone, at[k])
		}
	}
	return alone
}
