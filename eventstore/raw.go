package eventstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// The benchmarks measure the engine against JetStream with no engine: a
// publish to the events stream with none of Append's checks (no expected
// subject sequence, no message id, no chain). That baseline is JetStream's
// own call, so it is made here, where JetStream is known; nothing else may
// write this way (the engine's commits go through Append).

// PublishUnchecked publishes data on subject and waits for the stream's
// acknowledgement, returning the sequence it was stored at. For
// measurements only: it bypasses every rule Append keeps.
func (s *Store) PublishUnchecked(ctx context.Context, subject string, data []byte) (uint64, error) {
	ack, err := s.js.Publish(ctx, subject, data)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// PendingAck is an asynchronous publish awaiting its acknowledgement.
type PendingAck struct {
	f jetstream.PubAckFuture
}

// Wait waits for the acknowledgement: nil once the stream has stored the
// message, else why not.
func (p PendingAck) Wait() error {
	select {
	case <-p.f.Ok():
		return nil
	case err := <-p.f.Err():
		return err
	}
}

// PublishUncheckedAsync is PublishUnchecked without waiting: the
// acknowledgement comes on the returned PendingAck. For measurements
// only.
func (s *Store) PublishUncheckedAsync(subject string, data []byte) (PendingAck, error) {
	f, err := s.js.PublishAsync(subject, data)
	if err != nil {
		return PendingAck{}, err
	}
	return PendingAck{f: f}, nil
}

// StreamState is what a stream holds.
type StreamState struct {
	LastSeq, Msgs, Bytes uint64
}

// StreamStates reads the state of the named streams (EventsStream,
// PublicStream, TimersStream...).
func (s *Store) StreamStates(ctx context.Context, names ...string) (map[string]StreamState, error) {
	out := map[string]StreamState{}
	for _, name := range names {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		out[name] = StreamState{LastSeq: info.State.LastSeq, Msgs: info.State.Msgs, Bytes: info.State.Bytes}
	}
	return out, nil
}
