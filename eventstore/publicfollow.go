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

// errFenced: the public stream's last sequence was not the one the
// publisher expected. Another instance's publisher wrote first, or a
// write of its own landed whose answer was lost.
var errFenced = errors.New("the public stream moved on")

// PublicFollower is what PublishFollowing needs of the publisher.
type PublicFollower struct {
	// Name is the publisher's, for its parked messages and logs.
	Name string
	// Make makes a commit's public messages; the same commit must always
	// make the same messages. Its errors are treated as a durable
	// consumer's handler's are (ConsumerPolicy): retried, and parked when
	// they wrap ErrPermanent or keep failing.
	Make func(Stored) ([]PublicMessage, error)
	// At, if set, hears where the publisher stands: the last commit it is
	// done with (published, parked, or published by another) and when that
	// commit was stored; on a start, the commit it goes on after.
	At func(seq uint64, stored time.Time)
}

// PublishFollowing publishes the public contract from the events stream,
// in order, until ctx ends.
//
// It keeps no consumer on the server. A durable consumer of every commit
// costs a write of its state for each commit it acknowledges, on a
// cluster a raft append synced on every node (BENCHMARKS.md, issue 25:
// 3.1 per command for the publisher's); the publisher's checkpoint is the
// public stream itself instead. Each public message names the commit it
// came from (PublicSourceHeader, PublicPartHeader), so a publisher starting
// reads the last one and follows commits from there with an ordered
// consumer, skipping what that commit already published.
//
// Each message is written expecting the stream's last sequence to be the
// one this publisher last saw. When another instance's publisher wrote in
// between, the write is refused and this one reads the stream's end again
// and goes on from there, so instances may all run it: the public stream
// keeps the log's order and holds each message once. (Each instance makes
// every commit's messages; the one that writes first is kept.)
//
// A public stream written by an earlier version, which kept a durable
// consumer, is taken over from just after that consumer's acknowledgement
// floor, and the consumer is removed once this publisher has written. It is
// not taken over while something pulls from it (an earlier version still
// running, which would make it again from the start of the log): the
// publisher says so and waits. If that consumer is gone, it publishes
// again from the public stream's de-duplication window before now, which
// drops what it holds already; what the earlier version had not published
// by then is not published (a warning says from when).
//
// Failures are handled as a durable consumer's are (ConsumerPolicy): a
// commit is retried with a pause, parked on NTS_PARKED under Name when it
// cannot be handled, and later commits of its subject are parked behind
// it. ReplayParked publishes a parked commit's messages through Make when
// an operator replays it, marked PublicReplayedHeader; the live publisher
// does not publish that commit again.
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
	for first := true; ; first = false {
		at, err := s.publicResume(ctx, f.Name)
		if err != nil {
			return err
		}
		if first && at.live {
			// Only a start can find these: a resume after a refusal reads
			// what a live publisher of this log just wrote.
			if err := s.notAheadOfLog(ctx, f.Name, &at); err != nil {
				return err
			}
			s.retireOldPublisher(ctx, f.Name)
		}
		if f.At != nil && at.from > 0 {
			var stored time.Time
			if at.from > 1 {
				if m, err := s.stream.GetMsg(ctx, at.from-1); err == nil {
					stored = m.Time
				}
			}
			f.At(at.from-1, stored)
		}
		err = s.publishFrom(ctx, f, at)
		if !errors.Is(err, errFenced) {
			return err
		}
	}
}

// publicStart is where a publisher starts.
type publicStart struct {
	// from is the first commit to handle; 0 when fromTime says instead.
	from     uint64
	fromTime time.Time
	// skip is how many of commit from's messages were published already.
	skip int
	// replayed are commits whose messages a replay published after the
	// last live message: not to be published again.
	replayed map[uint64]bool
	// last is the public stream's last sequence: the first write's fence.
	last uint64
	// live: resumed from a message of this version's live publisher.
	live bool
	// batches: the stream takes atomic batches (its config says so; a
	// server before 2.12 knows no such field, and would store a batch's
	// messages as if each came alone).
	batches bool
	// takeOver: an earlier version's durable consumer to remove once this
	// publisher has written.
	takeOver bool
}

