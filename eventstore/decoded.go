package eventstore

import (
	"bytes"
	"sync/atomic"
	"time"
)

// decodedSlots is how many recent commits the decoded cache holds. The
// followers in one process (the views, the sagas, the publisher) read the
// same commits within moments of each other, and the sagas load the
// aggregates those commits belong to right after: a few thousand recent
// commits cover the distance between the fastest and the slowest of them
// at the rates the engine serves.
const decodedSlots = 4096

// decodedCache keeps recently decoded commits by stream sequence, so that
// each commit is decoded once in a process rather than once per follower
// (five to eight of them read every referral commit) and again for each
// saga's load. A slot is replaced by any later commit with the same
// sequence modulo the size; a hit must carry the same bytes as the message
// being read, so a cache can never answer for a different stream or a
// different message.
//
// What it hands out is shared between goroutines: a Stored's commit, its
// events and their payloads are read-only (folds and deciders never write
// to an event; the engine's commit cache relies on the same rule).
type decodedCache struct {
	slots [decodedSlots]atomic.Pointer[Stored]
	hits  atomic.Uint64
	miss  atomic.Uint64
	keys  *keyring
}

// stored decodes a commit of the events stream, or returns the decoding of
// it another reader in this process did a moment ago.
func (c *decodedCache) stored(seq uint64, subject string, ts time.Time, data []byte) (Stored, error) {
	slot := &c.slots[seq%decodedSlots]
	if p := slot.Load(); p != nil && p.Sequence == seq && bytes.Equal(p.Raw, data) {
		c.hits.Add(1)
		return *p, nil
	}
	c.miss.Add(1)
	gen := c.keys.generation()
	st, err := storedFrom(c.keys, seq, subject, ts, data)
	// Decrypted with a key destroyed meanwhile: handed out this once, as
	// any read in flight, but not kept for the next reader.
	if err == nil && c.keys.generation() == gen {
		slot.Store(&st)
	}
	return st, err
}

// DecodedCacheStats reports how often a commit read from the events stream
// was already decoded in this process (hits) or was decoded (misses).
func (s *Store) DecodedCacheStats() (hits, misses uint64) {
	return s.decoded.hits.Load(), s.decoded.miss.Load()
}

// forget drops every decoding that holds the child's personal data, after
// their key was destroyed. The cache does not index by child, and
// disposals are rare: it drops them all.
func (s *Store) forget(string) {
	for i := range s.decoded.slots {
		s.decoded.slots[i].Store(nil)
	}
}
