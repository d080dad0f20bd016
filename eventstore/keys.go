package eventstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// The children's data keys (issue 24; docs/design/privacy.md).
//
// Each child (a referral id) has one random AES-256 key, stored wrapped
// under the key store's own key (Config.KeyKey) as the only message on
// nts.keys.child.<id> of their own stream, apart from the events. A
// disposal first records nts.keys.disposed.<id> (so no new key can be made
// for the child from then on), then erases the key's message with the
// server's secure delete: nats-server's filestore overwrites the record
// with random bytes and rewrites the block (msgBlock.eraseMsg,
// atomicOverwriteFile), in the file and in its cache, so the key cannot be
// read back from any file of the data directory. The stream is therefore
// never compressed, never encrypted by the server (which turns secure
// erase off) and never purged (a purge drops, it does not overwrite).

// KeysStream holds the children's data keys.
const KeysStream = "NTS_KEYS"

const (
	keySubjectPrefix      = "nts.keys.child."
	disposedSubjectPrefix = "nts.keys.disposed."
)

// ErrNoKey: the child has no key yet (nothing personal recorded).
var ErrNoKey = errors.New("no data key for the child")

// keyring reads, makes and destroys children's keys, keeping those it has
// read in memory. A destruction anywhere is heard by every keyring on the
// same NATS (a plain subscription to the disposal subjects), so no process
// keeps decrypting with a key another has destroyed.
type keyring struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	kek    []byte
	mu     sync.Mutex
	keys   map[string][]byte // nil value: destroyed
	// forgot is told of every destruction heard, to drop what was
	// decrypted with the key.
	forgot func(child string)
	sub    *nats.Subscription
	hooks  []func(child string)
	// gen counts the destructions heard: a decoding that began before one
	// is not cached (decodedCache.stored).
	gen atomic.Uint64
}

func (k *keyring) generation() uint64 {
	if k == nil {
		return 0
	}
	return k.gen.Load()
}

