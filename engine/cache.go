package engine

import (
	"container/list"
	"context"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// commitCache keeps the commits of recently used aggregates, by subject,
// least recently used out first. What it holds is always a true prefix of
// the subject's commits (a stored commit never changes), but maybe not all
// of them: another instance, or a command that lost a race, may have
// written since. So the engine trusts it only where the server checks:
//
//   - a command decided on cached commits appends with their last sequence
//     expected, and the server refuses it if the subject has moved: a
//     conflict, a reload, a decision again (loop.go);
//   - an answer the server does not check (a refusal, a stale If-Match) is
//     given only after deciding again on a fresh load;
//   - reads (Engine.Load) use it only as a prefix, reading from the store
//     whatever follows it (eventstore.Store.LoadAfter), so they still
//     return every commit acknowledged before they were called, on a
//     replicated stream too (docs/design/atomic-appends.md).
//
// Slices handed out are shared and must not be modified; a cached entry is
// replaced, never changed in place.
type commitCache struct {
	// shards split the cache by subject, each with its own lock and
	// least-recently-used order: with one lock, commands' puts queued on
	// it once appends no longer queued on the connection (a mutex profile
	// of serve on the R3 cluster, issue 25).
	shards []*cacheShard
}

// cacheShard is one part of the cache: what one lock guards.
type cacheShard struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	lru   list.List
}

type cacheEntry struct {
	subject string
	stored  []eventstore.Stored
}

// shardSize is about how many aggregates a shard holds; a small cache is
// one shard, so that its order is exactly least recently used.
const (
	shardSize = 64
	maxShards = 16
)

func newCommitCache(size int) *commitCache {
	n := min(maxShards, max(1, size/shardSize))
	c := &commitCache{}
	for range n {
		c.shards = append(c.shards, &cacheShard{max: (size + n - 1) / n, items: make(map[string]*list.Element)})
	}
	return c
}

func (c *commitCache) shard(subject string) *cacheShard {
	if len(c.shards) == 1 {
		return c.shards[0]
	}
	h := fnv.New32a()
	h.Write([]byte(subject))
	return c.shards[h.Sum32()%uint32(len(c.shards))]
}

func (c *commitCache) get(subject string) ([]eventstore.Stored, bool) {
	if c == nil {
		return nil, false
	}
	return c.shard(subject).get(subject)
}

// put records a subject's commits, unless the cache already holds more of
// them: it never moves back.
func (c *commitCache) put(subject string, stored []eventstore.Stored) {
	if c == nil {
		return
	}
	c.shard(subject).put(subject, slices.Clip(stored))
}

func (c *cacheShard) get(subject string) ([]eventstore.Stored, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).stored, true
}

func (c *cacheShard) put(subject string, stored []eventstore.Stored) {
	// Made before the lock: an allocation may stop to help the garbage
	// collector, and every command on the shard would wait behind it.
	fresh := &cacheEntry{subject: subject, stored: stored}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		e := el.Value.(*cacheEntry)
		if eventstore.LastSequenceOf(stored) >= eventstore.LastSequenceOf(e.stored) {
			e.stored = stored
		}
		c.lru.MoveToFront(el)
		return
	}
	c.items[subject] = c.lru.PushFront(fresh)
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.items, old.subject)
	}
}

// cache is the engine's commit cache, made on first use; nil when turned
// off (CacheSize < 0).
func (e *Engine) cache() *commitCache {
	e.cacheOnce.Do(func() {
		switch {
		case e.CacheSize < 0:
		case e.CacheSize == 0:
			e.commits = newCommitCache(DefaultCacheSize)
		default:
			e.commits = newCommitCache(e.CacheSize)
		}
	})
	return e.commits
}

// DefaultCacheSize is how many aggregates' commits an engine keeps by
// default: the referrals being worked on now, not the whole scheme (a
// referral's commits are some tens of KiB decoded).
const DefaultCacheSize = 1024

// cached returns the commits the engine holds for subject, for a command
// to decide on; ok is false when it holds none.
func (e *Engine) cached(subject string) ([]eventstore.Stored, bool) {
	return e.cache().get(subject)
}

// load reads a subject's commits, all of those acknowledged before the
// call, reading from the store only what follows those the cache holds,
// and caches the result. Commits the engine appended itself are cached
// without the server's timestamp (the acknowledgement does not carry it):
// load reads them again, so that what it returns is what the store holds.
func (e *Engine) load(ctx context.Context, subject string) ([]eventstore.Stored, error) {
	known, _ := e.cached(subject)
	for i, st := range known {
		if st.Time.IsZero() {
			known = known[:i:i]
			break
		}
	}
	stored, err := e.Store.LoadAfter(ctx, subject, known)
	if err != nil {
		return nil, err
	}
	e.cache().put(subject, stored)
	return stored, nil
}

// replicaLoader is a store that can read a subject from whichever replica
// answers, without asking the leader how far it must read
// (eventstore.Store.LoadFromAnyReplica).
type replicaLoader interface {
	Replicated() bool
	LoadFromAnyReplica(ctx context.Context, subject string) ([]eventstore.Stored, error)
}

// loadForFirstAttempt reads a subject the cache does not hold for a
// command's first attempt, from any replica when the store can: like the
// cache, such a read may be behind the log, and the server's check of the
// append's expected sequence, or deciding again on fresh loads after a
// refusal (loop), makes that safe. It is not cached: a stale read must
// not outlive the attempt. ok is false when the store has no such read.
func (e *Engine) loadForFirstAttempt(ctx context.Context, subject string) (stored []eventstore.Stored, ok bool, err error) {
	rl, ok := e.Store.(replicaLoader)
	if !ok || !rl.Replicated() {
		// One replica: a load is as cheap as it gets, and reads its writes.
		return nil, false, nil
	}
	stored, err = rl.LoadFromAnyReplica(ctx, subject)
	return stored, true, err
}

// appended caches a subject's commits after a command's own append: those
// it decided on (which were all of them, or the server would have refused
// the append) and the new one.
func (e *Engine) appended(subject string, decidedOn []eventstore.Stored, seq uint64, c events.Commit) {
	e.cache().put(subject, append(slices.Clip(decidedOn), eventstore.Stored{Sequence: seq, Subject: subject, Commit: c}))
}

// Forget drops what the engine holds of the subjects, after a disposal:
// their commits were decrypted with a key that no longer exists.
func (e *Engine) Forget(subjects ...string) {
	c := e.cache()
	if c == nil {
		return
	}
	for _, s := range subjects {
		sh := c.shard(s)
		sh.mu.Lock()
		if el, ok := sh.items[s]; ok {
			sh.lru.Remove(el)
			delete(sh.items, s)
		}
		sh.mu.Unlock()
	}
}
