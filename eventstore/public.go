package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// PublicStream carries the public contract: privacy-safe CloudEvents for
// other services, on their own subjects, apart from the internal log.
const PublicStream = "NTS_PUBLIC"

// PublicMaxConsumers bounds the consumers on the public stream. Subscribing
// services may make their own (a durable each, and ephemeral ones that the
// server removes when idle); each holds state on every server of the
// stream, so a service that makes one per run, or a hostile one, must hit a
// limit rather than exhaust the servers. The engine itself has none there.
const PublicMaxConsumers = 100

func ensurePublic(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	str, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        PublicStream,
		Description: "ntsflow public events: CloudEvents 1.0 in binary mode, no personal data (docs/asyncapi.yaml)",
		Subjects:    []string{events.PublicSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  time.Hour,
		DenyDelete:  true,
		// Applies to a stream created by an earlier version too: the
		// server takes a lower limit on update, keeping what exists.
		MaxConsumers: PublicMaxConsumers,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", PublicStream, unavailable(err))
	}
	return str, nil
}

// PublicMessage is one public event, ready to publish.
type PublicMessage struct {
	Subject string
	Headers map[string]string
	Data    []byte
	// MsgID deduplicates a republish (the source event's id).
	MsgID string
}

// PublicSourceHeader, on a public message, is the sequence in NTS_EVENTS
// of the commit it was made from, and PublicPartHeader which of that
// commit's public messages it is ("2/3": the second of three). The
// publisher resumes after the last message's (PublishFollowing);
// subscribers may ignore both.
const (
	PublicSourceHeader = "ntsflow-source-sequence"
	PublicPartHeader   = "ntsflow-source-part"
)

// PublicReplayedHeader marks a public message published by replaying a
// parked commit (ReplayParked), out of the live order: the publisher
// resumes from the last message without it.
const PublicReplayedHeader = "ntsflow-replayed"

// errFenced: another publisher wrote to the public stream since this one
// last read it (the expected last sequence moved).
var errFenced = errors.New("another publisher wrote to the public stream")

// PublicFollower is what PublishFollowing needs of the publisher.
type PublicFollower struct {
	// Name is the publisher's, for its parked messages and logs.
	Name string
	// Make makes a commit's public messages. Its errors are treated as a
	// durable consumer's handler's are (ConsumerPolicy): retried, and
	// parked when they wrap ErrPermanent or keep failing.
	Make func(Stored) ([]PublicMessage, error)
	// At, if set, hears where the publisher stands: the last commit it
	// has handled and when that was stored, after each commit; on a
	// resume, the commit it resumes after and the time of the public
	// message that says so (zero when not known).
	At func(seq uint64, stored time.Time)
}

// PublishFollowing publishes the public contract from the events stream,
// in order, until ctx ends.
//
// It keeps no consumer on the server. On a cluster a durable consumer of
// every commit costs a replicated, synced write of its state on every node
// for each commit it acknowledges (docs/design/architecture.md); the
// publisher's checkpoint is the public stream itself instead. Each public
// message names the commit it came from (PublicSourceHeader), so a
// publisher starting reads the last one and follows commits from there
// with an ordered consumer, skipping what that commit already published.
// Each message is written expecting the stream's last sequence to be the
// one this publisher last saw: when another instance's publisher wrote in
// between, the write is refused, nothing is doubled, and this one reads
// the stream's end again and goes on from there. So instances may all run
// it, and the public stream keeps the events' order.
//
// A public stream written by a version that kept a durable consumer (or
// by no one) is taken over: from just after that consumer's
// acknowledgement floor, and the consumer is removed once this one has
// published. If it is gone, from an hour (the public stream's
// de-duplication window) before the last public message, the
// de-duplication dropping what was published since.
//
// Failures are handled as a durable consumer's are (ConsumerPolicy): a
// commit is retried with a pause, parked on NTS_PARKED under Name when it
// cannot be handled, and later commits of its subject are parked behind
// it; ReplayParked publishes them through Make when an operator replays
// them, marked PublicReplayedHeader.
func (s *Store) PublishFollowing(ctx context.Context, f PublicFollower) error {
	s.handlers.Store(f.Name, &handler{stream: EventsStream, perSubject: true, fn: s.commitHandler(func(st Stored) error {
		msgs, err := f.Make(st)
		if err != nil {
			return err
		}
		for i, pm := range msgs {
			if _, err := s.publishPublic(ctx, st.Sequence, i, len(msgs), pm, 0, true); err != nil {
				return err
			}
		}
		return nil
	})})
	for {
		at, err := s.publicResume(ctx, f.Name)
		if err != nil {
			return err
		}
		if f.At != nil && at.from > 0 {
			f.At(at.from-1, at.tailTime)
		}
		err = s.publishFrom(ctx, f, at)
		if !errors.Is(err, errFenced) {
			return err
		}
		s.Consumers.log().Info("public stream written by another publisher; going on from its end", "consumer", f.Name)
	}
}

