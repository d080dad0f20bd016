package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The engine's port, checked against the real store (an embedded JetStream
// server): what engine.Store promises in its comments is what
// eventstore.Store does. A second implementation (another store, a cache
// in front of it) would run through the same checks, given a way to put a
// message in the log that is not a commit.
func TestStorePortConformance(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	checkEnginePort(t, n.Store, func(ctx context.Context, subject string, data []byte) (uint64, error) {
		ack, err := n.Store.JetStream().Publish(ctx, subject, data)
		if err != nil {
			return 0, err
		}
		return ack.Sequence, nil
	})
}

// The engine holds the log through the port it owns, not through the
// store's concrete type: what commands ask of JetStream is the interface
// above, and the checks above are all it needs to be true.
func TestEngineHoldsTheLogThroughItsPort(t *testing.T) {
	f, ok := reflect.TypeFor[engine.Engine]().FieldByName("Store")
	if !ok || f.Type.Kind() != reflect.Interface || f.Type.PkgPath() != reflect.TypeFor[engine.Engine]().PkgPath() {
		t.Fatalf("Engine.Store is %v; want an interface package engine owns", f.Type)
	}
}

// portCommit is a commit of n searches on aggregate id, as the engine
// would write it (without the chain, which the port does not look at).
func portCommit(id string, n int) events.Commit {
	c := events.Commit{Command: "record-placement-search"}
	for i := range n {
		offers := i
		c.Events = append(c.Events, events.Event{
			ID: fmt.Sprintf("%s-%d-%d", id, n, i), Type: events.TypePlacementSearched, SchemaVersion: 1, AggregateID: id,
			OccurredAt: received, RecordedAt: received, Actor: "t",
			Data: events.PlacementSearched{Track: "in-house", OffersFound: offers},
		})
	}
	return c
}

