package engine

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
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
// Each item is decided as Handle decides it, on the engine's commits of
// its aggregate, and each write expects its aggregate's last sequence, so
// the batch lands only if no aggregate moved. Anything else goes through
// Handle, one by one, with its full rules: an item refused or not yet
// loaded (a refusal is only given after a fresh load), an item with an
// idempotency key, and, when the batch conflicts or fails, every item of
// it. The ids must be distinct; results are in the items' order.
func HandleBatch[S any, C aggregates.Command](ctx context.Context, e *Engine, d aggregates.Decider[S, C], items []BatchItem[C]) []BatchResult {
	results := make([]BatchResult, len(items))
	type decided struct {
		i       int
		stored  []eventstore.Stored
		after   S
		version int
		write   eventstore.Write
	}
	var batch []decided
	var alone []int
	now := e.now()
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
		stored, ok := e.cached(subject)
		if !ok || it.Meta.IdempotencyKey != "" || it.Meta.ExpectedVersion != nil {
			alone = append(alone, i)
			continue
		}
		s, version := fold(d, it.ID, stored)
		evs, err := d.Decide(s, it.Cmd, now)
		if err == nil {
			evs, err = e.envelope(it.ID, evs, now, it.Meta, lastHash(stored))
		}
		if err != nil {
			alone = append(alone, i)
			continue
		}
		batch = append(batch, decided{i: i, stored: stored, after: d.Apply(s, evs), version: version,
			write: eventstore.Write{Subject: subject, Expected: eventstore.LastSequenceOf(stored),
				Commit: events.Commit{Command: it.Cmd.CommandName(), RequestHash: RequestHash(it.Cmd), Events: evs}}})
	}
	if len(batch) == 1 {
		alone = append(alone, batch[0].i)
		batch = nil
	}
	if len(batch) > 0 {
		writes := make([]eventstore.Write, len(batch))
		for k, b := range batch {
			writes[k] = b.write
		}
		seqs, err := e.Store.AppendAtomic(ctx, writes...)
		if e.OnAppend != nil {
			e.OnAppend(err)
		}
		if err != nil {
			e.logger().Debug("batch not written; its commands run one by one", "commands", len(batch), "err", err)
			for _, b := range batch {
				alone = append(alone, b.i)
			}
		} else {
			for k, b := range batch {
				e.appended(b.write.Subject, b.stored, seqs[k], b.write.Commit)
				evs := b.write.Commit.Events
				results[b.i].Outcome = Outcome{AggregateID: items[b.i].ID, Version: b.version + len(evs), Sequence: seqs[k], Events: evs}
				if e.OnCommitted != nil {
					e.OnCommitted(b.after, evs)
				}
			}
		}
	}
	for _, i := range alone {
		results[i].Outcome, results[i].Err = Handle(ctx, e, d, items[i].ID, items[i].Cmd, items[i].Meta)
	}
	return results
}