// publicResume reads where the public stream says the publisher got to.
func (s *Store) publicResume(ctx context.Context, name string) (publicStart, error) {
	info, err := s.public.Info(ctx)
	if err != nil {
		return publicStart{}, fmt.Errorf("public stream: %w", unavailable(err))
	}
	at := publicStart{last: info.State.LastSeq, replayed: map[uint64]bool{}, batches: info.Config.AllowAtomicPublish}
	seen := false
	for seq := at.last; seq >= max(info.State.FirstSeq, 1); seq-- {
		m, err := s.public.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return publicStart{}, fmt.Errorf("public stream sequence %d: %w", seq, unavailable(err))
		}
		seen = true
		srcHeader, partHeader := m.Header.Get(PublicSourceHeader), m.Header.Get(PublicPartHeader)
		if srcHeader == "" {
			break // an earlier version's: its consumer says where it got to
		}
		src, srcErr := strconv.ParseUint(srcHeader, 10, 64)
		part, parts, partOK := parsePart(partHeader)
		if srcErr != nil || src == 0 || !partOK {
			s.Consumers.log().Error("a public message's source headers do not parse; read as an earlier version's", "consumer", name, "public_sequence", seq,
				PublicSourceHeader, srcHeader, PublicPartHeader, partHeader)
			break
		}
		if m.Header.Get(PublicReplayedHeader) != "" {
			at.replayed[src] = true // out of the live order: look further back
			continue
		}
		at.from, at.skip, at.live = src, part, true
		if part == parts {
			at.from, at.skip = src+1, 0
		}
		return at, nil
	}
	old, err := s.consumerInfo(ctx, EventsStream, name)
	switch {
	case err == nil:
		if inUse(old) {
			return publicStart{}, fmt.Errorf("%w: an earlier version's publisher is still pulling from the durable consumer %s: stop it (docs/runbook.md, Upgrading to a publisher without a consumer)", ErrUnavailable, name)
		}
		at.from, at.takeOver = old.AckFloor.Stream+1, true
		s.Consumers.log().Info("public publisher taking over from an earlier version's durable consumer", "consumer", name, "from", at.from)
		return at, nil
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return publicStart{}, err
	case !seen:
		at.from = 1
		return at, nil
	}
	// The de-duplication window, counted back from now: what was published
	// since is remembered, and dropped when published again.
	at.fromTime = time.Now().Add(-info.Config.Duplicates)
	s.Consumers.log().Warn("the public stream does not say where its publisher got to, and its consumer is gone: publishing again from the de-duplication window before now; anything older not yet published is not published",
		"consumer", name, "from_time", at.fromTime, "last_public", at.last)
	return at, nil
}

// notAheadOfLog checks a start read from the public stream against the
// log. Restored from backups of different moments, the public stream may
// name commits the log does not have; the next commits are new ones, to be
// published, so the publisher goes on from the log's end.
func (s *Store) notAheadOfLog(ctx context.Context, name string, at *publicStart) error {
	head, err := s.LastSequence(ctx)
	if err != nil {
		return err
	}
	if at.from > head+1 {
		s.Consumers.log().Error("the public stream is ahead of the log (restored from backups of different moments?); publishing from the log's end",
			"consumer", name, "public_from", at.from, "log_last", head)
		at.from, at.skip = head+1, 0
	}
	return nil
}

// retireOldPublisher removes an earlier version's durable consumer left
// behind a take-over (the instance stopped before it could), unless
// something pulls from it.
func (s *Store) retireOldPublisher(ctx context.Context, name string) {
	old, err := s.consumerInfo(ctx, EventsStream, name)
	if err != nil {
		return // none (or the server will be asked on the next start)
	}
	if inUse(old) {
		s.Consumers.log().Error("an earlier version's publisher is still running, through its durable consumer: stop it (docs/runbook.md, Upgrading to a publisher without a consumer)", "consumer", name)
		return
	}
	if err := s.RemoveConsumer(ctx, EventsStream, name); err != nil {
		s.Consumers.log().Warn("could not remove an earlier version's publisher consumer; the next start tries again", "consumer", name, "err", err)
	}
}

