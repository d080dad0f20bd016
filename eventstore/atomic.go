package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/google/uuid"

	"github.com/ntsflow/ntsflow/events"
)

// Write is one commit of an atomic append: like Append's arguments.
type Write struct {
	Subject  string
	Expected uint64 // the subject's last sequence the writer decided on
	// MsgID, if set, is the id the server deduplicates this message on, as
	// Append's msgID; the ids of one batch must differ.
	MsgID  string
	Commit events.Commit
}

// AppendAtomic stores several commits, each on its own subject with its own
// expected last sequence, all or nothing: JetStream's atomic batch publish
// (ADR-50). The server checks every expected sequence when the batch
// commits; one that moved rejects the whole batch with a *ConflictError
// naming the first write's subject, and nothing is written. It costs a
// staging store per batch (docs/design/atomic-appends.md measures about ten
// single appends' latency), which is why only commands that span two
// aggregates use it.
//
// A write whose MsgID the server already stored (within its duplicate
// window) refuses the whole batch: nothing is written and the error wraps
// ErrDuplicate. The server checks each message's id after the expected
// sequences of the messages before it, so a batch that repeats one already
// stored may first be answered with a *ConflictError, and with
// ErrDuplicate once it is sent again on fresh sequences. The answer names
// no sequence: Load reads the first copy's message id back (Stored.MsgID).
//
// The sequences returned are the stream sequences of the writes, in order.
func (s *Store) AppendAtomic(ctx context.Context, writes ...Write) ([]uint64, error) {
	if len(writes) == 0 {
		return nil, errors.New("append atomic: nothing to write")
	}
	if err := s.refuseWhileFailing(); err != nil {
		return nil, fmt.Errorf("append atomic to %s: %w", writes[0].Subject, err)
	}
	msgs := make([]*nats.Msg, len(writes))
	for i, w := range writes {
		data, err := events.EncodeCommit(w.Commit)
		if err != nil {
			return nil, err
		}
		m := &nats.Msg{Subject: w.Subject, Data: data, Header: nats.Header{}}
		m.Header.Set(jetstream.ExpectedStreamHeader, EventsStream)
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(w.Expected, 10))
		if w.MsgID != "" {
			m.Header.Set(jetstream.MsgIDHeader, w.MsgID)
		}
		msgs[i] = m
	}
	ack, failed, err := s.publishAtomic(ctx, msgs)
	if err != nil {
		switch {
		case wrongLastSequence(err):
			s.writes.note(nil) // the store took the batch and answered
			return nil, &ConflictError{Subject: writes[0].Subject, Expected: writes[0].Expected}
		case apiErrorIs(err, errCodeDuplicateInBatch):
			s.writes.note(nil)
			return nil, fmt.Errorf("append atomic to %s: %w", subjectsOf(writes), ErrDuplicate)
		case apiErrorIs(err, errCodeDuplicateInProcess):
			// A copy with the same id is being stored right now: once
			// it is, the sequences this batch expects have moved.
			s.writes.note(nil)
			return nil, &ConflictError{Subject: writes[0].Subject, Expected: writes[0].Expected}
		}
		return nil, fmt.Errorf("append atomic to %s: %w", writes[failed].Subject, s.writeFailed(err))
	}
	s.writes.note(nil)
	// The batch's messages are stored consecutively, ending at the ack's.
	seqs := make([]uint64, len(writes))
	for i := range writes {
		seqs[i] = ack.Sequence - uint64(len(writes)-1-i)
	}
	return seqs, nil
}

// The atomic batch protocol's headers (nats-server's jetstream_batching,
// ADR-50): nats.go has no API for it yet.
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

// publishAtomic sends msgs as one atomic batch: every message but the last
// without asking an answer (one connection keeps them in order), the last
// as the commit, whose answer (ack, or the server's refusal as a
// *jetstream.APIError) says whether the server stored them all. A send
// that fails names its message: failed is its index.
func (s *Store) publishAtomic(ctx context.Context, msgs []*nats.Msg, opts ...jetstream.PublishOpt) (ack *jetstream.PubAck, failed int, err error) {
	id := uuid.NewString()
	for i, m := range msgs {
		m.Header.Set(batchIDHeader, id)
		m.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return nil, i, err
			}
			continue
		}
		m.Header.Set(batchCommitHeader, "1")
		ack, err := s.js.PublishMsg(ctx, m, opts...)
		return ack, i, err
	}
	return nil, 0, errors.New("an atomic batch of no messages")
}

func subjectsOf(writes []Write) string {
	s := make([]string, len(writes))
	for i, w := range writes {
		s[i] = w.Subject
	}
	return strings.Join(s, ", ")
}