// publicStart is where a publisher starts.
type publicStart struct {
	// from is the first commit to handle; 0 when fromTime says instead.
	from     uint64
	fromTime time.Time
	// skip is how many of commit from's messages were published already.
	skip int
	// last is the public stream's last sequence: the first write's fence.
	last uint64
	// tailTime is when the message resumed from was stored.
	tailTime time.Time
	// takeOver: an older version's durable consumer to remove once this
	// publisher has written.
	takeOver bool
}

// publicResume reads where the public stream says the publisher got to.
func (s *Store) publicResume(ctx context.Context, name string) (publicStart, error) {
	info, err := s.public.Info(ctx)
	if err != nil {
		return publicStart{}, fmt.Errorf("public stream: %w", unavailable(err))
	}
	last := info.State.LastSeq
	var tail *jetstream.RawStreamMsg
	for seq := last; seq >= max(info.State.FirstSeq, 1); seq-- {
		m, err := s.public.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return publicStart{}, fmt.Errorf("public stream sequence %d: %w", seq, unavailable(err))
		}
		if tail == nil {
			tail = m
		}
		if m.Header.Get(PublicReplayedHeader) != "" {
			continue // a replay's, out of the live order: look further back
		}
		src := m.Header.Get(PublicSourceHeader)
		if src == "" {
			break // an older version's: its consumer says where it got to
		}
		from, err := strconv.ParseUint(src, 10, 64)
		part, parts, ok := parsePart(m.Header.Get(PublicPartHeader))
		if err != nil || from == 0 || !ok {
			return publicStart{}, fmt.Errorf("public stream sequence %d: %w: %s %q, %s %q", seq, ErrPermanent, PublicSourceHeader, src, PublicPartHeader, m.Header.Get(PublicPartHeader))
		}
		at := publicStart{from: from, skip: part, last: last, tailTime: m.Time}
		if part == parts {
			at.from, at.skip = from+1, 0
		}
		if head, err := s.LastSequence(ctx); err != nil {
			return publicStart{}, err
		} else if at.from > head+1 {
			// Restored from backups of different moments: the public stream
			// names commits the log does not have. The next commits are
			// new ones, to be published.
			s.Consumers.log().Error("the public stream is ahead of the log (restored from backups of different moments?); publishing from the log's end",
				"consumer", name, "public_source", from, "log_last", head)
			at.from, at.skip = head+1, 0
		}
		return at, nil
	}
	old, err := s.consumerInfo(ctx, EventsStream, name)
	switch {
	case err == nil:
		s.Consumers.log().Info("public publisher taking over from its durable consumer", "consumer", name, "from", old.AckFloor.Stream+1)
		return publicStart{from: old.AckFloor.Stream + 1, last: last, takeOver: true}, nil
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return publicStart{}, err
	case tail == nil:
		return publicStart{from: 1, last: last}, nil
	}
	since := tail.Time.Add(-info.Config.Duplicates)
	s.Consumers.log().Warn("the public stream does not say where its publisher got to, and its consumer is gone: publishing again from the de-duplication window before its last message",
		"consumer", name, "from_time", since, "last_public", last)
	return publicStart{fromTime: since, last: last, tailTime: tail.Time}, nil
}