// publishFrom follows commits from at, publishing each one's public
// messages, until ctx ends or the store fails; errFenced when it must
// start again from the public stream's end.
//
// It makes each commit's messages as it reads it, and writes them
// publicLinger after the first of them was made (sooner when they fill a
// batch, or a commit must be retried): together, as one atomic batch
// (publicbatch.go).
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
	defer func() {
		release()
		// The server would keep an ordered consumer its client stopped
		// for a while (its inactivity threshold): remove it now.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if info := cons.CachedInfo(); info != nil {
			s.js.DeleteConsumer(dctx, EventsStream, info.Name)
		}
	}()
	restarted, unwatch := s.onRestart(it.Stop)
	defer unwatch()
	p := &publicRun{ctx: ctx, s: s, f: f, at: at}
	p.one = &handler{stream: EventsStream, perSubject: true, fn: s.commitHandler(p.writeOne)}
	p.make = &handler{stream: EventsStream, perSubject: true, fn: s.commitHandler(func(st Stored) error {
		msgs, err := f.Make(st)
		p.made = msgs
		return err
	})}
	for {
		var m jetstream.Msg
		switch wait := time.Until(p.batch.due); {
		case len(p.batch.commits) == 0:
			m, err = it.Next()
		case wait > 0 && p.batch.msgs < publicBatchMax:
			m, err = it.Next(jetstream.NextMaxWait(wait))
		default:
			err = nats.ErrTimeout
		}
		if errors.Is(err, nats.ErrTimeout) && len(p.batch.commits) > 0 {
			if err := p.flush(ctx); err != nil {
				return err
			}
			continue
		}
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
		if err := p.read(ctx, d); err != nil {
			return err
		}
	}
}

// publicRun is one run of publishFrom: where it stands, and the commits
// whose messages wait to be written.
type publicRun struct {
	// ctx is publishFrom's, for the handlers, which the failure policy
	// calls without one.
	ctx context.Context
	s   *Store
	f   PublicFollower
	at  publicStart
	// make makes a commit's messages into made; one makes and writes them
	// at once, commit by commit (writeOne). Both go through the failure
	// policy (Store.process).
	make, one *handler
	made      []PublicMessage
	batch     publicBatch
}

// skips: done already. Before where the public stream says the live
// publisher got to (another instance's went ahead), or published by a
// replay.
func (p *publicRun) skips(seq uint64) bool {
	return seq < p.at.from || p.at.replayed[seq]
}

// read makes commit d's messages and adds them to the batch, retrying
// with a pause while the failure policy says so.
func (p *publicRun) read(ctx context.Context, d delivery) error {
	if !p.skips(d.seq) && p.batch.holds(d.subject) {
		// An earlier commit of its referral waits in the batch, so none of
		// the referral's is parked: made here, this one may join it. If it
		// fails, the batch is written first, so that it is not parked
		// ahead of that commit (which would then be parked behind it), and
		// it is made again below, where its failure is logged and counted.
		p.made = nil
		if err := callSafely(p.make.fn, d); err == nil {
			p.add(d)
			return nil
		}
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	for {
		o := outcomeDone
		p.made = nil
		if !p.skips(d.seq) {
			o = p.s.process(ctx, p.f.Name, p.make, d)
		}
		if o == outcomeParked {
			p.made = nil // whatever a failing Make gave is not published
		}
		if o == outcomeDone || o == outcomeParked {
			p.add(d)
			return nil
		}
		// Write what waits first: it should not wait on this commit's
		// retries.
		if err := p.flush(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.s.Consumers.backoff(d.deliveries)):
		}
		d.deliveries++
	}
}

// add adds commit d, read and made (p.made), to the batch.
func (p *publicRun) add(d delivery) {
	if len(p.made) > 0 {
		p.batch.add(d, p.made)
		return
	}
	p.batch.last = d
	if len(p.batch.commits) == 0 {
		p.done()
	}
}

// done tells the follower where the publisher stands: the last commit read,
// now that everything read is written.
func (p *publicRun) done() {
	if p.f.At != nil && p.batch.last.seq > 0 {
		p.f.At(p.batch.last.seq, p.batch.last.time)
	}
}

// writeOne makes and writes one commit's messages, one at a time: the way
// a batch's commits go when the batch cannot be written whole.
func (p *publicRun) writeOne(st Stored) error {
	msgs, err := p.f.Make(st)
	if err != nil {
		return err
	}
	first := 0
	if st.Sequence == p.at.from {
		first = min(p.at.skip, len(msgs))
	}
	for i := first; i < len(msgs); i++ {
		seq, err := p.s.publishPublic(p.ctx, st.Sequence, i, len(msgs), msgs[i], p.at.last, false)
		if err != nil {
			return err
		}
		// Written (or, answered as a duplicate, written before): a
		// retry of this commit goes on after it.
		p.wrote(st.Sequence, i+1, seq)
	}
	return nil
}

