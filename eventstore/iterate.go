package eventstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// messagesOf iterates a consumer's messages until ctx ends: the iterator
// stops with ctx, and release (for the caller to defer) lets it go. what
// names the read in errors ("read the read audit").
func messagesOf(ctx context.Context, cons jetstream.Consumer, what string, opts ...jetstream.PullMessagesOpt) (it jetstream.MessagesContext, release func(), err error) {
	it, err = cons.Messages(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, unavailable(err))
	}
	unhook := context.AfterFunc(ctx, it.Stop)
	return it, func() { it.Stop(); unhook() }, nil
}

// eventsFrom iterates the events stream's messages from sequence from
// (at least 1) with an ordered consumer, as messagesOf does; what names
// the read in errors ("follow" gives "follow from 7: ...").
func (s *Store) eventsFrom(ctx context.Context, from uint64, what string) (jetstream.MessagesContext, func(), error) {
	return s.streamFrom(ctx, EventsStream, from, what)
}

// streamFrom is eventsFrom over any stream, with the iterator's options.
func (s *Store) streamFrom(ctx context.Context, stream string, from uint64, what string, opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, func(), error) {
	cons, err := s.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	what = fmt.Sprintf("%s from %d", what, from)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, unavailable(err))
	}
	return messagesOf(ctx, cons, what, opts...)
}

// notNext is why a read's next message did not come: ctx's end as ctx
// says it, or the store, unavailable.
func notNext(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: %w", what, unavailable(err))
}
