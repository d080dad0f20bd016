package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ParkedStream holds the messages a consumer could not handle: one record
// per parked message, naming the consumer, the message's stream, subject
// and sequence, how often it was delivered and the last error. The message
// itself stays where it is (the events stream is never edited); replaying
// reads it from there and hands it to the consumer's handler again.
const ParkedStream = "NTS_PARKED"

const parkedPrefix = "nts.parked."

func ensureParked(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	str, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ParkedStream,
		Description: "ntsflow parked messages: what a saga or the publisher could not handle, for operators to see and replay",
		Subjects:    []string{parkedPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", ParkedStream, unavailable(err))
	}
	return str, nil
}

// Parked is one parked message.
type Parked struct {
	// Sequence is the record's sequence in NTS_PARKED: what replay names.
	Sequence       uint64    `json:"sequence"`
	Consumer       string    `json:"consumer"`
	Stream         string    `json:"stream"`
	Subject        string    `json:"subject"`
	StreamSequence uint64    `json:"streamSequence"`
	Deliveries     uint64    `json:"deliveries"`
	Error          string    `json:"error"`
	ParkedAt       time.Time `json:"parkedAt"`
	StoredAt       time.Time `json:"storedAt"`
}

// ErrNotParked: no parked message has that sequence.
var ErrNotParked = errors.New("no such parked message")

// ErrNotHere: the parked message's consumer does not run on this instance
// (started with --no-sagas, say), so it cannot be replayed here.
var ErrNotHere = errors.New("the consumer does not run on this instance")

func parkedSubject(consumer, subject string) string {
	return parkedPrefix + consumer + "." + subject
}

// park records a message a consumer gave up on.
func (s *Store) park(ctx context.Context, consumer string, d delivery, cause error) error {
	p := Parked{Consumer: consumer, Stream: d.stream, Subject: d.subject, StreamSequence: d.seq, Deliveries: d.deliveries,
		Error: cause.Error(), ParkedAt: time.Now().UTC(), StoredAt: d.time}
	body, _ := json.Marshal(p)
	msg := &nats.Msg{Subject: parkedSubject(consumer, d.subject), Data: body}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := s.js.PublishMsg(pctx, msg, jetstream.WithExpectStream(ParkedStream),
		jetstream.WithMsgID("park:"+consumer+":"+d.stream+":"+strconv.FormatUint(d.seq, 10)))
	if err != nil {
		return fmt.Errorf("park %s sequence %d for %s: %w", d.stream, d.seq, consumer, unavailable(err))
	}
	return nil
}

// parkedStream is the parked stream, opened once with the store: the
// ordered publisher asks it about every commit, and fetching the stream's
// info each time cost a request (about 4% of serve's CPU) that a handle
// kept from Open does not.
func (s *Store) parkedStream(context.Context) (jetstream.Stream, error) {
	return s.parked, nil
}

// firstParked is the oldest parked record of consumer on subject, if any.
func (s *Store) firstParked(ctx context.Context, consumer, subject string) (Parked, bool, error) {
	str, err := s.parkedStream(ctx)
	if err != nil {
		return Parked{}, false, err
	}
	return nextParked(ctx, str, 1, parkedSubject(consumer, subject))
}

// parkedBehind says whether consumer parked the message at stream
// sequence seq on subject, after its record at parked sequence after.
func (s *Store) parkedBehind(ctx context.Context, consumer, subject string, after, seq uint64) (bool, error) {
	for from := after + 1; ; {
		p, ok, err := nextParked(ctx, s.parked, from, parkedSubject(consumer, subject))
		if err != nil || !ok {
			return false, err
		}
		if p.StreamSequence == seq {
			return true, nil
		}
		from = p.Sequence + 1
	}
}

func nextParked(ctx context.Context, str jetstream.Stream, from uint64, filter string) (Parked, bool, error) {
	m, err := str.GetMsg(ctx, from, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Parked{}, false, nil
	}
	if err != nil {
		return Parked{}, false, unavailable(err)
	}
	var p Parked
	if err := json.Unmarshal(m.Data, &p); err != nil {
		return Parked{}, false, fmt.Errorf("parked record %d: %w", m.Sequence, err)
	}
	p.Sequence = m.Sequence
	return p, true, nil
}

// ListParked lists parked messages, oldest first (at most limit, 0: all).
func (s *Store) ListParked(ctx context.Context, limit int) ([]Parked, error) {
	str, err := s.parkedStream(ctx)
	if err != nil {
		return nil, err
	}
	out := []Parked{}
	for from := uint64(1); limit <= 0 || len(out) < limit; {
		p, ok, err := nextParked(ctx, str, from, parkedPrefix+">")
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		out = append(out, p)
		from = p.Sequence + 1
	}
	return out, nil
}

