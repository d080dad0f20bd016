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

// The public publisher writes the messages of commits read close together
// as one atomic batch, for fewer synced writes. With fsync on every write
// a single server syncs each message it stores, while a batch costs six
// synced writes however many messages it holds: it is staged in a file
// store of its own (two metadata files written O_SYNC, two directory
// syncs, one of its message block) before the stream's one sync. On a
// cluster the batch is staged in memory and proposed as one raft append,
// synced once on each node where each message was one. BENCHMARKS.md
// (issue 25, stop 32) has the figures.
const (
	// publicLinger is how long the first commit's messages wait for
	// others to join them (less when publicBatchMax fill the batch).
	// Partners read the public contract as steps hours or days apart; a
	// quarter of a second is nothing to them, and at the scheme's busiest
	// it gathers tens of messages.
	publicLinger = 250 * time.Millisecond
	// publicBatchMax bounds a batch well below the server's own limit
	// (1,000 messages by default).
	publicBatchMax = 256
)

// publicBatchMin is the fewest messages worth a batch on a stream of
// replicas: on a single server, enough to outweigh its staging (above);
// on a cluster, two.
func publicBatchMin(replicas int) int {
	if replicas > 1 {
		return 2
	}
	return 8
}

// publicBatch is commits read whose messages wait to be written.
type publicBatch struct {
	commits []madeCommit
	msgs    int
	// due is when the batch is written if it has not filled by then.
	due time.Time
	// last is the last commit read: done once the batch is written.
	last delivery
}

// madeCommit is a commit and the public messages made of it.
type madeCommit struct {
	d    delivery
	msgs []PublicMessage
}

func (b *publicBatch) add(d delivery, msgs []PublicMessage) {
	if len(b.commits) == 0 {
		b.due = time.Now().Add(publicLinger)
	}
	b.commits = append(b.commits, madeCommit{d, msgs})
	b.msgs += len(msgs)
	b.last = d
}

// holds: the batch has a commit on subject.
func (b *publicBatch) holds(subject string) bool {
	for _, c := range b.commits {
		if c.d.subject == subject {
			return true
		}
	}
	return false
}

// flush writes what the batch holds: as one atomic batch when that is
// publicBatchMin messages or more; else, or when the server will not take
// the batch whole, commit by commit through the failure policy
// (writeEach). errFenced when the reader must start again.
func (p *publicRun) flush(ctx context.Context) error {
	for len(p.batch.commits) > 0 && p.at.batches {
		msgs := p.unwritten()
		if len(msgs) < publicBatchMin(p.s.replicas) || !p.batchable(msgs) {
			break
		}
		seq, err := p.s.publishPublicBatch(ctx, msgs, p.at.last)
		if err == nil {
			last := msgs[len(msgs)-1]
			p.wrote(last.source, last.n, seq)
			p.batch.commits = nil
			break
		}
		if errors.Is(err, errFenced) || apiErrorIs(err, errCodeDuplicateInBatch) {
			// Another instance's publisher wrote first. With message ids
			// (as in production) the server finds a message it has before
			// it checks the fence, and says so instead. What the other
			// wrote of this batch is dropped (unwritten), the rest written.
			next, err2 := p.s.publicResume(ctx, p.f.Name)
			if err2 != nil {
				return err2
			}
			if !errors.Is(err, errFenced) && next.last == p.at.last {
				// Nothing written since: the stream had one of the batch's
				// messages before (a publisher going over the
				// de-duplication window again). One at a time, each is
				// deduplicated.
				break
			}
			if err := p.goOnFrom(next, p.batch.commits[0].d.seq); err != nil {
				return err
			}
			continue
		}
		if apiErrorIs(err, errCodeAtomicDisabled) {
			p.at.batches = false
			p.s.Consumers.log().Warn("the public stream takes no atomic batches (its allow_atomic turned off): writing public messages one at a time", "consumer", p.f.Name)
			break
		}
		// A lost answer, a server away: commit by commit, each is retried
		// or parked as a durable consumer's message would be.
		p.s.Consumers.log().Warn("a batch of public messages was not written; writing its commits one at a time", "consumer", p.f.Name, "messages", len(msgs), "err", err)
		break
	}
	for _, c := range p.batch.commits {
		if err := p.writeEach(ctx, c.d); err != nil {
			return err
		}
	}
	p.batch.commits, p.batch.msgs = nil, 0
	p.done()
	return nil
}

// batchable: the server can take msgs as a batch. A message no stream takes
// (the wrong subject) or too large to send would leave the batch staged on
// the server, holding one of its few places for batches until it expires;
// written one at a time, each fails alone (publishPublic parks the first
// kind; the second is the server's refusal).
func (p *publicRun) batchable(msgs []sourcedMessage) bool {
	limit := p.s.js.Conn().MaxPayload()
	for _, m := range msgs {
		if !strings.HasPrefix(m.pm.Subject, events.PublicSubjectPrefix) || int64(len(m.pm.Data)+headerSize(publicMsg(m).Header)+batchHeaderRoom) > limit {
			return false
		}
	}
	return true
}

// headerSize is h's size as NATS sends it ("NATS/1.0\r\n", a line a value,
// and a blank line).
func headerSize(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// batchHeaderRoom is room for what publishPublicBatch adds to a message's
// headers: the batch's id, sequence and commit, the message id, the fence.
const batchHeaderRoom = 512

// unwritten is the batch's messages the public stream does not hold yet,
// in order.
func (p *publicRun) unwritten() []sourcedMessage {
	var out []sourcedMessage
	for _, c := range p.batch.commits {
		if p.skips(c.d.seq) {
			continue
		}
		first := 0
		if c.d.seq == p.at.from {
			first = min(p.at.skip, len(c.msgs))
		}
		for i := first; i < len(c.msgs); i++ {
			out = append(out, sourcedMessage{c.d.seq, i, len(c.msgs), c.msgs[i]})
		}
	}
	return out
}

// publishPublicBatch writes msgs to the public stream as one atomic batch,
// the first expecting the stream's last sequence to be fence, and returns
// the last one's sequence. The server stores all of them or none. (A
// message being written at that moment, 10158, is retried one at a time,
// with a pause, as the failure policy does.)
func (s *Store) publishPublicBatch(ctx context.Context, msgs []sourcedMessage, fence uint64) (uint64, error) {
	batch := make([]*nats.Msg, len(msgs))
	for i, sm := range msgs {
		m := publicMsg(sm)
		if sm.pm.MsgID != "" {
			m.Header.Set(jetstream.MsgIDHeader, sm.pm.MsgID)
		}
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(fence, 10))
		}
		batch[i] = m
	}
	ack, _, err := s.publishAtomic(ctx, batch, jetstream.WithExpectStream(PublicStream))
	if err != nil {
		if wrongLastSequence(err) {
			return 0, errFenced
		}
		return 0, fmt.Errorf("publish a batch of %d public messages: %w", len(msgs), unavailable(err))
	}
	return ack.Sequence, nil
}