// wrote notes that the public stream holds the first part messages of
// commit src, the last written at public sequence seq (0: the server had
// it already).
func (p *publicRun) wrote(src uint64, part int, seq uint64) {
	p.at.from, p.at.skip = src, part
	if seq > p.at.last {
		p.at.last = seq
		if p.at.takeOver {
			p.at.takeOver = false
			p.s.retireOldPublisher(p.ctx, p.f.Name)
		}
	}
}

// writeEach writes the commit d through the failure policy, one message
// at a time, retrying with a pause; errFenced when the reader must start
// again from the public stream's end.
func (p *publicRun) writeEach(ctx context.Context, d delivery) error {
	for {
		if p.skips(d.seq) {
			return nil
		}
		switch p.s.process(ctx, p.f.Name, p.one, d) {
		case outcomeDone, outcomeParked:
			return nil
		case outcomeFenced:
			if err := p.refenced(ctx, d.seq); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.s.Consumers.backoff(d.deliveries)):
		}
		d.deliveries++
	}
}

// refenced reads the stream's end again after a refused write of commit
// seq's messages, and goes on from there (goOnFrom).
func (p *publicRun) refenced(ctx context.Context, seq uint64) error {
	next, err := p.s.publicResume(ctx, p.f.Name)
	if err != nil {
		return err
	}
	return p.goOnFrom(next, seq)
}

// goOnFrom takes next, read from the stream's end after a refused write of
// commit seq's messages. Where it says is at or after that commit (another
// instance's publisher is level or ahead), the run goes on with its
// reader; anywhere else, errFenced: a new one.
func (p *publicRun) goOnFrom(next publicStart, seq uint64) error {
	if !next.live || next.from < seq {
		return errFenced
	}
	p.at = next
	return nil
}

// publishPublic publishes the i-th of the n public messages of the commit
// at source, deduplicated by its id, and returns its sequence (0 when the
// server had it already). A live write expects the stream's last sequence
// to be fence; a replay's is marked instead.
func (s *Store) publishPublic(ctx context.Context, source uint64, i, n int, pm PublicMessage, fence uint64, replay bool) (uint64, error) {
	if !strings.HasPrefix(pm.Subject, events.PublicSubjectPrefix) {
		// No stream would ever take it (the server answers "no
		// responders", as when it is away): parked, not retried for ever.
		return 0, fmt.Errorf("%w: public message on %s, outside %s>", ErrPermanent, pm.Subject, events.PublicSubjectPrefix)
	}
	m := publicMsg(sourcedMessage{source, i, n, pm})
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(pm.MsgID), jetstream.WithExpectStream(PublicStream)}
	if replay {
		m.Header[PublicReplayedHeader] = []string{"true"}
	} else {
		opts = append(opts, jetstream.WithExpectLastSequence(fence))
	}
	ack, err := s.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		if wrongLastSequence(err) {
			return 0, errFenced
		}
		return 0, fmt.Errorf("publish %s: %w", pm.Subject, unavailable(err))
	}
	if ack.Duplicate {
		return 0, nil
	}
	return ack.Sequence, nil
}

// sourcedMessage is the i-th of the n public messages of the commit at
// source.
type sourcedMessage struct {
	source uint64
	i, n   int
	pm     PublicMessage
}

// publicMsg is m as written to the public stream, naming its source.
func publicMsg(m sourcedMessage) *nats.Msg {
	msg := &nats.Msg{Subject: m.pm.Subject, Data: m.pm.Data, Header: nats.Header{}}
	for k, v := range m.pm.Headers {
		msg.Header[k] = []string{v} // as given: the CloudEvents binding reads lower-case "ce-" keys
	}
	msg.Header[PublicSourceHeader] = []string{strconv.FormatUint(m.source, 10)}
	msg.Header[PublicPartHeader] = []string{strconv.Itoa(m.i+1) + "/" + strconv.Itoa(m.n)}
	return msg
}
