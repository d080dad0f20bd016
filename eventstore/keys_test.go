package eventstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

func kek(t *testing.T) []byte {
	k := make([]byte, events.DataKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// Issue 24, item 1: a destroyed key cannot be read back from any file of
// the data directory. The key is found there before (so the scan can
// see it), and nowhere after, with the server's files written out.
func TestDestroyedKeyIsInNoFileOfTheDataDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Durable: true})
	// No wrapping here, so the key's own bytes are what lies on disk.
	plain := make([]byte, events.DataKeySize)
	if err := n.Store.OpenKeys(ctx, plain); err != nil {
		t.Fatal(err)
	}
	key, err := n.Store.DataKey(ctx, "r-scan")
	if err != nil {
		t.Fatal(err)
	}
	other, err := n.Store.DataKey(ctx, "r-kept")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := n.Store.StoredKey(ctx, "r-scan")
	if err != nil {
		t.Fatal(err)
	}
	if got := storetest.FilesHolding(t, n.Dir, raw); len(got) == 0 {
		t.Fatal("the stored key is in no file before its destruction: the scan cannot see it")
	}
	if err := n.Store.DestroyKey(ctx, "r-scan", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := n.Store.DestroyKey(ctx, "r-scan", time.Now()); err != nil {
		t.Fatalf("a second destruction: %v", err)
	}
	if _, err := n.Store.DataKey(ctx, "r-scan"); !errors.Is(err, events.ErrKeyDestroyed) {
		t.Errorf("a key was made again after disposal: %v", err)
	}
	if again, err := n.Store.DataKey(ctx, "r-kept"); err != nil || !bytes.Equal(again, other) {
		t.Errorf("another child's key changed: %v", err)
	}
	dir := n.Dir
	n.Stop()
	if got := storetest.FilesHolding(t, dir, raw, key); len(got) > 0 {
		t.Errorf("the destroyed key is still in %v", got)
	}
	// Read back after a restart: destroyed stays destroyed.
	m := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	if err := m.Store.OpenKeys(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if gone, err := m.Store.KeyDestroyed(ctx, "r-scan"); err != nil || !gone {
		t.Errorf("after a restart: destroyed %v, %v", gone, err)
	}
}

// Two makers racing for a child's first key get the same key.
func TestRacingKeyMakersAgree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{})
	k := kek(t)
	second, err := eventstore.Open(ctx, n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*eventstore.Store{n.Store, second} {
		if err := s.OpenKeys(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys := make(chan []byte, 2)
	for _, s := range []*eventstore.Store{n.Store, second} {
		go func() {
			key, err := s.DataKey(ctx, "r-race")
			if err != nil {
				t.Error(err)
			}
			keys <- key
		}()
	}
	a, b := <-keys, <-keys
	if !bytes.Equal(a, b) {
		t.Error("two racing makers kept different keys")
	}
	// One store's destruction is heard by the other.
	if err := n.Store.DestroyKey(ctx, "r-race", time.Now()); err != nil {
		t.Fatal(err)
	}
	if !storetest.WaitFor(5*time.Second, func() bool {
		gone, err := second.KeyDestroyed(ctx, "r-race")
		return err == nil && gone
	}) {
		t.Error("the other store still holds the destroyed key")
	}
}

// Issue 24, item 8: a backup taken before a disposal holds the child's
// key. Restored, it would bring the key back; the disposals recorded since
// (listed from the live store, no personal data in the list) are applied
// again, and the key is gone once more, from every file.
func TestARestoreNeverResurrectsADestroyedKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	k := kek(t)
	dir := t.TempDir()
	n := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	if err := n.Store.OpenKeys(ctx, k); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"r-gone", "r-kept"} {
		if _, err := n.Store.DataKey(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	wrapped, err := n.Store.StoredKey(ctx, "r-gone")
	if err != nil {
		t.Fatal(err)
	}
	n.Stop()
	backup := t.TempDir()
	storetest.CopyDir(t, dir, backup)

	n = storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	if err := n.Store.OpenKeys(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := n.Store.DestroyKey(ctx, "r-gone", time.Now()); err != nil {
		t.Fatal(err)
	}
	list, err := n.Store.Disposals(ctx)
	if err != nil || len(list) != 1 || list[0].Child != "r-gone" {
		t.Fatalf("disposals %+v, %v", list, err)
	}
	n.Stop()

	// The restore: the data directory replaced by the backup.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	storetest.CopyDir(t, backup, dir)
	n = storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	if err := n.Store.OpenKeys(ctx, k); err != nil {
		t.Fatal(err)
	}
	if gone, _ := n.Store.KeyDestroyed(ctx, "r-gone"); gone {
		t.Fatal("the backup did not hold the key: the test shows nothing")
	}
	again, err := n.Store.Reapply(ctx, list)
	if err != nil || again != 1 {
		t.Fatalf("reapplied %d, %v", again, err)
	}
	if again, err := n.Store.Reapply(ctx, list); err != nil || again != 0 {
		t.Errorf("a second reapply destroyed %d, %v", again, err)
	}
	if gone, err := n.Store.KeyDestroyed(ctx, "r-gone"); err != nil || !gone {
		t.Errorf("after the reapply: destroyed %v, %v", gone, err)
	}
	if gone, err := n.Store.KeyDestroyed(ctx, "r-kept"); err != nil || gone {
		t.Errorf("another child's key: destroyed %v, %v", gone, err)
	}
	n.Stop()
	if hits := storetest.FilesHolding(t, dir, wrapped); len(hits) > 0 {
		t.Errorf("the restored key is still in %v", hits)
	}
	if _, err := n.Store.Reapply(ctx, []eventstore.Disposal{{Child: "no.such"}}); err == nil {
		t.Error("a list naming no referral was applied")
	}
}

// A sealed event whose key cannot be read, with no disposal recorded, is
// not shown as disposed of and not passed over: readers stop before it
// and say the store is unavailable, and read it whole once the key
// answers again. (A follower of a cluster that had not yet stored a new
// key once made a view pass a child's referral for good.)
func TestASealedEventWithoutItsKeyIsNotReadAsDisposed(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	k := kek(t)
	if err := n.Store.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	const child = "r-sealed"
	key, err := n.Store.DataKey(ctx(t), child)
	if err != nil {
		t.Fatal(err)
	}
	e := events.Event{ID: "e-sealed", Type: events.TypeReferralReceived, SchemaVersion: 2, AggregateID: child,
		OccurredAt: time.Unix(0, 0).UTC(), RecordedAt: time.Unix(0, 0).UTC(), Actor: "t",
		Data: events.ReferralReceived{ReferralID: child, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-77"}}
	if e, err = events.Seal(e, key); err != nil || e.Sealed == "" {
		t.Fatalf("sealed %q, %v", e.Sealed, err)
	}
	subj := events.ReferralSubject(child)
	if _, err := n.Store.Append(ctx(t), subj, 0, "", events.Commit{Command: "test", Events: []events.Event{e}}); err != nil {
		t.Fatal(err)
	}

	// The key's message goes behind the key store's back: no disposal.
	js, err := jetstream.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := js.Stream(ctx(t), eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.GetLastMsgForSubject(ctx(t), "nts.keys.child."+child)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.DeleteMsg(ctx(t), m.Sequence); err != nil {
		t.Fatal(err)
	}

	// A reader with nothing cached, as another instance is.
	other, err := eventstore.Open(ctx(t), n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	read := func() (eventstore.Stored, error) {
		var got eventstore.Stored
		err := other.ReadRange(ctx(t), 1, 1, func(st eventstore.Stored) error { got = st; return nil })
		return got, err
	}
	if got, err := read(); !errors.Is(err, eventstore.ErrUnavailable) || got.Sequence != 0 {
		t.Errorf("read without the key: %v, delivered %+v", err, got.Commit.Events)
	}
	if _, err := other.Load(ctx(t), subj); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("load without the key: %v", err)
	}
	if gone, err := other.KeyDestroyed(ctx(t), child); err != nil || gone {
		t.Errorf("destroyed %v, %v", gone, err)
	}

	// The key answers again: the event is read whole.
	if _, err := js.Publish(ctx(t), "nts.keys.child."+child, m.Data); err != nil {
		t.Fatal(err)
	}
	got, err := read()
	if err != nil || len(got.Commit.Events) != 1 {
		t.Fatalf("read with the key: %v", err)
	}
	if r := got.Commit.Events[0].Data.(events.ReferralReceived); r.ChildReference != "HO-77" || got.Commit.Events[0].Disposed != nil {
		t.Errorf("read with the key: %+v, disposed %v", r, got.Commit.Events[0].Disposed)
	}
}

// A starting engine reads every key in one pass: afterwards a key is
// served from memory (here: still there after its message was deleted
// behind the store's back), and a disposed child's key stays destroyed.
func TestPreloadedKeysAreReadInOnePass(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	k := kek(t)
	if err := n.Store.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 50 {
		child := fmt.Sprint("r-pre-", i)
		key, err := n.Store.DataKey(ctx(t), child)
		if err != nil {
			t.Fatal(err)
		}
		want[child] = key
	}
	if err := n.Store.DestroyKey(ctx(t), "r-pre-7", time.Now()); err != nil {
		t.Fatal(err)
	}
	delete(want, "r-pre-7")

	other, err := eventstore.Open(ctx(t), n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	got, err := other.PreloadKeys(ctx(t))
	if err != nil || got != len(want) {
		t.Fatalf("preloaded %d keys of %d: %v", got, len(want), err)
	}
	js, _ := jetstream.New(n.Conn)
	keys, err := js.Stream(ctx(t), eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Purge(ctx(t), jetstream.WithPurgeSubject("nts.keys.child.r-pre-3")); err == nil {
		t.Fatal("the key stream let a key be purged")
	}
	m, err := keys.GetLastMsgForSubject(ctx(t), "nts.keys.child.r-pre-3")
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.DeleteMsg(ctx(t), m.Sequence); err != nil {
		t.Fatal(err)
	}
	for child, key := range want {
		if again, err := other.DataKey(ctx(t), child); err != nil || !bytes.Equal(again, key) {
			t.Errorf("%s: a different key, or none, after the preload: %v", child, err)
		}
	}
	if gone, err := other.KeyDestroyed(ctx(t), "r-pre-7"); err != nil || !gone {
		t.Errorf("a disposed child after the preload: destroyed %v, %v", gone, err)
	}
	if again, err := other.PreloadKeys(ctx(t)); err != nil || again != 0 {
		t.Errorf("a second preload read %d keys anew: %v", again, err)
	}
}

// A new child's key is made with one write and one read (the disposal
// mark), not with two reads more before the write; a child with a key
// made elsewhere gets that key; a child disposed of gets none, and no key
// is left on their subject.
func TestANewChildsKeyIsMadeWithOneWriteAndOneRead(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	k := kek(t)
	if err := n.Store.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(n.Conn)
	requests := func() uint64 {
		t.Helper()
		info, err := js.AccountInfo(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.API.Total
	}
	// AccountInfo is itself one request.
	before := requests()
	key, err := n.Store.DataKey(ctx(t), "r-new")
	if err != nil {
		t.Fatal(err)
	}
	if got := requests() - before - 1; got > 1 {
		t.Errorf("a new child's key took %d requests to the JetStream API besides its write, want 1", got)
	}

	other, err := eventstore.Open(ctx(t), n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	if again, err := other.DataKey(ctx(t), "r-new"); err != nil || !bytes.Equal(again, key) {
		t.Errorf("another store made a second key for a child who had one: %v", err)
	}
	if err := n.Store.DestroyKey(ctx(t), "r-new", time.Now()); err != nil {
		t.Fatal(err)
	}
	third, err := eventstore.Open(ctx(t), n.Conn, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := third.OpenKeys(ctx(t), k); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := third.DataKey(ctx(t), "r-new"); !errors.Is(err, events.ErrKeyDestroyed) {
			t.Fatalf("a key for a child disposed of: %v", err)
		}
	}
	keys, err := js.Stream(ctx(t), eventstore.KeysStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.GetLastMsgForSubject(ctx(t), "nts.keys.child.r-new"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("a key is left on the disposed child's subject: %v", err)
	}
}
