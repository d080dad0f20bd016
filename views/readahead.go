package views

import (
	"context"
	"sync"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Decoding each commit, not reading it or folding it, bounds a rebuild
// from zero when one goroutine does all three (BENCHMARKS.md, issue 17).
// readAhead splits them: one goroutine reads the stream raw, in order,
// cutting it into batches; a few decode whole batches at once; the caller
// folds the decoded batches in the order they were read. The fold sees
// exactly what ReadRange would have given it, commit by commit, in stream
// order, on its own goroutine.

const (
	// aheadBatch commits make one unit of decoding work: large enough that
	// handing batches between goroutines costs nothing beside decoding
	// them, small enough that the fold starts at once.
	aheadBatch = 256
	// aheadBatches is how many batches may be read and not yet folded, per
	// decoder: the read runs ahead of the fold by at most this much (about
	// 1 MB of commits per decoder).
	aheadBatches = 4
)

type decodeBatch struct {
	raw     []eventstore.RawCommit
	decoded []eventstore.Stored
	done    chan struct{} // closed once decoded is filled
}

// readAhead delivers the commits from..to to fn in stream order, as
// ReadRange does, decoding them ahead on that many decoders (Fold: one per
// core). It returns fn's first error (having stopped reading and
// decoding), or the read's.
func readAhead(ctx context.Context, store Log, from, to uint64, decoders int, fn func(eventstore.Stored) error) error {
	if decoders < 2 {
		// One core: nothing would run beside the fold.
		return store.ReadRange(ctx, from, to, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred below, so run first): nothing outlives the call
	defer cancel()

	order := make(chan *decodeBatch, decoders*aheadBatches)
	// Folded batches come back to the reader to be filled again: a
	// rebuild otherwise allocates a batch's two slices (60 KB) per 256
	// commits, 8% of all it allocates, and the collector scans the whole
	// view once per few MB allocated.
	free := make(chan *decodeBatch, decoders*aheadBatches+2)
	// One more than order holds: a batch goes to work only once it is in
	// order, and the fold holds at most one it took from order.
	work := make(chan *decodeBatch, decoders*aheadBatches+1)
	for range decoders {
		wg.Go(func() {
			for b := range work {
				if ctx.Err() == nil { // else the fold has stopped: just drain
					for i, r := range b.raw {
						b.decoded[i] = r.Decode()
					}
				}
				close(b.done)
			}
		})
	}
	var readErr error
	wg.Go(func() {
		defer close(work)
		defer close(order)
		// A batch goes in order before it goes to a decoder, so the fold
		// waits for each in turn; the order channel's room bounds how far
		// the read runs ahead.
		send := func(b *decodeBatch) error {
			b.decoded = b.decoded[:len(b.raw)]
			select {
			case order <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			work <- b // never blocks: see work's room
			return nil
		}
		newBatch := func() *decodeBatch {
			select {
			case b := <-free:
				return b
			default:
				return &decodeBatch{raw: make([]eventstore.RawCommit, 0, aheadBatch), decoded: make([]eventstore.Stored, 0, aheadBatch), done: make(chan struct{})}
			}
		}
		b := newBatch()
		readErr = store.ReadRaw(ctx, from, to, func(r eventstore.RawCommit) error {
			b.raw = append(b.raw, r)
			if len(b.raw) < aheadBatch {
				return nil
			}
			if err := send(b); err != nil {
				return err
			}
			b = newBatch()
			return nil
		})
		if readErr == nil && len(b.raw) > 0 {
			readErr = send(b)
		}
	})

	for b := range order {
		select {
		case <-b.done:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return err // and b may not have been decoded
		}
		for _, st := range b.decoded {
			if err := fn(st); err != nil {
				return err
			}
		}
		clear(b.raw) // not to keep the commits alive while it waits
		clear(b.decoded)
		b.raw, b.decoded, b.done = b.raw[:0], b.decoded[:0], make(chan struct{})
		select {
		case free <- b:
		default:
		}
	}
	// order is closed: the reader has returned, and readErr is set.
	return readErr
}
