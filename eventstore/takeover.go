package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// TakeOver makes durable, a consumer of the events on filter (as
// ConsumeEvents makes one, unordered), to do the work of the consumers
// named in from, and removes them. It is for an upgrade that joins
// consumers of the same events into one, and every instance calls it
// before it consumes: it does nothing more once durable is there and the
// others are gone.
//
// The new consumer starts just after the lowest acknowledgement floor
// among them: no commit any of them had yet to handle is missed, and a
// commit some had handled is handed to its handler again, which its
// idempotency makes harmless. If any of them is missing while another is
// there, it starts from the beginning of the stream, as it does when none
// is there (a new store): a commit is never skipped for a consumer whose
// progress is unknown.
//
// Messages parked by the consumers in from are replayed through durable's
// handler (Replay).
func (s *Store) TakeOver(ctx context.Context, durable, filter string, from []string) error {
	for _, old := range from {
		s.replaced.Store(old, durable)
	}
	_, err := s.js.Consumer(ctx, EventsStream, durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if err := s.takeOver(ctx, durable, filter, from); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	for _, old := range from {
		if err := s.RemoveConsumer(ctx, EventsStream, old); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) takeOver(ctx context.Context, durable, filter string, from []string) error {
	var floor uint64
	found, missing := 0, 0
	for _, old := range from {
		c, err := s.js.Consumer(ctx, EventsStream, old)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			missing++
			continue
		} else if err != nil {
			return fmt.Errorf("consumer %s: %w", old, unavailable(err))
		}
		f := c.CachedInfo().AckFloor.Stream
		if found == 0 || f < floor {
			floor = f
		}
		found++
	}
	cfg := consumerConfig(durable, filter, eventsMaxAckPending)
	if found > 0 && missing == 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
	}
	// Two instances taking over at once: the first makes it, and the
	// second, refused, consumes the one made.
	_, err := s.js.CreateConsumer(ctx, EventsStream, cfg)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	return nil
}
