package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrPermanent, wrapped by a handler's error, means retrying cannot help:
// the message is parked at once (see Parked) instead of being retried.
var ErrPermanent = errors.New("permanent failure")

// ConsumerPolicy says how the durable consumers (sagas, publisher) treat a
// handler that fails. Every failure is logged with its consumer, stream
// sequence and delivery count, and reported to OnFailure; a message is
// retried with a growing pause, and parked on NTS_PARKED once it has
// failed MaxDeliveries times (or at once, when the error wraps
// ErrPermanent), so that one bad message never stops a consumer for good.
// Failures that wrap ErrUnavailable are the store's, not the message's:
// they are retried without bound and never park a message.
type ConsumerPolicy struct {
	// MaxDeliveries is how many times a message is handed to a handler
	// that fails before it is parked (default 8).
	MaxDeliveries int
	// Backoff is the pause before the next delivery after the n-th failed
	// one (default 1s, doubling, at most a minute).
	Backoff func(n int) time.Duration
	// OnFailure, if set, hears of every handler failure (for metrics).
	OnFailure func(ConsumerFailure)
	// Log receives the failures (default slog.Default()).
	Log *slog.Logger
}

// ConsumerFailure is one failed delivery.
type ConsumerFailure struct {
	Consumer, Stream, Subject string
	Sequence                  uint64 // stream sequence of the message
	Deliveries                uint64 // how many times it has been delivered, this one included
	Err                       error
	// Outcome is what happens next: "retry" or "parked".
	Outcome string
}

// Failure outcomes.
const (
	OutcomeRetry  = "retry"
	OutcomeParked = "parked"
)

func (p ConsumerPolicy) maxDeliveries() uint64 {
	if p.MaxDeliveries <= 0 {
		return 8
	}
	return uint64(p.MaxDeliveries)
}

