package eventstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// Loader writes many commits fast, with asynchronous publishes and no
// version check: for loading a generated history into an empty store
// (benchmarks, demos), never for commands.
type Loader struct {
	s      *Store
	window int
}

// NewLoader makes a loader keeping up to window publishes in flight.
func (s *Store) NewLoader(window int) *Loader {
	if window <= 0 {
		window = 4096
	}
	return &Loader{s: s, window: window}
}

// Add publishes one commit; it blocks while window publishes are in flight.
func (l *Loader) Add(ctx context.Context, subject string, c events.Commit) error {
	data, err := events.EncodeCommit(c)
	if err != nil {
		return err
	}
	for l.s.js.PublishAsyncPending() >= l.window {
		select {
		case <-l.s.js.PublishAsyncComplete():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if _, err := l.s.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data}, jetstream.WithExpectStream(EventsStream)); err != nil {
		return fmt.Errorf("load %s: %w", subject, unavailable(err))
	}
	return nil
}

// Wait returns once every publish is acknowledged.
func (l *Loader) Wait(ctx context.Context) error {
	select {
	case <-l.s.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CountRaw reads the stream from the start with an ordered consumer and
// counts messages and bytes without decoding them: the raw read rate a
// projection's rebuild is measured against.
func (s *Store) CountRaw(ctx context.Context, upTo uint64) (msgs, bytes uint64, err error) {
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, 0, unavailable(err)
	}
	it, err := cons.Messages()
	if err != nil {
		return 0, 0, unavailable(err)
	}
	defer it.Stop()
	for msgs < upTo {
		m, err := it.Next()
		if err != nil {
			return msgs, bytes, unavailable(err)
		}
		msgs++
		bytes += uint64(len(m.Data()))
	}
	return msgs, bytes, nil
}