func ensureKeys(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, replicas int, kek []byte, forgot func(string)) (*keyring, error) {
	if len(kek) != events.DataKeySize {
		return nil, fmt.Errorf("the key store's key must be %d bytes, not %d", events.DataKeySize, len(kek))
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        KeysStream,
		Description: "ntsflow: one data key per child, wrapped; erased securely on disposal",
		Subjects:    []string{"nts.keys.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Compression: jetstream.NoCompression,
		// Every read goes to the leader. A direct get may be answered by
		// a follower that has not yet stored a key another instance just
		// made: "no key" there reads as a disposal (the child's events
		// shown as disposed of) and an erase would stop short of the key.
		// A key is read once per child per process, then kept.
		AllowDirect: false,
		DenyPurge:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", KeysStream, unavailable(err))
	}
	k := &keyring{js: js, stream: st, kek: kek, keys: map[string][]byte{}, forgot: forgot}
	k.sub, err = nc.Subscribe(disposedSubjectPrefix+">", func(m *nats.Msg) {
		k.destroyed(strings.TrimPrefix(m.Subject, disposedSubjectPrefix))
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyring) destroyed(child string) {
	k.mu.Lock()
	k.keys[child] = nil
	hooks := k.hooks
	k.mu.Unlock()
	k.gen.Add(1)
	if k.forgot != nil {
		k.forgot(child)
	}
	for _, h := range hooks {
		h(child)
	}
}

// read is the child's key, ErrKeyDestroyed after disposal, ErrNoKey before
// any.
func (k *keyring) read(ctx context.Context, child string) ([]byte, error) {
	if key, ok, err := k.held(child); ok {
		return key, err
	}
	if gone, err := k.isDisposed(ctx, child); err != nil {
		return nil, err
	} else if gone {
		k.destroyed(child)
		return nil, events.ErrKeyDestroyed
	}
	m, err := k.stream.GetLastMsgForSubject(ctx, keySubjectPrefix+child)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNoKey
	} else if err != nil {
		return nil, fmt.Errorf("read child %s's key: %w", child, unavailable(err))
	}
	key, err := events.UnwrapKey(k.kek, m.Data, child)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if _, gone := k.keys[child]; !gone {
		k.keys[child] = key
	}
	k.mu.Unlock()
	return key, nil
}

// held is what this keyring knows of the child's key without asking the
// store: ok, the key or, destroyed, events.ErrKeyDestroyed.
func (k *keyring) held(child string) (key []byte, ok bool, err error) {
	k.mu.Lock()
	key, ok = k.keys[child]
	k.mu.Unlock()
	if ok && key == nil {
		return nil, true, events.ErrKeyDestroyed
	}
	return key, ok, nil
}

func (k *keyring) isDisposed(ctx context.Context, child string) (bool, error) {
	_, err := k.stream.GetLastMsgForSubject(ctx, disposedSubjectPrefix+child)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read child %s's disposal: %w", child, unavailable(err))
	}
	return true, nil
}

// make is the child's key, made and stored if there is none yet.
//
// A key not in memory is written before anything is read: expecting an
// empty subject, the write itself says whether the child has a key (one
// made by another instance, or before a restart, refuses it, and is then
// read). A new child's key, made on their referral's receipt, so costs the
// write and one read of the disposal mark, not two reads more before it.
func (k *keyring) make(ctx context.Context, child string) ([]byte, error) {
	if key, ok, err := k.held(child); ok {
		return key, err
	}
	key := make([]byte, events.DataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, err := events.WrapKey(k.kek, key, child)
	if err != nil {
		return nil, err
	}
	// Expecting an empty subject: of two racing makers one key wins and
	// the other reads it.
	_, err = k.js.Publish(ctx, keySubjectPrefix+child, wrapped, jetstream.WithExpectLastSequencePerSubject(0))
	if apiErrorIs(err, jetstream.JSErrCodeStreamWrongLastSequence) {
		return k.read(ctx, child)
	} else if err != nil {
		return nil, fmt.Errorf("store child %s's key: %w", child, unavailable(err))
	}
	// A child disposed of (whose key was erased, leaving the subject
	// empty), or a disposal that began with this write, erased no key:
	// erase this one, so none outlives the disposal.
	if gone, err := k.isDisposed(ctx, child); err != nil {
		return nil, err
	} else if gone {
		if err := k.erase(ctx, child); err != nil {
			return nil, err
		}
		k.destroyed(child)
		return nil, events.ErrKeyDestroyed
	}
	k.mu.Lock()
	k.keys[child] = key
	k.mu.Unlock()
	return key, nil
}

type disposalMark struct {
	At time.Time `json:"at"`
}

// destroy records the child's disposal in the key store and erases their
// key. Idempotent: a second call (after a crash between the two steps, or
// a repeat) finishes what is left and erases nothing twice.
func (k *keyring) destroy(ctx context.Context, child string, at time.Time) error {
	mark, _ := json.Marshal(disposalMark{At: at.UTC()})
	_, err := k.js.Publish(ctx, disposedSubjectPrefix+child, mark, jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil && !apiErrorIs(err, jetstream.JSErrCodeStreamWrongLastSequence) {
		return fmt.Errorf("record child %s's disposal: %w", child, unavailable(err))
	}
	if err := k.erase(ctx, child); err != nil {
		return err
	}
	k.destroyed(child)
	return nil
}

// erase overwrites every message on the child's key subject.
func (k *keyring) erase(ctx context.Context, child string) error {
	for {
		m, err := k.stream.GetLastMsgForSubject(ctx, keySubjectPrefix+child)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		} else if err != nil {
			return fmt.Errorf("find child %s's key: %w", child, unavailable(err))
		}
		if err := k.stream.SecureDeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("erase child %s's key: %w", child, unavailable(err))
		}
	}
}

// OpenKeys opens the children's key store (creating its stream), with kek
// to wrap and unwrap their keys (events.KeyStoreKey): from then on reads
// unseal personal fields, and DataKey gives the engine keys to seal them.
// Call it once, before the store is read.
func (s *Store) OpenKeys(ctx context.Context, kek []byte) error {
	k, err := ensureKeys(ctx, s.nc, s.js, s.replicas, kek, s.forget)
	if err != nil {
		return err
	}
	s.keys, s.decoded.keys = k, k
	return nil
}

// PreloadKeys reads every child's key and every disposal the key store
// holds into memory, in one pass over its stream: a starting engine's
// views read every sealed event of the log, and one key read per child,
// each a round trip to the stream's leader, was most of a start's time
// (2 s of 2.5 for 3,000 children; BENCHMARKS.md). Keys made or destroyed
// meanwhile are handled as always (make, the disposal subscription); a
// key already known or destroyed is not overwritten. It returns how many
// keys it read.
func (s *Store) PreloadKeys(ctx context.Context) (int, error) {
	if s.keys == nil {
		return 0, errors.New("the children's key store is not open (Store.OpenKeys)")
	}
	return s.keys.preload(ctx)
}

func (k *keyring) preload(ctx context.Context) (int, error) {
	info, err := k.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("preload keys: %w", unavailable(err))
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return 0, nil
	}
	cons, err := k.js.OrderedConsumer(ctx, KeysStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("preload keys: %w", unavailable(err))
	}
	it, release, err := messagesOf(ctx, cons, "preload keys")
	if err != nil {
		return 0, err
	}
	defer release()
	n := 0
	for {
		m, err := it.Next()
		if err != nil {
			return n, notNext(ctx, fmt.Sprintf("preload keys (%d read)", n), err)
		}
		md, err := m.Metadata()
		if err != nil {
			return n, fmt.Errorf("preload keys: %w", err)
		}
		// The stream holds keys and disposals in the order they were
		// recorded, and a disposal is recorded before its key is erased:
		// a key read here and disposed of later is forgotten again below.
		if child, ok := strings.CutPrefix(m.Subject(), keySubjectPrefix); ok {
			key, err := events.UnwrapKey(k.kek, m.Data(), child)
			if err != nil {
				return n, err
			}
			k.mu.Lock()
			if _, known := k.keys[child]; !known {
				k.keys[child] = key
				n++
			}
			k.mu.Unlock()
		} else if child, ok := strings.CutPrefix(m.Subject(), disposedSubjectPrefix); ok {
			k.mu.Lock()
			k.keys[child] = nil
			k.mu.Unlock()
		}
		if md.Sequence.Stream >= last {
			return n, nil
		}
	}
}