func (p ConsumerPolicy) backoff(n uint64) time.Duration {
	if p.Backoff != nil {
		return p.Backoff(int(n))
	}
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

func (p ConsumerPolicy) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// delivery is one message handed to a consumer's handler: from a live
// consumer, or read back from its stream to replay a parked message.
type delivery struct {
	stream, subject string
	seq             uint64
	time            time.Time
	data            []byte
	deliveries      uint64
}

// handler is a running consumer's handler, kept so that a parked message
// can be replayed through it.
type handler struct {
	stream string
	// perSubject: messages on one subject must be handled in order, so a
	// message whose subject already has one parked is parked behind it.
	perSubject bool
	fn         func(delivery) error
}

// ConsumeTimers delivers fired timers whose key matches filter (a subject
// pattern over keys, such as "deadline.>") to fn, through the durable
// consumer named durable, shared by every engine instance: each fired timer
// goes to one of them, and comes back if fn fails or the instance dies
// before acknowledging it.
func (s *Store) ConsumeTimers(ctx context.Context, durable, filter string, fn func(Fired) error) error {
	return s.consume(ctx, TimersStream, durable, timerFiredPrefix+filter, 1024, 8, false, func(d delivery) error {
		var t Timer
		if err := json.Unmarshal(d.data, &t); err != nil {
			return fmt.Errorf("%w: timer at sequence %d: %v", ErrPermanent, d.seq, err)
		}
		return fn(Fired{Timer: t, FiredAt: d.time, Sequence: d.seq})
	})
}

// ConsumeEvents delivers commits on subjects matching filter through a
// durable consumer shared by every engine instance (the sagas),
// from the start of the stream the first time, then from where the
// consumer's acknowledgements left off.
//
// ordered, if true, keeps one commit in flight across all instances, so
// commits are handled strictly in stream order (the deadline saga does
// not need it, and handles many at once). A commit that is
// parked does not stop an ordered consumer: later commits of other
// aggregates go on, and later commits of the same aggregate are parked
// behind it, to be replayed in order.
func (s *Store) ConsumeEvents(ctx context.Context, durable, filter string, ordered bool, fn func(Stored) error) error {
	pending, workers := eventsMaxAckPending, 8
	if ordered {
		pending, workers = 1, 1
	}
	return s.consume(ctx, EventsStream, durable, filter, pending, workers, ordered, s.commitHandler(fn))
}

// commitHandler hands a delivered commit, decoded, to fn: the handler of
// every consumer of commits (ConsumeEvents, PublishFollowing).
func (s *Store) commitHandler(fn func(Stored) error) func(delivery) error {
	return func(d delivery) error {
		st, err := s.decoded.stored(d.seq, d.subject, d.time, d.data)
		if errors.Is(err, ErrUnavailable) {
			return err // a key not readable now: retried, not parked
		}
		if err != nil {
			if s.voidedMessage(d.subject, d.seq) {
				// An operator voided it since it was parked (engine.Void):
				// nothing to handle, and what waited behind it goes on.
				return nil
			}
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		return fn(st)
	}
}

// consume runs a durable pull consumer until ctx ends, through the
// failure policy (s.Consumers): log, retry with a pause, park.
//
// Stopping hands back at once what the client had pulled but not handled
// (a Nak), so another instance takes it now rather than after AckWait; a
// crash leaves it to AckWait, kept short because handlers take
// milliseconds.
func (s *Store) consume(ctx context.Context, stream, durable, filter string, maxAckPending, workers int, perSubject bool, fn func(delivery) error) error {
	cfg := consumerConfig(durable, filter, maxAckPending)
	// Where a consumer starts is fixed when it is made (one that took over
	// from others starts where they had got to, TakeOver): an update of
	// its other settings keeps it.
	if cur, err := s.js.Consumer(ctx, stream, durable); err == nil {
		c := cur.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = c.DeliverPolicy, c.OptStartSeq, c.OptStartTime
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	h := &handler{stream: stream, perSubject: perSubject, fn: fn}
	s.handlers.Store(durable, h)
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	restarted, unwatch := s.onRestart(it.Stop)
	defer unwatch()
	// Handlers run on up to workers goroutines: they are idempotent and the
	// server's version check orders writers, so only an ordered consumer
	// (one worker, one message in flight) needs them one at a time.
	sem := make(chan struct{}, max(1, workers))
	var wg sync.WaitGroup
	// The acknowledgements are sent without waiting (below): once the
	// handlers are done, they are flushed to the server before the
	// consumer says it has stopped, so that a shutdown that follows (serve
	// stops its consumers, then its connection and server) does not leave
	// them in the connection's buffer, to be delivered again after the
	// restart.
	defer s.nc.FlushTimeout(2 * time.Second)
	defer wg.Wait()
	handle := func(m jetstream.Msg) {
		if ctx.Err() != nil {
			m.Nak() // stopping: give it back for another instance, now
			return
		}
		md, err := m.Metadata()
		if err != nil {
			s.Consumers.log().Error("consumer got a message without metadata; terminated", "consumer", durable, "subject", m.Subject(), "err", err)
			m.Term()
			return
		}
		d := delivery{stream: stream, subject: m.Subject(), seq: md.Sequence.Stream, time: md.Timestamp, data: m.Data(), deliveries: md.NumDelivered}
		switch s.process(ctx, durable, h, d) {
		case outcomeRetry:
			if ctx.Err() != nil {
				m.Nak()
				return
			}
			m.NakWithDelay(s.Consumers.backoff(d.deliveries))
			return
		}
		// Handled or parked: acknowledge, even while stopping (the work is
		// done; the consumer flushes it before it returns). Not waiting for
		// the server's confirmation: on a cluster that is a
		// raft round per message, which held the worker (and, for the
		// ordered publisher, every next commit) and kept the server from
		// proposing this acknowledgement with the next delivery. A lost
		// acknowledgement means a redelivery, which the handler's
		// idempotency (or the parked and public streams' de-duplication)
		// makes harmless.
		m.Ack()
	}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if restarted() {
				return fmt.Errorf("consumer %s: %w: JetStream started again; pulling afresh", durable, ErrUnavailable)
			}
			return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
		}
		if workers <= 1 {
			handle(m)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			handle(m)
		}()
	}
}

// eventsMaxAckPending bounds the commits an unordered consumer of events
// has in flight across all instances.
const eventsMaxAckPending = 1024

// consumerConfig is a durable consumer's settings, as consume makes it:
// from the start of the stream.
func consumerConfig(durable, filter string, maxAckPending int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       10 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: maxAckPending,
		// The server never gives up on a message by itself (it would drop it
		// with only an advisory): the policy parks it where operators see it.
		MaxDeliver: -1,
	}
}

