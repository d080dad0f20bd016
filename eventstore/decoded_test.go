package eventstore

import (
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

func encodedCommit(t *testing.T, id string) []byte {
	t.Helper()
	b, err := events.EncodeCommit(events.Commit{Command: "test", Events: []events.Event{{
		ID: id, Type: events.TypePlacementSearched, SchemaVersion: 1, AggregateID: "r1",
		OccurredAt: time.Unix(0, 0).UTC(), RecordedAt: time.Unix(0, 0).UTC(), Actor: "t",
		Data: events.PlacementSearched{Track: "in-house", OffersFound: 1},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Given a commit decoded once, when it is read again it is not decoded
// again; a different message at the same sequence (another stream, a
// recreated one) or a sequence sharing its slot is never answered from
// the cache.
func TestDecodedCacheAnswersOnlyForTheSameMessage(t *testing.T) {
	var c decodedCache
	a, b := encodedCommit(t, "a"), encodedCommit(t, "b")
	read := func(seq uint64, data []byte) string {
		t.Helper()
		st, err := c.stored(seq, "nts.referral.r1", time.Unix(1, 0), data)
		if err != nil {
			t.Fatal(err)
		}
		return st.Commit.Events[0].ID
	}
	if got := read(7, a); got != "a" {
		t.Fatalf("first read: %s", got)
	}
	if got := read(7, a); got != "a" || c.hits.Load() != 1 || c.miss.Load() != 1 {
		t.Fatalf("second read of the same message: %s, hits %d misses %d; want a hit", got, c.hits.Load(), c.miss.Load())
	}
	if got := read(7, b); got != "b" {
		t.Fatalf("another message at sequence 7 answered as %s", got)
	}
	if got := read(7+decodedSlots, a); got != "a" || c.miss.Load() != 3 {
		t.Fatalf("sequence sharing the slot: %s, misses %d", got, c.miss.Load())
	}
	if got := read(7, b); got != "b" || c.miss.Load() != 4 {
		t.Fatalf("evicted sequence: %s, misses %d; want a fresh decode", got, c.miss.Load())
	}
	if _, err := c.stored(8, "nts.referral.r1", time.Unix(1, 0), []byte(`{"not":"a commit"}`)); err == nil {
		t.Fatal("a foreign message decoded")
	}
	if p := c.slots[8].Load(); p != nil {
		t.Fatal("a message that did not decode was cached")
	}
}
