package eventstore

import (
	"context"
	"errors"
	"fmt"

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
