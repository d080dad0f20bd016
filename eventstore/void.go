package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// VoidedIn returns the stream sequences that the void events among stored
// (one subject's commits, in order) name, each voided by a later commit of
// the same subject; nil when there are none, the usual case, so folds pay
// nothing for it.
func VoidedIn(stored []Stored) map[uint64]bool {
	var out map[uint64]bool
	for _, st := range stored {
		for _, seq := range st.Commit.Voids() {
			if seq >= st.Sequence {
				continue // a void names what came before it on the subject
			}
			if out == nil {
				out = map[uint64]bool{}
			}
			out[seq] = true
		}
	}
	return out
}

// unvoidedCorrupt is the first message among stored that does not decode
// and that no later commit voids: as long as there is one, the aggregate
// cannot be read, and Load says so rather than fold a history with a hole
// nobody accounted for.
func unvoidedCorrupt(stored []Stored) error {
	var voided map[uint64]bool
	for _, st := range stored {
		if st.Err == nil {
			continue
		}
		if voided == nil {
			voided = VoidedIn(stored)
		}
		if !voided[st.Sequence] {
			return st.Err
		}
	}
	return nil
}

// ErrNoMessage: the events stream holds no message at that sequence.
var ErrNoMessage = errors.New("the event log holds no message at that stream sequence")

// SubjectAt is the subject of the message at stream sequence seq.
func (s *Store) SubjectAt(ctx context.Context, seq uint64) (string, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", fmt.Errorf("stream sequence %d: %w", seq, ErrNoMessage)
	}
	if err != nil {
		return "", fmt.Errorf("stream sequence %d: %w", seq, unavailable(err))
	}
	return m.Subject, nil
}

// voidedMessage reports whether a void on subject names seq. A consumer
// asks it only of a message that does not decode, so it costs one load
// of one subject, rarely; a load that fails counts as no void (the
// message stays parked, to be replayed later).
func (s *Store) voidedMessage(subject string, seq uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stored, err := s.LoadAll(ctx, subject)
	return err == nil && VoidedIn(stored)[seq]
}