// OnKeyDestroyed adds fn to what is told of each key destroyed, here or
// by any process on the same NATS, so that caches above the store (the
// engine's) drop what they decrypted with it. The key store must be open.
func (s *Store) OnKeyDestroyed(fn func(child string)) {
	if s.keys == nil {
		return
	}
	s.keys.mu.Lock()
	s.keys.hooks = append(s.keys.hooks, fn)
	s.keys.mu.Unlock()
}

// DataKey is the child's data key, made on first use: what the engine seals
// a new event's personal fields with. After the child's disposal it is
// events.ErrKeyDestroyed: nothing personal is recorded about them again.
func (s *Store) DataKey(ctx context.Context, child string) ([]byte, error) {
	if s.keys == nil {
		return nil, errors.New("the children's key store is not open (Store.OpenKeys)")
	}
	return s.keys.make(ctx, child)
}

// DestroyKey disposes of the child's personal data: their key is erased
// (idempotent, see keyring.destroy) and everything this process decrypted
// with it is dropped, so every read from then on gives the personal fields
// as disposed of.
func (s *Store) DestroyKey(ctx context.Context, child string, at time.Time) error {
	if s.keys == nil {
		return errors.New("the children's key store is not open (Store.OpenKeys)")
	}
	return s.keys.destroy(ctx, child, at)
}

