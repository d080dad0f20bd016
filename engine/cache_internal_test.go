package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// The default cache is split into shards, each under its own lock: a
// command putting one referral's commits does not wait for another
// referral's shard, held here as a stalled holder would hold it (on the R3
// cluster the one lock of before was where commands queued, issue 25).
func TestCacheShardsDoNotWaitForEachOther(t *testing.T) {
	c := newCommitCache(DefaultCacheSize)
	if len(c.shards) != maxShards {
		t.Fatalf("%d shards for %d aggregates, want %d", len(c.shards), DefaultCacheSize, maxShards)
	}
	held := c.shard("nts.events.referral.held")
	other := ""
	for i := 0; other == ""; i++ {
		if s := fmt.Sprint("nts.events.referral.r", i); c.shard(s) != held {
			other = s
		}
	}
	held.mu.Lock()
	defer held.mu.Unlock()
	done := make(chan bool)
	go func() {
		c.put(other, []eventstore.Stored{{Sequence: 7, Subject: other}})
		got, ok := c.get(other)
		done <- ok && len(got) == 1 && got[0].Sequence == 7
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the other shard did not keep what was put")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a put on another referral waited for the held shard's lock")
	}
}

// A small cache is one shard, least recently used out first, exactly.
func TestSmallCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newCommitCache(3)
	if len(c.shards) != 1 {
		t.Fatalf("%d shards for 3 aggregates, want 1", len(c.shards))
	}
	for _, s := range []string{"a", "b", "c"} {
		c.put(s, []eventstore.Stored{{Sequence: 1, Subject: s}})
	}
	c.get("a") // a is now the most recently used
	c.put("d", []eventstore.Stored{{Sequence: 1, Subject: "d"}})
	for s, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := c.get(s); ok != want {
			t.Errorf("%s held %v, want %v", s, ok, want)
		}
	}
}