// ParkedCounts counts parked messages by consumer.
func (s *Store) ParkedCounts(ctx context.Context) (map[string]uint64, error) {
	str, err := s.parkedStream(ctx)
	if err != nil {
		return nil, err
	}
	info, err := str.Info(ctx, jetstream.WithSubjectFilter(parkedPrefix+">"))
	if err != nil {
		return nil, unavailable(err)
	}
	out := map[string]uint64{}
	for subj, n := range info.State.Subjects {
		consumer, _, _ := strings.Cut(strings.TrimPrefix(subj, parkedPrefix), ".")
		out[consumer] += n
	}
	return out, nil
}

// Replayed is the outcome of replaying one parked message.
type Replayed struct {
	Parked
	// Outcome: "replayed" (handled, and the record removed), "failed"
	// (still parked; Err says why) or "waiting" (an earlier message of the
	// same subject is still parked: replay that first).
	Outcome string `json:"outcome"`
	Err     string `json:"replayError,omitempty"`
}

// ReplayParked hands parked messages back to their consumers' handlers on
// this instance, oldest first: the one of sequence seq, or every one when
// seq is 0. A message handled removes its record; one that fails again
// stays parked with the error returned. For consumers that keep order per
// subject, a message is not replayed while an earlier one of its subject is
// still parked.
func (s *Store) ReplayParked(ctx context.Context, seq uint64) ([]Replayed, error) {
	str, err := s.parkedStream(ctx)
	if err != nil {
		return nil, err
	}
	var todo []Parked
	if seq != 0 {
		p, ok, err := nextParked(ctx, str, seq, parkedPrefix+">")
		if err != nil {
			return nil, err
		}
		if !ok || p.Sequence != seq {
			return nil, fmt.Errorf("parked sequence %d: %w", seq, ErrNotParked)
		}
		todo = []Parked{p}
	} else if todo, err = s.ListParked(ctx, 0); err != nil {
		return nil, err
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Sequence < todo[j].Sequence })
	out := []Replayed{}
	for _, p := range todo {
		r := Replayed{Parked: p, Outcome: "replayed"}
		if err := s.replayOne(ctx, str, p); err != nil {
			if errors.Is(err, ErrNotHere) && seq != 0 {
				return nil, err
			}
			r.Outcome, r.Err = "failed", err.Error()
			if errors.Is(err, errWaiting) {
				r.Outcome = "waiting"
			}
		}
		out = append(out, r)
	}
	return out, nil
}

var errWaiting = errors.New("an earlier message of this subject is still parked")

func (s *Store) replayOne(ctx context.Context, str jetstream.Stream, p Parked) error {
	name := p.Consumer
	if to, joined := s.replaced.Load(name); joined {
		// Parked by a consumer since joined into another (TakeOver): that
		// one's handler does the work now.
		name = to.(string)
	}
	v, ok := s.handlers.Load(name)
	if !ok {
		return fmt.Errorf("%s: %w", p.Consumer, ErrNotHere)
	}
	h := v.(*handler)
	if h.perSubject {
		first, found, err := s.firstParked(ctx, p.Consumer, p.Subject)
		if err != nil {
			return err
		}
		if found && first.Sequence < p.Sequence {
			return fmt.Errorf("%w (parked sequence %d)", errWaiting, first.Sequence)
		}
	}
	src, err := s.js.Stream(ctx, p.Stream)
	if err != nil {
		return unavailable(err)
	}
	m, err := src.GetMsg(ctx, p.StreamSequence)
	if err != nil {
		return fmt.Errorf("read %s sequence %d: %w", p.Stream, p.StreamSequence, unavailable(err))
	}
	d := delivery{stream: p.Stream, subject: m.Subject, seq: m.Sequence, time: m.Time, data: m.Data, deliveries: p.Deliveries + 1}
	if err := callSafely(h.fn, d); err != nil {
		s.Consumers.log().Error("replay of a parked message failed; it stays parked", "consumer", p.Consumer, "stream", p.Stream, "sequence", p.StreamSequence, "parked_sequence", p.Sequence, "err", err)
		return err
	}
	if err := str.DeleteMsg(ctx, p.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("replayed, but the parked record %d stays: %w", p.Sequence, unavailable(err))
	}
	s.Consumers.log().Info("parked message replayed", "consumer", p.Consumer, "stream", p.Stream, "sequence", p.StreamSequence, "parked_sequence", p.Sequence)
	return nil
}