// KeyDestroyed reports whether the child's key was destroyed.
func (s *Store) KeyDestroyed(ctx context.Context, child string) (bool, error) {
	if s.keys == nil {
		return false, nil
	}
	_, err := s.keys.read(ctx, child)
	switch {
	case errors.Is(err, events.ErrKeyDestroyed):
		return true, nil
	case err == nil, errors.Is(err, ErrNoKey):
		return false, nil
	}
	return false, err
}

// unseal is the one place events leave the store in the clear: every
// sealed event of c gets its personal fields back with its child's key,
// or, with the key destroyed, names them as disposed of. A store opened
// without a key store key (a tool reading raw bytes) leaves them sealed.
func (k *keyring) unseal(c events.Commit) (events.Commit, error) {
	if k == nil {
		return c, nil
	}
	var out []events.Event
	for i, e := range c.Events {
		if e.Sealed == "" {
			continue
		}
		if out == nil {
			out = append([]events.Event(nil), c.Events...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		key, err := k.read(ctx, e.AggregateID)
		cancel()
		switch {
		case errors.Is(err, events.ErrKeyDestroyed):
			key = nil // shown as disposed of
		case errors.Is(err, ErrNoKey):
			// Sealed, so a key was stored before the event was; a disposal
			// records itself before it erases (destroy). Neither key nor
			// disposal is a read that does not see what was written, never
			// a disposal: the reader tries again rather than show the
			// child's data as gone.
			return c, fmt.Errorf("%w: child %s's event %s is sealed, but neither their key nor their disposal can be read", ErrUnavailable, e.AggregateID, e.ID)
		case err != nil:
			return c, err
		}
		if out[i], err = events.Unseal(e, key); err != nil {
			return c, err
		}
	}
	if out != nil {
		c.Events = out
	}
	return c, nil
}

// Disposal is one child's disposal as the key store records it: no
// personal data, so a list of them can be kept anywhere, apart from the
// backups it must be applied to (docs/runbook.md, "Backup and restore").
type Disposal struct {
	Child string    `json:"child"`
	At    time.Time `json:"at"`
}

// Disposals lists every disposal the key store holds, oldest first.
func (s *Store) Disposals(ctx context.Context) ([]Disposal, error) {
	if s.keys == nil {
		return nil, errors.New("the children's key store is not open (Store.OpenKeys)")
	}
	cons, err := s.js.OrderedConsumer(ctx, KeysStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{disposedSubjectPrefix + ">"}})
	if err != nil {
		return nil, fmt.Errorf("list disposals: %w", unavailable(err))
	}
	info, err := s.keys.stream.Info(ctx, jetstream.WithSubjectFilter(disposedSubjectPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("list disposals: %w", unavailable(err))
	}
	want := len(info.State.Subjects)
	var out []Disposal
	for len(out) < want {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return nil, fmt.Errorf("list disposals (%d of %d read): %w", len(out), want, unavailable(err))
		}
		var mark disposalMark
		if err := json.Unmarshal(m.Data(), &mark); err != nil {
			return nil, fmt.Errorf("disposal mark on %s: %w", m.Subject(), err)
		}
		out = append(out, Disposal{Child: strings.TrimPrefix(m.Subject(), disposedSubjectPrefix), At: mark.At})
	}
	return out, nil
}

// Reapply destroys the key of every child in list that the store still
// holds, as after a restore from a backup taken before their disposal:
// a restore must never bring a destroyed key back. It returns how many
// keys it destroyed again; a disposal already in the store is left as is.
func (s *Store) Reapply(ctx context.Context, list []Disposal) (int, error) {
	n := 0
	for _, d := range list {
		if !events.ValidID(d.Child) {
			return n, fmt.Errorf("disposal list: %q is not a referral id", d.Child)
		}
		gone, err := s.KeyDestroyed(ctx, d.Child)
		if err != nil {
			return n, err
		}
		if gone {
			// The mark is there; a key next to it (a disposal cut short)
			// is erased by destroy's repeat.
			if err := s.keys.erase(ctx, d.Child); err != nil {
				return n, err
			}
			continue
		}
		if err := s.DestroyKey(ctx, d.Child, d.At); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