// publishFrom follows commits from at, publishing each one's public
// messages, until ctx ends, the store fails, or another publisher has
// written (errFenced).
func (s *Store) publishFrom(ctx context.Context, f PublicFollower, at publicStart) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: at.from}
	what := fmt.Sprintf("public publisher from %d", at.from)
	if at.from == 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &at.fromTime}
		what = fmt.Sprintf("public publisher from %s", at.fromTime.Format(time.RFC3339))
	}
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", what, unavailable(err))
	}
	it, release, err := messagesOf(ctx, cons, what)
	if err != nil {
		return err
	}
	defer release()
	restarted, unwatch := s.onRestart(it.Stop)
	defer unwatch()
	fence, takeOver := at.last, at.takeOver
	h := &handler{stream: EventsStream, perSubject: true, fn: s.commitHandler(func(st Stored) error {
		msgs, err := f.Make(st)
		if err != nil {
			return err
		}
		first := 0
		if st.Sequence == at.from {
			first = min(at.skip, len(msgs))
		}
		for i := first; i < len(msgs); i++ {
			seq, err := s.publishPublic(ctx, st.Sequence, i, len(msgs), msgs[i], fence, false)
			if err != nil {
				return err
			}
			if seq > fence {
				fence = seq
				if takeOver {
					takeOver = false
					if err := s.RemoveConsumer(ctx, EventsStream, f.Name); err != nil {
						s.Consumers.log().Warn("could not remove the publisher's old consumer; the next start tries again", "consumer", f.Name, "err", err)
						takeOver = true
					}
				}
			}
		}
		if f.At != nil {
			f.At(st.Sequence, st.Time)
		}
		return nil
	})}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() == nil && restarted() {
				return fmt.Errorf("%s: %w: JetStream started again; following afresh", what, ErrUnavailable)
			}
			return notNext(ctx, what, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		d := delivery{stream: EventsStream, subject: m.Subject(), seq: md.Sequence.Stream, time: md.Timestamp, data: m.Data(), deliveries: 1}
		for {
			o := s.process(ctx, f.Name, h, d)
			if o == outcomeFenced {
				return errFenced
			}
			if o != outcomeRetry {
				break
			}
			// One commit at a time, in order: the next waits for this one,
			// as it did behind the durable consumer's redelivery.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.Consumers.backoff(d.deliveries)):
			}
			d.deliveries++
		}
	}
}

// publishPublic publishes the i-th of the n public messages of the commit
// at source, deduplicated by its id, and returns its sequence (0 when the
// server had it already). A live write expects the stream's last sequence
// to be fence; a replay's is marked instead.
func (s *Store) publishPublic(ctx context.Context, source uint64, i, n int, pm PublicMessage, fence uint64, replay bool) (uint64, error) {
	m := &nats.Msg{Subject: pm.Subject, Data: pm.Data, Header: nats.Header{}}
	for k, v := range pm.Headers {
		m.Header[k] = []string{v} // as given: the CloudEvents binding reads lower-case "ce-" keys
	}
	m.Header[PublicSourceHeader] = []string{strconv.FormatUint(source, 10)}
	m.Header[PublicPartHeader] = []string{strconv.Itoa(i+1) + "/" + strconv.Itoa(n)}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(pm.MsgID), jetstream.WithExpectStream(PublicStream)}
	if replay {
		m.Header[PublicReplayedHeader] = []string{"true"}
	} else {
		opts = append(opts, jetstream.WithExpectLastSequence(fence))
	}
	ack, err := s.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return 0, errFenced
		}
		return 0, fmt.Errorf("publish %s: %w", pm.Subject, unavailable(err))
	}
	if ack.Duplicate {
		return 0, nil
	}
	return ack.Sequence, nil
}

// parsePart reads PublicPartHeader: "i/n", 1 <= i <= n.
func parsePart(h string) (part, parts int, ok bool) {
	a, b, found := strings.Cut(h, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || i < 1 || i > n {
		return 0, 0, false
	}
	return i, n, true
}
