package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ReadsStream is the read audit: one message per read of a child's
// record, on a subject naming the referral and (by a hash) who read it, so
// that both "who looked at this child" and "what did this person look at"
// are one filtered read. It is apart from the events stream on purpose:
// reads are not commands, they never enter a referral's fold or its hash
// chain, and writing them never waits for (or delays) a command's append.
const ReadsStream = "NTS_READS"

const readsPrefix = "nts.reads."

// ReadRecord is one read of a child's record. It names the referral, never
// the child's details.
type ReadRecord struct {
	// ID is unique per read: the message id, so a retried write is stored
	// once.
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Referral string    `json:"referral"`
	// Actor is the token's name (or "anonymous" with authentication off),
	// Person the person within it who said they acted (X-Actor).
	Actor  string `json:"actor"`
	Person string `json:"person,omitempty"`
	Role   string `json:"role,omitempty"`
	// View is what was read: "referral", "history", "subject-access" ...
	View string `json:"view"`
	// Reason is the reader's own, where the read policy asks for one.
	Reason string `json:"reason,omitempty"`
	// Sequence is the record's in NTS_READS, as Reads returns it.
	Sequence uint64 `json:"sequence,omitempty"`
}

// ReaderKey is the subject token that names a reader: a hash of the
// actor's name, since a token name may hold anything a subject may not.
func ReaderKey(actor string) string {
	sum := sha256.Sum256([]byte(actor))
	return hex.EncodeToString(sum[:8])
}

func readSubject(referral, actor string) string {
	return readsPrefix + referral + "." + ReaderKey(actor)
}

// readsStream is the read audit's stream, created on first use: a store
// that never records a read (a verify, a benchmark of appends) leaves no
// stream behind.
type readsStream struct {
	mu  sync.Mutex
	str jetstream.Stream
}

func (s *Store) readsStream(ctx context.Context) (jetstream.Stream, error) {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	if s.reads.str != nil {
		return s.reads.str, nil
	}
	str, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        ReadsStream,
		Description: "ntsflow read audit: who read which child's record, when and why",
		Subjects:    []string{readsPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Duplicates:  10 * time.Minute,
		// The audit of who looked is a record too: nobody deletes from it.
		DenyDelete: true,
		DenyPurge:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", ReadsStream, unavailable(err))
	}
	s.reads.str = str
	return str, nil
}

// AppendReads writes read records, all published before any is waited
// for, and returns the ones the server did not acknowledge (nil when all
// were stored) with the first error. Each is deduplicated on its ID, so
// the caller may simply retry those returned.
func (s *Store) AppendReads(ctx context.Context, recs []ReadRecord) ([]ReadRecord, error) {
	if _, err := s.readsStream(ctx); err != nil {
		return recs, err
	}
	futures := make([]jetstream.PubAckFuture, len(recs))
	var failed []ReadRecord
	var first error
	fail := func(r ReadRecord, err error) {
		failed = append(failed, r)
		if first == nil {
			first = fmt.Errorf("record a read of %s: %w", r.Referral, unavailable(err))
		}
	}
	for i, r := range recs {
		body, err := json.Marshal(r)
		if err != nil {
			fail(r, err)
			continue
		}
		f, err := s.js.PublishMsgAsync(&nats.Msg{Subject: readSubject(r.Referral, r.Actor), Data: body},
			jetstream.WithExpectStream(ReadsStream), jetstream.WithMsgID("read:"+r.ID))
		if err != nil {
			fail(r, err)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			fail(recs[i], err)
		case <-ctx.Done():
			fail(recs[i], ctx.Err())
		}
	}
	return failed, first
}

// ReadsFilter chooses the reads Reads returns: of one referral, by one
// reader (an actor's name), or both; empty fields match any.
type ReadsFilter struct {
	Referral, Actor string
	// Limit keeps the newest Limit records (0: all).
	Limit int
}

// ErrBadReadsFilter: the referral named cannot be part of a subject.
var ErrBadReadsFilter = errors.New("a referral id is letters, digits, '-' or '_'")

// Reads returns the read records the filter matches, oldest first.
func (s *Store) Reads(ctx context.Context, f ReadsFilter) ([]ReadRecord, error) {
	if _, err := s.readsStream(ctx); err != nil {
		return nil, err
	}
	ref, who := "*", "*"
	if f.Referral != "" {
		for _, c := range f.Referral {
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return nil, ErrBadReadsFilter
			}
		}
		ref = f.Referral
	}
	if f.Actor != "" {
		who = ReaderKey(f.Actor)
	}
	cons, err := s.js.OrderedConsumer(ctx, ReadsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{readsPrefix + ref + "." + who}})
	if err != nil {
		return nil, fmt.Errorf("read the read audit: %w", unavailable(err))
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the read audit: %w", unavailable(err))
	}
	var out []ReadRecord
	if info.NumPending == 0 {
		return out, nil
	}
	it, release, err := messagesOf(ctx, cons, "read the read audit")
	if err != nil {
		return nil, err
	}
	defer release()
	for {
		m, err := it.Next()
		if err != nil {
			return nil, notNext(ctx, "read the read audit", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("read the read audit: %w", err)
		}
		var r ReadRecord
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			return nil, fmt.Errorf("read audit record %d does not decode: %w", md.Sequence.Stream, err)
		}
		// A record written for another actor whose hash collides on the
		// subject's 64 bits is not this actor's.
		if f.Actor == "" || r.Actor == f.Actor {
			r.Sequence = md.Sequence.Stream
			out = append(out, r)
			if f.Limit > 0 && len(out) > f.Limit {
				out = out[1:]
			}
		}
		if md.NumPending == 0 {
			return out, nil
		}
	}
}
