package engine

import (
	"container/list"
	"context"
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
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	lru   list.List
}

type cacheEntry struct {
	subject string
	stored  []eventstore.Stored
}

func newCommitCache(max int) *commitCache {
	return &commitCache{max: max, items: make(map[string]*list.Element)}
}

func (c *commitCache) get(subject string) ([]eventstore.Stored, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).stored, true
}

// put records a subject's commits, unless the cache already holds more of
// them: it never moves back.
func (c *commitCache) put(subject string, stored []eventstore.Stored) {
	if c == nil {
		return
	}
	stored = slices.Clip(stored)
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
	c.items[subject] = c.lru.PushFront(&cacheEntry{subject: subject, stored: stored})
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
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range subjects {
		if el, ok := c.items[s]; ok {
			c.lru.Remove(el)
			delete(c.items, s)
		}
	}
}
