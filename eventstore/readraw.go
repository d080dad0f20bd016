package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RawCommit is a commit as the stream holds it, not yet decoded: what
// ReadRaw delivers, so that a reader can decode elsewhere (on other
// goroutines) and apply in order.
type RawCommit struct {
	Sequence uint64
	Subject  string
	Time     time.Time // when the server stored it
	Data     []byte
}

// Decode reads the commit as Follow and ReadRange deliver it: one that
// does not decode comes back with Err set and an empty Commit, not as an
// error, so a view counts and skips it exactly as it does when following.
func (r RawCommit) Decode() Stored {
	st, err := storedFrom(r.Sequence, r.Subject, r.Time, r.Data)
	if err != nil {
		return Stored{Sequence: r.Sequence, Subject: r.Subject, Time: r.Time, Err: err, Raw: r.Data}
	}
	return st
}

// ReadRaw delivers the messages with sequences from..to, in order,
// undecoded, then returns: ReadRange without the decoding, which is most
// of a long read's cost and which the caller may spread over goroutines
// (views.Fold does). Same ordered consumer as Follow, so the same
// guarantees: no server-side state, gaps and redeliveries repaired by the
// client library.
func (s *Store) ReadRaw(ctx context.Context, from, to uint64, fn func(RawCommit) error) error {
	if from < 1 {
		from = 1
	}
	if to < from {
		return nil
	}
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, unavailable(err))
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, unavailable(err))
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read: %w", unavailable(err))
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		seq := md.Sequence.Stream
		if seq > to {
			return nil // to itself is gone (a tampered stream): stop after it
		}
		if err := fn(RawCommit{Sequence: seq, Subject: m.Subject(), Time: md.Timestamp, Data: m.Data()}); err != nil {
			return err
		}
		if seq >= to {
			return nil
		}
	}
}
