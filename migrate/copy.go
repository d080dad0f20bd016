package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// copier reads the log once in order and, given a writer, writes each
// commit to the working copy: sealed where a child's fields are in the
// clear, re-chained from an aggregate's first changed event on, byte for
// byte otherwise. Without a writer it only counts (the dry run, and the
// look that leaves a log with nothing in the clear untouched).
type copier struct {
	r      *run
	voided map[uint64]bool
	count  Count
	// keys holds each child's data key once read (nil: disposed of).
	keys     map[string][]byte
	children map[string]bool
	// oldHead and newHead are each aggregate's chain head in the log and
	// in the copy; chains the re-chained ones.
	oldHead, newHead map[string]string
	chains           map[string]*Chain
	// said is what each event the copy seals said, by event id, for the
	// check.
	said map[string]digest
}

func newCopier(r *run, voided map[uint64]bool) *copier {
	return &copier{r: r, voided: voided, keys: map[string][]byte{}, children: map[string]bool{},
		oldHead: map[string]string{}, newHead: map[string]string{}, chains: map[string]*Chain{}, said: map[string]digest{}}
}

// key is the child's data key, made if they have none; nil if they were
// disposed of. Counting only, no key is made.
func (c *copier) key(ctx context.Context, child string, making bool) ([]byte, error) {
	if k, ok := c.keys[child]; ok {
		return k, nil
	}
	var k []byte
	if making {
		var err error
		k, err = c.r.store.DataKey(ctx, child)
		if errors.Is(err, events.ErrKeyDestroyed) {
			k, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	} else {
		gone, err := c.r.store.KeyDestroyed(ctx, child)
		if err != nil {
			return nil, err
		}
		if !gone {
			k = []byte{} // would be made: only its being there counts
		}
	}
	c.keys[child] = k
	return k, nil
}

func (c *copier) walk(ctx context.Context, last uint64, w *eventstore.SequenceWriter) error {
	what := "look"
	if w != nil {
		what = "copy"
	}
	report := c.r.progress(what)
	half := false
	var expect uint64 = 1
	err := c.r.store.Messages(ctx, eventstore.EventsStream, 1, last, func(m eventstore.Message) error {
		if m.Sequence != expect {
			return fmt.Errorf("sequence %d follows %d: the events stream has a gap, which the migration cannot copy; nothing was swapped", m.Sequence, expect-1)
		}
		expect++
		data, err := c.commit(ctx, m, w != nil)
		if err != nil {
			return fmt.Errorf("sequence %d (%s): %w", m.Sequence, m.Subject, err)
		}
		c.count.Commits++
		report(m.Sequence, last)
		if w == nil {
			return nil
		}
		m.Data = data
		if err := w.Write(ctx, eventstore.ToMigrationSubject(m.Subject), m); err != nil {
			return err
		}
		if !half && m.Sequence >= last/2 {
			half = true
			if err := w.Flush(ctx); err != nil {
				return err
			}
			c.r.o.Step(StepCopyHalf)
		}
		return nil
	})
	if err == nil && w != nil {
		err = w.Flush(ctx)
	}
	if err != nil {
		return err
	}
	report(last, last)
	c.count.Children, c.count.Aggregates = len(c.children), len(c.chains)
	return nil
}

// commit is one commit as the copy stores it.
func (c *copier) commit(ctx context.Context, m eventstore.Message, writing bool) ([]byte, error) {
	agg := strings.TrimPrefix(m.Subject, events.SubjectPrefix)
	raws, err := events.RawEvents(m.Data)
	if err != nil || c.voided[m.Sequence] {
		if !c.voided[m.Sequence] {
			return nil, fmt.Errorf("not a commit, and no void accounts for it: %w", err)
		}
		// Voided: copied as it is, and the chain runs past it as verify
		// reads it (its problems stay accounted for by its void).
		for _, raw := range raws {
			if h, herr := events.VerifyStored(c.r.o.ChainKey, raw, ""); h != "" || herr == nil {
				c.oldHead[agg], c.newHead[agg] = h, h
			}
		}
		c.count.Events += uint64(len(raws))
		return m.Data, nil
	}
	out := make([]json.RawMessage, len(raws))
	touched := false
	for i, raw := range raws {
		c.count.Events++
		e, err := events.Decode(raw)
		if err != nil && !errors.Is(err, events.ErrUnknownType) {
			return nil, fmt.Errorf("event %d does not decode: %w", i, err)
		}
		clear := false
		if err == nil {
			if clear, err = events.InClear(e); err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
		}
		chain, changed := c.chains[agg]
		switch {
		case clear:
			c.count.Plaintext++
			c.children[e.AggregateID] = true
			key, err := c.key(ctx, e.AggregateID, writing)
			if err != nil {
				return nil, err
			}
			if key == nil {
				c.count.Disposed++
			}
			if !changed {
				chain = &Chain{Aggregate: agg, FirstSequence: m.Sequence}
				c.chains[agg] = chain
			}
			if writing {
				sum, err := events.RecordDigest(e, key == nil)
				if err != nil {
					return nil, err
				}
				c.said[e.ID] = digest{sum: sum, disposed: key == nil}
				if out[i], c.newHead[agg], err = events.SealForward(e, key, c.newHead[agg], c.r.o.ChainKey); err != nil {
					return nil, err
				}
			}
			touched = true
		case changed:
			c.count.Rechained++
			if writing {
				if out[i], c.newHead[agg], err = events.Rechain(raw, c.newHead[agg], c.r.o.ChainKey); err != nil {
					return nil, err
				}
			}
			touched = true
		default:
			out[i], c.newHead[agg] = raw, e.Hash
		}
		c.oldHead[agg] = e.Hash
	}
	if touched {
		c.count.RewrittenCommits++
	}
	if !touched || !writing {
		return m.Data, nil
	}
	return events.WithEvents(m.Data, out)
}

// check reads the working copy back: every sequence there, on the same
// subject as in the log; every chain verifies under the chain key; every
// sealed event opens with its child's key to exactly what it said (a
// disposed child's, to what it said less their fields).
func (c *copier) check(ctx context.Context, last uint64) error {
	report := c.r.progress("check")
	prev := map[string]string{}
	var expect uint64 = 1
	seen := 0
	err := c.r.store.Messages(ctx, eventstore.MigrationStream, 1, last, func(m eventstore.Message) error {
		if m.Sequence != expect {
			return fmt.Errorf("the copy has sequence %d where %d was due", m.Sequence, expect)
		}
		expect++
		agg := strings.TrimPrefix(eventstore.FromMigrationSubject(m.Subject), events.SubjectPrefix)
		raws, err := events.RawEvents(m.Data)
		if err != nil && !c.voided[m.Sequence] {
			return fmt.Errorf("sequence %d of the copy is not a commit: %w", m.Sequence, err)
		}
		for i, raw := range raws {
			h, err := events.VerifyStored(c.r.o.ChainKey, raw, prev[agg])
			if err != nil && !c.voided[m.Sequence] {
				return fmt.Errorf("sequence %d of the copy, event %d: %w", m.Sequence, i, err)
			}
			prev[agg] = h
		}
		if c.voided[m.Sequence] {
			return nil
		}
		commit, err := events.DecodeCommit(m.Data)
		if err != nil && !errors.Is(err, events.ErrUnknownType) {
			return fmt.Errorf("sequence %d of the copy does not decode: %w", m.Sequence, err)
		}
		for _, e := range commit.Events {
			d, ok := c.said[e.ID]
			if !ok {
				continue
			}
			seen++
			var key []byte
			if !d.disposed {
				key = c.keys[e.AggregateID]
			}
			open, err := events.Unseal(e, key)
			if err != nil {
				return fmt.Errorf("sequence %d of the copy: %w", m.Sequence, err)
			}
			if d.disposed != (open.Disposed != nil) {
				return fmt.Errorf("sequence %d of the copy: event %s reads as disposed of: %v, want %v", m.Sequence, e.ID, open.Disposed != nil, d.disposed)
			}
			sum, err := events.RecordDigest(open, d.disposed)
			if err != nil {
				return err
			}
			if sum != d.sum {
				return fmt.Errorf("sequence %d of the copy: event %s (%s) does not read back as it was stored", m.Sequence, e.ID, e.Type)
			}
		}
		report(m.Sequence, last)
		return nil
	})
	if err != nil {
		return err
	}
	if expect != last+1 {
		return fmt.Errorf("the copy ends at sequence %d, the log at %d", expect-1, last)
	}
	if seen != len(c.said) {
		return fmt.Errorf("%d of the %d sealed events are not in the copy", len(c.said)-seen, len(c.said))
	}
	for agg := range c.chains {
		if prev[agg] != c.newHead[agg] {
			return fmt.Errorf("aggregate %s ends its chain at %s in the copy, not at %s", agg, prev[agg], c.newHead[agg])
		}
	}
	return nil
}

func (c *copier) manifest(last uint64) Manifest {
	m := Manifest{Kind: ManifestKind, CopiedAt: time.Now().UTC(), LastSequence: last, Count: c.count, Aggregates: []Chain{}}
	for agg, ch := range c.chains {
		ch.OldHead, ch.NewHead = c.oldHead[agg], c.newHead[agg]
		m.Aggregates = append(m.Aggregates, *ch)
	}
	slices.SortFunc(m.Aggregates, func(a, b Chain) int { return strings.Compare(a.Aggregate, b.Aggregate) })
	return m
}
