package views_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/views"
	"github.com/ntsflow/ntsflow/wiring"
)

// The views' port, checked against the real store (an embedded JetStream
// server): what views.Log and views.Snapshots promise in their comments is
// what eventstore.Store does. A second implementation (another store, a
// cache in front of it) would run through the same checks.
func TestStorePortConformance(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	node, err := wiring.Build(wiring.Config{Store: n.Store, Log: quiet, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	checkStorePort(t, n.Store, func(prefix string, seed uint64) []appended {
		return drive(t, node.Engine, seed, 6, 2, prefix)
	})
}

func checkStorePort(t *testing.T, store views.Store, write func(prefix string, seed uint64) []appended) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("empty", func(t *testing.T) {
		last, err := store.LastSequence(ctx)
		if err != nil || last != 0 {
			t.Fatalf("last sequence of an empty log: %d, %v; want 0", last, err)
		}
		if err := store.ReadRange(ctx, 1, 0, func(eventstore.Stored) error { t.Fatal("ReadRange 1..0 delivered a commit"); return nil }); err != nil {
			t.Fatal(err)
		}
	})

	written := write("p", 31)
	if len(written) < 10 {
		t.Fatalf("the rig wrote %d commits; the checks below need at least 10", len(written))
	}
	seqs := make([]uint64, len(written))
	for i, c := range written {
		seqs[i] = c.seq
	}
	last := seqs[len(seqs)-1]

	t.Run("last sequence", func(t *testing.T) {
		got, err := store.LastSequence(ctx)
		if err != nil || got != last {
			t.Fatalf("last sequence %d, %v; want %d, the last append's", got, err, last)
		}
	})

	t.Run("read range", func(t *testing.T) {
		from, to := seqs[2], seqs[len(seqs)-3]
		var got []uint64
		if err := store.ReadRange(ctx, from, to, func(st eventstore.Stored) error {
			if st.Err != nil {
				return st.Err
			}
			got = append(got, st.Sequence)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := seqs[2 : len(seqs)-2]; !slices.Equal(got, want) {
			t.Fatalf("ReadRange(%d, %d) delivered %v; want %v, in order", from, to, got, want)
		}
		stop := errors.New("enough")
		calls := 0
		err := store.ReadRange(ctx, 1, last, func(eventstore.Stored) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("a handler's error: ReadRange returned %v after %d calls; want that error after one", err, calls)
		}
	})

	t.Run("read raw decodes to what read range gives", func(t *testing.T) {
		var raw, decoded []eventstore.Stored
		if err := store.ReadRaw(ctx, 1, last, func(r eventstore.RawCommit) error { raw = append(raw, r.Decode()); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := store.ReadRange(ctx, 1, last, func(st eventstore.Stored) error { decoded = append(decoded, st); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(decoded) || len(raw) != int(last) {
			t.Fatalf("ReadRaw gave %d commits, ReadRange %d; want %d each", len(raw), len(decoded), last)
		}
		for i := range raw {
			r, d := raw[i], decoded[i]
			if r.Sequence != d.Sequence || r.Subject != d.Subject || !r.Time.Equal(d.Time) || len(r.Commit.Events) != len(d.Commit.Events) || !bytes.Equal(r.Raw, d.Raw) {
				t.Fatalf("commit %d: raw and decoded reads differ: %d %s %d events, %d %s %d events", i, r.Sequence, r.Subject, len(r.Commit.Events), d.Sequence, d.Subject, len(d.Commit.Events))
			}
		}
	})

	t.Run("load all of one subject", func(t *testing.T) {
		var subject string
		var want []uint64
		if err := store.ReadRange(ctx, 1, last, func(st eventstore.Stored) error {
			if subject == "" {
				subject = st.Subject
			}
			if st.Subject == subject {
				want = append(want, st.Sequence)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		stored, err := store.LoadAll(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, st := range stored {
			if st.Subject != subject {
				t.Fatalf("LoadAll(%s) gave a commit on %s", subject, st.Subject)
			}
			got = append(got, st.Sequence)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("LoadAll(%s) gave sequences %v; want %v", subject, got, want)
		}
	})

	t.Run("follow from a sequence, then what comes", func(t *testing.T) {
		fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
		defer fcancel()
		from := seqs[len(seqs)/2]
		got := make(chan uint64, 1024)
		done := make(chan error, 1)
		go func() {
			done <- store.Follow(fctx, from, func(st eventstore.Stored) error { got <- st.Sequence; return nil })
		}()
		more := write("q", 32)
		want := slices.Concat(seqs[len(seqs)/2:], sequences(more))
		for i, w := range want {
			select {
			case s := <-got:
				if s != w {
					t.Fatalf("follow from %d: delivery %d was sequence %d; want %d", from, i, s, w)
				}
			case <-fctx.Done():
				t.Fatalf("follow from %d delivered %d of %d commits before the bound", from, i, len(want))
			}
		}
		fcancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("follow ended by its context returned %v", err)
		}
		stop := errors.New("enough")
		if err := store.Follow(ctx, 1, func(eventstore.Stored) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("follow returned %v for a handler's error; want it", err)
		}
	})

	t.Run("snapshots", func(t *testing.T) {
		if _, err := store.OpenSnapshot(ctx, "port-none"); !errors.Is(err, eventstore.ErrNoSnapshot) {
			t.Fatalf("opening a snapshot never written: %v; want ErrNoSnapshot", err)
		}
		// Larger than one chunk of the object store, so it is stored in
		// several and read back across them.
		big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10)
		for _, data := range [][]byte{[]byte("first"), big} {
			if err := store.WriteSnapshot(ctx, "port-view", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if got := readSnapshot(t, ctx, store, "port-view"); !bytes.Equal(got, data) {
				t.Fatalf("snapshot read back as %d bytes; want the %d written last", len(got), len(data))
			}
		}
		failing := io.MultiReader(bytes.NewReader([]byte("half a snap")), errReader{errors.New("the encoder failed")})
		if err := store.WriteSnapshot(ctx, "port-view", failing); err == nil {
			t.Fatal("a snapshot whose reader failed was stored")
		}
		if got := readSnapshot(t, ctx, store, "port-view"); !bytes.Equal(got, big) {
			t.Fatalf("after a failed upload the snapshot reads %d bytes; want the last good one (%d)", len(got), len(big))
		}
	})
}

func sequences(cs []appended) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.seq
	}
	return out
}

func readSnapshot(t *testing.T, ctx context.Context, store views.Snapshots, name string) []byte {
	t.Helper()
	rc, err := store.OpenSnapshot(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading snapshot %s: %v", name, err)
	}
	return b
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("snapshot writer: %w", r.err) }
