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
	batch := uuid.NewString()
	var ack *jetstream.PubAck
	for i, w := range writes {
		data, err := events.EncodeCommit(w.Commit)
		if err != nil {
			return nil, err
		}
		m := &nats.Msg{Subject: w.Subject, Data: data, Header: nats.Header{}}
		m.Header.Set(jetstream.ExpectedStreamHeader, EventsStream)
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(w.Expected, 10))
		m.Header.Set("Nats-Batch-Id", batch)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if w.MsgID != "" {
			m.Header.Set(jetstream.MsgIDHeader, w.MsgID)
		}
		if i < len(writes)-1 {
			// Only the commit message is acknowledged; the server answers a
			// broken batch there.
			if err := s.nc.PublishMsg(m); err != nil {
				return nil, fmt.Errorf("append atomic to %s: %w", w.Subject, s.writeFailed(err))
			}
			continue
		}
		m.Header.Set("Nats-Batch-Commit", "1")
		ack, err = s.js.PublishMsg(ctx, m)
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
				s.writes.note(nil) // the store took the batch and answered
				return nil, &ConflictError{Subject: writes[0].Subject, Expected: writes[0].Expected}
			}
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInBatch {
				s.writes.note(nil)
				return nil, fmt.Errorf("append atomic to %s: %w", subjectsOf(writes), ErrDuplicate)
			}
			if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeDuplicateInProcess {
				// A copy with the same id is being stored right now: once
				// it is, the sequences this batch expects have moved.
				s.writes.note(nil)
				return nil, &ConflictError{Subject: writes[0].Subject, Expected: writes[0].Expected}
			}
			return nil, fmt.Errorf("append atomic to %s: %w", w.Subject, s.writeFailed(err))
		}
	}
	s.writes.note(nil)
	// The batch's messages are stored consecutively, ending at the ack's.
	seqs := make([]uint64, len(writes))
	for i := range writes {
		seqs[i] = ack.Sequence - uint64(len(writes)-1-i)
	}
	return seqs, nil
}

func subjectsOf(writes []Write) string {
	s := make([]string, len(writes))
	for i, w := range writes {
		s[i] = w.Subject
	}
	return strings.Join(s, ", ")
}
