package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

func commit(id string, n int) events.Commit {
	c := events.Commit{Command: "test"}
	for i := range n {
		c.Events = append(c.Events, events.Event{
			ID: fmt.Sprintf("%s-%d", id, i), Type: events.TypePlacementSearched, SchemaVersion: 1, AggregateID: id,
			OccurredAt: time.Unix(0, 0).UTC(), RecordedAt: time.Unix(0, 0).UTC(), Actor: "t",
			Data: events.PlacementSearched{Track: "in-house", OffersFound: i},
		})
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestAppendLoadInOrder(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")
	var last uint64
	for i := range 60 {
		ack, err := n.Store.Append(ctx(t), subj, last, "", commit(fmt.Sprintf("r1c%d", i), 1+i%3))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last = ack.Sequence
		// Interleave another subject, so the loaded subject is not contiguous.
		if _, err := n.Store.Append(ctx(t), events.ReferralSubject(fmt.Sprintf("other%d", i)), 0, "", commit("o", 1)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := n.Store.Load(ctx(t), subj)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("loaded %d commits, want 60", len(got))
	}
	for i, st := range got {
		if st.Commit.Events[0].ID != fmt.Sprintf("r1c%d-0", i) || len(st.Commit.Events) != 1+i%3 || st.Subject != subj {
			t.Fatalf("commit %d out of order or altered: %+v", i, st)
		}
		if i > 0 && st.Sequence <= got[i-1].Sequence {
			t.Fatalf("sequences not increasing at %d", i)
		}
	}
	empty, err := n.Store.Load(ctx(t), events.ReferralSubject("nobody"))
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty subject: %v %v", empty, err)
	}
}

// A load longer than one direct-get batch (256) continues where it stopped.
// LoadAfter reads only what follows the commits a caller holds, and returns
// what Load would, leaving the caller's slice alone.
func TestLoadAfterReadsOnlyTheNewCommits(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("after")
	var last uint64
	add := func(k int) {
		for i := range k {
			ack, err := n.Store.Append(ctx(t), subj, last, "", commit(fmt.Sprint("after", last, i), 1))
			if err != nil {
				t.Fatal(err)
			}
			last = ack.Sequence
			n.Store.Append(ctx(t), events.ReferralSubject(fmt.Sprint("other", last)), 0, "", commit("o", 1))
		}
	}
	add(3)
	known, err := n.Store.Load(ctx(t), subj)
	if err != nil || len(known) != 3 {
		t.Fatal(len(known), err)
	}
	same, err := n.Store.LoadAfter(ctx(t), subj, known)
	if err != nil || len(same) != 3 || same[2].Sequence != known[2].Sequence {
		t.Fatalf("nothing new: got %d commits, %v", len(same), err)
	}
	add(2)
	got, err := n.Store.LoadAfter(ctx(t), subj, known[:2:2])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := n.Store.Load(ctx(t), subj)
	if len(got) != 5 || len(want) != 5 {
		t.Fatalf("got %d commits, Load has %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Sequence != want[i].Sequence || got[i].Commit.Events[0].ID != want[i].Commit.Events[0].ID {
			t.Fatalf("commit %d: %d, Load has %d", i, got[i].Sequence, want[i].Sequence)
		}
	}
	if len(known) != 3 || known[2].Sequence != want[2].Sequence {
		t.Fatal("LoadAfter changed the caller's commits")
	}
	if none, err := n.Store.LoadAfter(ctx(t), events.ReferralSubject("never"), nil); err != nil || len(none) != 0 {
		t.Fatal(len(none), err)
	}
}

func TestLoadBeyondOneBatch(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("long")
	var last uint64
	for i := range 600 {
		ack, err := n.Store.Append(ctx(t), subj, last, "", commit(fmt.Sprintf("c%d", i), 1))
		if err != nil {
			t.Fatal(err)
		}
		last = ack.Sequence
	}
	got, err := n.Store.Load(ctx(t), subj)
	if err != nil || len(got) != 600 || got[599].Commit.Events[0].ID != "c599-0" {
		t.Fatalf("loaded %d, err %v", len(got), err)
	}
}

func TestServerRejectsStaleVersion(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")
	first, err := n.Store.Append(ctx(t), subj, 0, "", commit("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Store.Append(ctx(t), subj, 0, "", commit("b", 1))
	var conflict *eventstore.ConflictError
	if !errors.As(err, &conflict) || conflict.Expected != 0 || conflict.Subject != subj {
		t.Fatalf("want a conflict on %s expecting 0, got %v", subj, err)
	}
	got, _ := n.Store.Load(ctx(t), subj)
	if len(got) != 1 || got[0].Sequence != first.Sequence {
		t.Fatalf("the stale append wrote something: %d commits", len(got))
	}
}

func TestServerDropsDuplicateMessageID(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")
	a, err := n.Store.Append(ctx(t), subj, 0, "cmd:r1:k", commit("a", 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Store.Append(ctx(t), subj, a.Sequence, "cmd:r1:k", commit("a", 1))
	if err != nil || !b.Duplicate || b.Sequence != a.Sequence {
		t.Fatalf("want a duplicate ack of sequence %d, got %+v %v", a.Sequence, b, err)
	}
	if got, _ := n.Store.Load(ctx(t), subj); len(got) != 1 {
		t.Fatalf("%d commits stored", len(got))
	}
}

// A commit is one message: it lands whole or not at all. Force a failure
// in the middle of a 3-event commit, in the encoder and at the server.
func TestMultiEventCommitIsAllOrNothing(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")

	// The third event cannot be encoded: nothing is sent.
	c := commit("x", 3)
	c.Events[2].Type = "not.in.catalogue"
	if _, err := n.Store.Append(ctx(t), subj, 0, "", c); err == nil {
		t.Fatal("a commit with an unencodable third event was appended")
	}
	// The server refuses the commit (too large for the stream's limit): the
	// first two events do not land without the third.
	big := commit("y", 3)
	big.Events[2].Data = events.PlacementSearched{Track: strings.Repeat("x", 9<<20)}
	_, err := n.Store.Append(ctx(t), subj, 0, "", big)
	if err == nil {
		t.Fatal("an oversized commit was appended")
	}
	if got, _ := n.Store.Load(ctx(t), subj); len(got) != 0 {
		t.Fatalf("a failed commit left %d messages", len(got))
	}
	// And a good 3-event commit is one message: one sequence, three events.
	ack, err := n.Store.Append(ctx(t), subj, 0, "", commit("z", 3))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := n.Store.Load(ctx(t), subj)
	if len(got) != 1 || got[0].Sequence != ack.Sequence || len(got[0].Commit.Events) != 3 {
		t.Fatalf("got %+v", got)
	}
}

// Stop and restart the embedded server on the same directory, fsyncing
// every write as production does: every acknowledged commit is still there,
// in order.
func TestRestartKeepsEveryAcknowledgedCommit(t *testing.T) {
	dir := t.TempDir()
	n := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	var acked []uint64
	for i := range 50 {
		subj := events.ReferralSubject(fmt.Sprintf("r%d", i%5))
		got, _ := n.Store.Load(ctx(t), subj)
		var last uint64
		if len(got) > 0 {
			last = got[len(got)-1].Sequence
		}
		ack, err := n.Store.Append(ctx(t), subj, last, "", commit(fmt.Sprintf("c%d", i), 1))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, ack.Sequence)
	}
	n.Stop()

	n2 := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	var seen []uint64
	for r := range 5 {
		got, err := n2.Store.Load(ctx(t), events.ReferralSubject(fmt.Sprintf("r%d", r)))
		if err != nil {
			t.Fatal(err)
		}
		for j, st := range got {
			if want := fmt.Sprintf("c%d-0", r+5*j); st.Commit.Events[0].ID != want {
				t.Fatalf("referral r%d commit %d is %s, want %s", r, j, st.Commit.Events[0].ID, want)
			}
			seen = append(seen, st.Sequence)
		}
	}
	if len(seen) != len(acked) {
		t.Fatalf("%d commits after restart, %d acknowledged", len(seen), len(acked))
	}
	if last, _ := n2.Store.LastSequence(ctx(t)); last != acked[len(acked)-1] {
		t.Fatalf("last sequence %d, want %d", last, acked[len(acked)-1])
	}
}

// A message we did not write is reported with its sequence, not skipped.
func TestForeignMessageIsCorrupt(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")
	if _, err := n.Store.JetStream().PublishMsg(ctx(t), &nats.Msg{Subject: subj, Data: []byte(`{"hello":"world"}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := n.Store.Load(ctx(t), subj)
	var corrupt *eventstore.CorruptError
	if !errors.As(err, &corrupt) || corrupt.Sequence != 1 {
		t.Fatalf("want a CorruptError at sequence 1, got %v", err)
	}
}

func TestUnknownEventTypeLoadsAsUnknown(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("r1")
	doc := `{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"r1","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`
	if _, err := n.Store.JetStream().PublishMsg(ctx(t), &nats.Msg{Subject: subj, Data: []byte(doc)}); err != nil {
		t.Fatal(err)
	}
	got, err := n.Store.Load(ctx(t), subj)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if _, ok := got[0].Commit.Events[0].Data.(events.Unknown); !ok {
		t.Fatalf("want an Unknown payload, got %T", got[0].Commit.Events[0].Data)
	}
}

// The log is the record: the stream refuses deletes and purges.
func TestStreamRefusesDeleteAndPurge(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	if _, err := n.Store.Append(ctx(t), events.ReferralSubject("r1"), 0, "", commit("a", 1)); err != nil {
		t.Fatal(err)
	}
	s, err := n.Store.JetStream().Stream(ctx(t), eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx(t), 1); err == nil {
		t.Error("a message was deleted")
	}
	if err := s.Purge(ctx(t)); err == nil {
		t.Error("the stream was purged")
	}
}

// When the stream is full the server refuses the write, the error says the
// store is unavailable, and nothing is half-written.
func TestFullStreamRefusesWrites(t *testing.T) {
	n := storetest.Start(t, storetest.Options{Store: eventstore.Config{MaxBytes: 4096}})
	subj := events.ReferralSubject("r1")
	var last uint64
	var err error
	for i := 0; i < 100; i++ {
		var ack eventstore.Appended
		ack, err = n.Store.Append(ctx(t), subj, last, "", commit(fmt.Sprintf("c%d", i), 3))
		if err != nil {
			break
		}
		last = ack.Sequence
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable once full, got %v", err)
	}
	got, lerr := n.Store.Load(ctx(t), subj)
	if lerr != nil || len(got) == 0 || got[len(got)-1].Sequence != last {
		t.Fatalf("reads after a refused write: %d commits, %v", len(got), lerr)
	}
	for _, st := range got {
		if len(st.Commit.Events) != 3 {
			t.Fatal("a commit was stored in part")
		}
	}
}

func TestFollowDeliversInOrderFromASequence(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	for i := range 10 {
		if _, err := n.Store.Append(ctx(t), events.ReferralSubject(fmt.Sprintf("r%d", i)), 0, "", commit(fmt.Sprintf("c%d", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	c, cancel := context.WithCancel(ctx(t))
	var got []uint64
	err := n.Store.Follow(c, 4, func(st eventstore.Stored) error {
		if st.Err != nil {
			return st.Err
		}
		got = append(got, st.Sequence)
		if st.Sequence == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[4 5 6 7 8 9 10]" {
		t.Fatalf("followed %v", got)
	}
}

// Asking a single server for replicated streams fails on start, saying what
// to change.
func TestReplicasOnASingleServerSaysWhy(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	_, err := eventstore.Open(ctx(t), n.Conn, eventstore.Config{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "not a cluster: use 1 replica") {
		t.Fatalf("open with 3 replicas on one server: %v", err)
	}
}

// An atomic append lands on both subjects or neither: a moved subject
// rejects the whole batch.
func TestAppendAtomicAllOrNothing(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	a, b := events.ReferralSubject("pair-a"), events.RegionSubject("north-west")
	seqs, err := n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: 0, Commit: commit("a1", 1)}, eventstore.Write{Subject: b, Expected: 0, Commit: commit("b1", 1)})
	if err != nil || len(seqs) != 2 || seqs[1] != seqs[0]+1 {
		t.Fatalf("first pair: %v %v", seqs, err)
	}
	gotA, _ := n.Store.Load(ctx(t), a)
	gotB, _ := n.Store.Load(ctx(t), b)
	if len(gotA) != 1 || len(gotB) != 1 || gotA[0].Sequence != seqs[0] || gotB[0].Sequence != seqs[1] {
		t.Fatalf("loaded %d and %d", len(gotA), len(gotB))
	}
	// b has moved past 0: the batch is refused, and a is not written either.
	_, err = n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: seqs[0], Commit: commit("a2", 1)}, eventstore.Write{Subject: b, Expected: 0, Commit: commit("b2", 1)})
	var conflict *eventstore.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	if gotA, _ = n.Store.Load(ctx(t), a); len(gotA) != 1 {
		t.Fatalf("half a batch was written: %d commits on %s", len(gotA), a)
	}
}

// An atomic append carries each write's message id: a batch repeating one
// already stored is refused whole as a duplicate, on fresh sequences as on
// stale ones, and a load reads back which commit carries the id.
func TestAppendAtomicDropsDuplicateMessageID(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	a, b := events.RegionSubject("north-west"), events.ReferralSubject("pair-dup")
	seqs, err := n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: 0, Commit: commit("a1", 1)},
		eventstore.Write{Subject: b, Expected: 0, MsgID: "saga:pair-dup:1", Commit: commit("b1", 1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: seqs[0], Commit: commit("a2", 1)},
		eventstore.Write{Subject: b, Expected: seqs[1], MsgID: "saga:pair-dup:1", Commit: commit("b2", 1)})
	if !errors.Is(err, eventstore.ErrDuplicate) {
		t.Fatalf("the same message id again, on the subjects' last sequences: %v; want ErrDuplicate", err)
	}
	gotA, _ := n.Store.Load(ctx(t), a)
	gotB, _ := n.Store.Load(ctx(t), b)
	if len(gotA) != 1 || len(gotB) != 1 {
		t.Fatalf("a duplicate batch wrote something: %d and %d commits", len(gotA), len(gotB))
	}
	if gotB[0].MsgID != "saga:pair-dup:1" || gotA[0].MsgID != "" {
		t.Fatalf("loaded message ids %q and %q; want none on the write without one and the id on the other", gotA[0].MsgID, gotB[0].MsgID)
	}
	// The id is checked before the sequences of its own message, but after
	// those of the messages before it.
	_, err = n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: seqs[0], Commit: commit("a3", 1)},
		eventstore.Write{Subject: b, Expected: 0, MsgID: "saga:pair-dup:1", Commit: commit("b3", 1)})
	if !errors.Is(err, eventstore.ErrDuplicate) {
		t.Fatalf("the same message id on a stale sequence of its own: %v; want ErrDuplicate", err)
	}
	if _, err = n.Store.AppendAtomic(ctx(t), eventstore.Write{Subject: a, Expected: 0, Commit: commit("a4", 1)},
		eventstore.Write{Subject: b, Expected: seqs[1], MsgID: "saga:pair-dup:1", Commit: commit("b4", 1)}); !errors.As(err, new(*eventstore.ConflictError)) {
		t.Fatalf("the same message id behind a stale first write: %v; want a conflict", err)
	}
}

// Followers and loads in one process share one decoding of each commit:
// the commit the follower decoded is not decoded again by a load.
func TestFollowerAndLoadDecodeACommitOnce(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	subj := events.ReferralSubject("once")
	if _, err := n.Store.Append(ctx(t), subj, 0, "", commit("once", 2)); err != nil {
		t.Fatal(err)
	}
	if err := n.Store.ReadRange(ctx(t), 1, 1, func(eventstore.Stored) error { return nil }); err != nil {
		t.Fatal(err)
	}
	hits, misses := n.Store.DecodedCacheStats()
	got, err := n.Store.Load(ctx(t), subj)
	if err != nil {
		t.Fatal(err)
	}
	hits2, misses2 := n.Store.DecodedCacheStats()
	if len(got) != 1 || got[0].Commit.Events[1].ID != "once-1" {
		t.Fatalf("loaded %+v", got)
	}
	if hits2 != hits+1 || misses2 != misses {
		t.Fatalf("load after the follower: hits %d->%d, misses %d->%d; want one more hit and no decode", hits, hits2, misses, misses2)
	}
}
