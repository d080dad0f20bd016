package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TimersStream holds durable timers as JetStream message schedules. The
// server keeps them, replicates them in a cluster and fires them after a
// restart: there is no scheduler of ours.
//
// A timer is a schedule message on nts.timers.schedule.<key> (one per
// subject: a new publish replaces it, a purge cancels it) that the server
// fires, once, onto nts.timers.fired.<key>, where a durable consumer shared
// by every engine instance picks it up.
const TimersStream = "NTS_TIMERS"

const (
	timerSchedulePrefix = "nts.timers.schedule."
	timerFiredPrefix    = "nts.timers.fired."
)

func ensureTimers(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        TimersStream,
		Description: "ntsflow durable timers: message schedules and the messages they fire",
		Subjects:    []string{"nts.timers.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		// No limits are set, so nothing is ever discarded (the server does
		// not allow DiscardNew with schedules).
		AllowMsgSchedules: true,
		Duplicates:        2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", TimersStream, unavailable(err))
	}
	return nil
}

// Timer is a timer's payload: what to do, and when it was due.
type Timer struct {
	Key  string    `json:"key"`
	Data []byte    `json:"data,omitempty"`
	At   time.Time `json:"at"`
}

// Fired is a timer the server has fired.
type Fired struct {
	Timer
	// FiredAt is when the server stored the fired message.
	FiredAt  time.Time
	Sequence uint64
}

// ValidTimerKey: a key is subject tokens (letters, digits, '-', '_'),
// separated by dots.
func validTimerKey(key string) bool {
	if key == "" {
		return false
	}
	for _, tok := range strings.Split(key, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t") {
			return false
		}
	}
	return true
}

// Schedule sets the timer named key to fire at at (to the second, rounded
// up), replacing any timer of that key. A time already past fires at once.
func (s *Store) Schedule(ctx context.Context, key string, at time.Time, data []byte) error {
	if !validTimerKey(key) {
		return fmt.Errorf("schedule: bad timer key %q", key)
	}
	fire := at.UTC().Truncate(time.Second)
	if fire.Before(at) {
		fire = fire.Add(time.Second)
	}
	body, _ := json.Marshal(Timer{Key: key, Data: data, At: at})
	msg := &nats.Msg{Subject: timerSchedulePrefix + key, Data: body}
	_, err := s.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(fire), jetstream.WithScheduleTarget(timerFiredPrefix+key), jetstream.WithExpectStream(TimersStream))
	if err != nil {
		return fmt.Errorf("schedule %s at %s: %w", key, fire.Format(time.RFC3339), unavailable(err))
	}
	return nil
}

// Cancel removes every pending timer whose key is prefix or starts with
// prefix + ".". Timers that already fired are not recalled: their handler
// must check whether they still apply (the deadline saga does).
func (s *Store) Cancel(ctx context.Context, prefix string) error {
	str, err := s.js.Stream(ctx, TimersStream)
	if err != nil {
		return fmt.Errorf("cancel %s: %w", prefix, unavailable(err))
	}
	for _, filter := range []string{timerSchedulePrefix + prefix, timerSchedulePrefix + prefix + ".>"} {
		if err := str.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			return fmt.Errorf("cancel %s: %w", prefix, unavailable(err))
		}
	}
	return nil
}

// PendingTimers counts timers scheduled and not yet fired.
func (s *Store) PendingTimers(ctx context.Context) (uint64, error) {
	str, err := s.js.Stream(ctx, TimersStream)
	if err != nil {
		return 0, unavailable(err)
	}
	info, err := str.Info(ctx, jetstream.WithSubjectFilter(timerSchedulePrefix+">"))
	if err != nil {
		return 0, unavailable(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// ErrPermanent, wrapped by a handler's error, means retrying cannot help:
// the message is acknowledged (and the error logged by the caller) instead
// of being redelivered for ever.
var ErrPermanent = errors.New("permanent failure")

// ConsumeTimers delivers fired timers whose key matches filter (a subject
// pattern over keys, such as "deadline.>") to fn, through the durable
// consumer named durable, shared by every engine instance: each fired timer
// goes to one of them, and comes back if fn fails or the instance dies
// before acknowledging it.
func (s *Store) ConsumeTimers(ctx context.Context, durable, filter string, fn func(Fired) error) error {
	return s.consume(ctx, TimersStream, durable, timerFiredPrefix+filter, 1024, 8, func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
		var t Timer
		if err := json.Unmarshal(m.Data(), &t); err != nil {
			return fmt.Errorf("%w: timer at sequence %d: %v", ErrPermanent, md.Sequence.Stream, err)
		}
		return fn(Fired{Timer: t, FiredAt: md.Timestamp, Sequence: md.Sequence.Stream})
	})
}

// ConsumeEvents delivers commits on subjects matching filter through a
// durable consumer shared by every engine instance (sagas, the publisher),
// from the start of the stream the first time, then from where the
// consumer's acknowledgements left off.
//
// ordered, if true, keeps one commit in flight across all instances, so
// commits are handled strictly in stream order (the publisher needs this;
// the deadline saga does not, and handles many at once).
func (s *Store) ConsumeEvents(ctx context.Context, durable, filter string, ordered bool, fn func(Stored) error) error {
	pending, workers := 1024, 8
	if ordered {
		pending, workers = 1, 1
	}
	return s.consume(ctx, EventsStream, durable, filter, pending, workers, func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
		st, err := storedFromMsg(m, md)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		return fn(st)
	})
}

// consume runs a durable pull consumer until ctx ends. A handler error is
// retried after a pause (redelivery), unless it wraps ErrPermanent.
//
// Stopping hands back at once what the client had pulled but not handled
// (a Nak), so another instance takes it now rather than after AckWait; a
// crash leaves it to AckWait, kept short because handlers take
// milliseconds.
func (s *Store) consume(ctx context.Context, stream, durable, filter string, maxAckPending, workers int, fn func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       10 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, unavailable(err))
	}
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	// Handlers run on up to workers goroutines: they are idempotent and the
	// server's version check orders writers, so only an ordered consumer
	// (one worker, one message in flight) needs them one at a time.
	sem := make(chan struct{}, max(1, workers))
	var wg sync.WaitGroup
	defer wg.Wait()
	handle := func(m jetstream.Msg) {
		if ctx.Err() != nil {
			m.Nak() // stopping: give it back for another instance, now
			return
		}
		md, err := m.Metadata()
		if err != nil {
			m.Term()
			return
		}
		if err := fn(m, md); err != nil && !errors.Is(err, ErrPermanent) {
			if ctx.Err() != nil {
				m.Nak()
				return
			}
			// Leave it to be redelivered after a pause; the handler is
			// idempotent, so a second go is safe.
			m.NakWithDelay(time.Second)
			return
		}
		// Acknowledge even while stopping: the work is done. A failed
		// acknowledgement means a redelivery, which the handler's
		// idempotency makes harmless.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		m.DoubleAck(actx)
		cancel()
	}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
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

func storedFromMsg(m jetstream.Msg, md *jetstream.MsgMetadata) (Stored, error) {
	return storedFrom(md.Sequence.Stream, m.Subject(), md.Timestamp, m.Data())
}

// ConsumerPending is how many messages a durable consumer has yet to see
// or acknowledge.
func (s *Store) ConsumerPending(ctx context.Context, stream, durable string) (uint64, error) {
	c, err := s.js.Consumer(ctx, stream, durable)
	if err != nil {
		return 0, unavailable(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, unavailable(err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
