package eventstore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// RawCommit is a commit as the stream holds it, not yet decoded: what
// ReadRaw delivers, so that a reader can decode elsewhere (on other
// goroutines) and apply in order.
type RawCommit struct {
	Sequence uint64
	Subject  string
	Time     time.Time // when the server stored it
	Data     []byte
	keys     *keyring // unseals on Decode, as every read does
}

// Decode reads the commit as Follow and ReadRange deliver it: one that
// does not decode comes back with Err set and an empty Commit, not as an
// error, so a view counts and skips it exactly as it does when following.
func (r RawCommit) Decode() Stored {
	st, err := storedFrom(r.keys, r.Sequence, r.Subject, r.Time, r.Data)
	if err != nil {
		return Stored{Sequence: r.Sequence, Subject: r.Subject, Time: r.Time, Err: err, Raw: r.Data}
	}
	return st
}

// ReadRaw delivers the messages with sequences from..to, in order,
// undecoded, then returns: ReadRange without the decoding, which is most
// of a long read's cost and which the caller may spread over goroutines
// (views.Fold does). Same ordered consumer as Follow, so the same
// guarantees: no server-side state, gaps and redeliveries repaired by the
// client library.
func (s *Store) ReadRaw(ctx context.Context, from, to uint64, fn func(RawCommit) error) error {
	if from < 1 {
		from = 1
	}
	if to < from {
		return nil
	}
	it, release, err := s.eventsFrom(ctx, from, "read")
	if err != nil {
		return err
	}
	defer release()
	for {
		m, err := it.Next()
		if err != nil {
			return notNext(ctx, "read", err)
		}
		seq, ts, ok := position(m.Reply())
		if !ok {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			seq, ts = md.Sequence.Stream, md.Timestamp
		}
		if seq > to {
			return nil // to itself is gone (a tampered stream): stop after it
		}
		if err := fn(RawCommit{Sequence: seq, Subject: m.Subject(), Time: ts, Data: m.Data(), keys: s.keys}); err != nil {
			return err
		}
		if seq >= to {
			return nil
		}
	}
}

// position reads a message's stream sequence and the time the server
// stored it from its ack subject, as Msg.Metadata does, without
// allocating the rest of the metadata (4% of what a rebuild allocates,
// and the collector scans the view being built once per few MB). ok is
// false for a subject of any other form; ReadRaw then asks Metadata.
//
// The two forms, as nats.go reads them (v1 has 9 tokens, v2 at least 11):
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
func position(reply string) (seq uint64, ts time.Time, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return 0, time.Time{}, false
	}
	seqAt := 3 // v1: tokens after "$JS.ACK."
	switch n := strings.Count(rest, ".") + 1; {
	case n >= 9:
		seqAt = 5 // v2: domain and account hash first
	case n != 7:
		return 0, time.Time{}, false
	}
	var ns uint64
	for i := 0; i <= seqAt+2; i++ {
		tok, after, _ := strings.Cut(rest, ".")
		switch i {
		case seqAt:
			seq, ok = decimal(tok)
		case seqAt + 2:
			ns, found = decimal(tok)
			ok = ok && found
		}
		rest = after
	}
	return seq, time.Unix(0, int64(ns)), ok
}

// decimal reads a token of decimal digits that fits an int64 (a time in
// nanoseconds has 19 digits; 19 digits never overflow a uint64).
func decimal(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, n <= math.MaxInt64
}