func checkEnginePort(t *testing.T, store engine.Store, foreign func(ctx context.Context, subject string, data []byte) (uint64, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := events.ReferralSubject("port-a"), events.RegionSubject("port-b")

	t.Run("empty", func(t *testing.T) {
		if last, err := store.LastSequence(ctx); err != nil || last != 0 {
			t.Fatalf("last sequence of an empty log: %d, %v; want 0", last, err)
		}
		for name, load := range map[string]func(context.Context, string) ([]eventstore.Stored, error){"Load": store.Load, "LoadAll": store.LoadAll} {
			if got, err := load(ctx, a); err != nil || len(got) != 0 {
				t.Fatalf("%s of a subject with nothing on it: %d commits, %v; want none and no error", name, len(got), err)
			}
		}
		if _, err := store.SubjectAt(ctx, 1); !errors.Is(err, eventstore.ErrNoMessage) {
			t.Fatalf("subject at a sequence not written: %v; want ErrNoMessage", err)
		}
	})

	var seqs []uint64 // on a, in order
	t.Run("append checks the expected sequence", func(t *testing.T) {
		var last uint64
		for i := range 3 {
			ack, err := store.Append(ctx, a, last, fmt.Sprintf("port:a:%d", i), portCommit("port-a", i+1))
			if err != nil || ack.Duplicate || ack.Sequence <= last {
				t.Fatalf("append %d expecting %d: %+v, %v", i, last, ack, err)
			}
			last = ack.Sequence
			seqs = append(seqs, last)
		}
		_, err := store.Append(ctx, a, seqs[0], "port:a:stale", portCommit("port-a", 1))
		if conflict, ok := errors.AsType[*eventstore.ConflictError](err); !ok || conflict.Subject != a || conflict.Expected != seqs[0] {
			t.Fatalf("append expecting a passed sequence: %v; want a conflict naming %s and %d", err, a, seqs[0])
		}
		if got, _ := store.Load(ctx, a); len(got) != len(seqs) {
			t.Fatalf("a refused append wrote something: %d commits, want %d", len(got), len(seqs))
		}
	})

	t.Run("append deduplicates on the message id", func(t *testing.T) {
		ack, err := store.Append(ctx, a, seqs[len(seqs)-1], "port:a:1", portCommit("port-a", 9))
		if err != nil || !ack.Duplicate || ack.Sequence != seqs[1] {
			t.Fatalf("the message id of sequence %d again: %+v, %v; want a duplicate naming it", seqs[1], ack, err)
		}
		if got, _ := store.Load(ctx, a); len(got) != len(seqs) {
			t.Fatalf("a duplicate wrote something: %d commits, want %d", len(got), len(seqs))
		}
	})

	t.Run("load reads in order, with each message id", func(t *testing.T) {
		got, err := store.Load(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range got {
			if st.Sequence != seqs[i] || st.Subject != a || len(st.Commit.Events) != i+1 || st.MsgID != fmt.Sprintf("port:a:%d", i) || st.Time.IsZero() {
				t.Fatalf("commit %d: sequence %d on %s, %d events, message id %q, time %v; want sequence %d on %s, %d events, id port:a:%d, the server's time",
					i, st.Sequence, st.Subject, len(st.Commit.Events), st.MsgID, st.Time, seqs[i], a, i+1, i)
			}
		}
		if last, err := store.LastSequence(ctx); err != nil || last != seqs[len(seqs)-1] {
			t.Fatalf("last sequence %d, %v; want %d, the last append's", last, err, seqs[len(seqs)-1])
		}
		if subj, err := store.SubjectAt(ctx, seqs[1]); err != nil || subj != a {
			t.Fatalf("subject at %d: %q, %v; want %s", seqs[1], subj, err, a)
		}
	})

	t.Run("load after what a caller holds", func(t *testing.T) {
		all, err := store.Load(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		known := slices.Clone(all[:1])
		got, err := store.LoadAfter(ctx, a, known)
		if err != nil || len(got) != len(all) {
			t.Fatalf("load after one commit: %d, %v; want all %d", len(got), err, len(all))
		}
		for i := range got {
			if got[i].Sequence != all[i].Sequence || got[i].MsgID != all[i].MsgID {
				t.Fatalf("load after: commit %d is sequence %d; Load gave %d", i, got[i].Sequence, all[i].Sequence)
			}
		}
		if len(known) != 1 || known[0].Sequence != all[0].Sequence {
			t.Fatalf("load after changed the commits it was given: %d of them", len(known))
		}
		if got, err := store.LoadAfter(ctx, a, all); err != nil || len(got) != len(all) {
			t.Fatalf("load after every commit: %d, %v; want the same %d", len(got), err, len(all))
		}
	})

	t.Run("atomic append lands whole, in order", func(t *testing.T) {
		got, err := store.AppendAtomic(ctx,
			eventstore.Write{Subject: b, Expected: 0, Commit: portCommit("port-b", 1)},
			eventstore.Write{Subject: a, Expected: seqs[len(seqs)-1], MsgID: "port:pair:1", Commit: portCommit("port-a", 1)})
		if err != nil || len(got) != 2 || got[1] != got[0]+1 || got[0] <= seqs[len(seqs)-1] {
			t.Fatalf("a pair: sequences %v, %v; want two consecutive after %d", got, err, seqs[len(seqs)-1])
		}
		onB, _ := store.Load(ctx, b)
		onA, _ := store.Load(ctx, a)
		if len(onB) != 1 || onB[0].Sequence != got[0] || onA[len(onA)-1].Sequence != got[1] || onA[len(onA)-1].MsgID != "port:pair:1" {
			t.Fatalf("the pair did not land where its sequences say, under its message id")
		}
		seqs = append(seqs, got[1])
	})

	t.Run("atomic append refuses a moved subject, whole", func(t *testing.T) {
		before, _ := store.LastSequence(ctx)
		_, err := store.AppendAtomic(ctx,
			eventstore.Write{Subject: b, Expected: 0, Commit: portCommit("port-b", 1)},
			eventstore.Write{Subject: a, Expected: seqs[len(seqs)-1], Commit: portCommit("port-a", 1)})
		if _, ok := errors.AsType[*eventstore.ConflictError](err); !ok {
			t.Fatalf("a pair expecting a moved subject: %v; want a conflict", err)
		}
		if after, _ := store.LastSequence(ctx); after != before {
			t.Fatalf("a refused pair wrote something: last sequence %d, was %d", after, before)
		}
	})

	t.Run("atomic append refuses a message id already held, whole", func(t *testing.T) {
		before, _ := store.LastSequence(ctx)
		onB, _ := store.Load(ctx, b)
		_, err := store.AppendAtomic(ctx,
			eventstore.Write{Subject: b, Expected: eventstore.LastSequenceOf(onB), Commit: portCommit("port-b", 2)},
			eventstore.Write{Subject: a, Expected: seqs[len(seqs)-1], MsgID: "port:pair:1", Commit: portCommit("port-a", 2)})
		if !errors.Is(err, eventstore.ErrDuplicate) {
			t.Fatalf("a pair repeating a message id: %v; want ErrDuplicate", err)
		}
		if after, _ := store.LastSequence(ctx); after != before {
			t.Fatalf("a duplicate pair wrote something: last sequence %d, was %d", after, before)
		}
	})

	t.Run("load all shows what does not decode; load refuses it", func(t *testing.T) {
		bad := events.ReferralSubject("port-bad")
		if _, err := store.Append(ctx, bad, 0, "", portCommit("port-bad", 1)); err != nil {
			t.Fatal(err)
		}
		seq, err := foreign(ctx, bad, []byte("not a commit"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Load(ctx, bad); !errors.As(err, new(*eventstore.CorruptError)) {
			t.Fatalf("load of a subject holding a message that is not a commit: %v; want a corrupt error", err)
		}
		all, err := store.LoadAll(ctx, bad)
		if err != nil || len(all) != 2 || all[0].Err != nil || all[1].Sequence != seq || all[1].Err == nil {
			t.Fatalf("load all: %d commits, %v; want the commit and then the message at %d with its error", len(all), err, seq)
		}
	})
}