type outcome int

const (
	outcomeDone outcome = iota
	outcomeRetry
	outcomeParked
	outcomeFenced
)

// process is the failure policy around one delivery, in the manner of a
// router's middleware: order per subject (park behind a parked message),
// recover from a panic, then on failure log, count and either retry or
// park.
func (s *Store) process(ctx context.Context, durable string, h *handler, d delivery) outcome {
	var err error
	if h.perSubject {
		first, found, perr := s.firstParked(ctx, durable, d.subject)
		switch {
		case perr != nil:
			err = perr
		case found && first.StreamSequence == d.seq:
			return outcomeParked // parked already (its acknowledgement was lost)
		case found:
			// Parked behind it already, when read again (a redelivery, or
			// the publisher going over commits again after a start)?
			behind, berr := s.parkedBehind(ctx, durable, d.subject, first.Sequence, d.seq)
			if berr != nil {
				err = berr
			} else if behind {
				return outcomeParked
			} else {
				err = fmt.Errorf("%w: an earlier message on %s (stream sequence %d) is parked; this one waits behind it", ErrPermanent, d.subject, first.StreamSequence)
			}
		}
	}
	if err == nil {
		err = callSafely(h.fn, d)
	}
	if err == nil {
		return outcomeDone
	}
	if errors.Is(err, errFenced) {
		// Not a failure of the message: the public publisher starts again
		// from what another wrote (PublishFollowing).
		return outcomeFenced
	}
	pol := s.Consumers
	f := ConsumerFailure{Consumer: durable, Stream: d.stream, Subject: d.subject, Sequence: d.seq, Deliveries: d.deliveries, Err: err, Outcome: OutcomeRetry}
	attrs := []any{"consumer", durable, "stream", d.stream, "subject", d.subject, "sequence", d.seq, "deliveries", d.deliveries, "err", err}
	park := ctx.Err() == nil && (errors.Is(err, ErrPermanent) || (!errors.Is(err, ErrUnavailable) && d.deliveries >= pol.maxDeliveries()))
	if park {
		if perr := s.park(ctx, durable, d, err); perr != nil {
			pol.log().Error("consumer could not park a failing message; it will be retried", append(attrs, "park_err", perr)...)
		} else {
			f.Outcome = OutcomeParked
			pol.log().Error("consumer parked a message it could not handle; replay it with POST /v1/parked/replay once fixed", attrs...)
			if pol.OnFailure != nil {
				pol.OnFailure(f)
			}
			return outcomeParked
		}
	} else {
		pol.log().Warn("consumer handler failed; retrying", append(attrs, "retry_in", pol.backoff(d.deliveries).String(), "park_after", pol.maxDeliveries())...)
	}
	if pol.OnFailure != nil {
		pol.OnFailure(f)
	}
	return outcomeRetry
}

// callSafely runs a handler, turning a panic into an error, so that a
// message that crashes its handler is retried and parked like any other
// failure instead of taking the process down with it.
func callSafely(fn func(delivery) error, d delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return fn(d)
}

// consumerInfo is where a durable consumer of stream stands, as the
// server says now; the server not answering is ErrUnavailable.
func (s *Store) consumerInfo(ctx context.Context, stream, durable string) (*jetstream.ConsumerInfo, error) {
	c, err := s.js.Consumer(ctx, stream, durable)
	if err != nil {
		return nil, unavailable(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	return info, nil
}

// ConsumerPending is how many messages a durable consumer has yet to see
// or acknowledge.
func (s *Store) ConsumerPending(ctx context.Context, stream, durable string) (uint64, error) {
	info, err := s.consumerInfo(ctx, stream, durable)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// inUse says a client is pulling from (or bound to) the consumer now: an
// engine running it.
func inUse(info *jetstream.ConsumerInfo) bool {
	return info.NumWaiting > 0 || info.PushBound
}

// RemoveConsumer deletes the durable consumer named durable on stream, if
// there is one: a consumer no version of the engine runs any more, whose
// backlog the server would otherwise keep, and count, for ever.
func (s *Store) RemoveConsumer(ctx context.Context, stream, durable string) error {
	err := s.js.DeleteConsumer(ctx, stream, durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("remove consumer %s on %s: %w", durable, stream, unavailable(err))
	}
	return nil
}
