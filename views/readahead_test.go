package views

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/projections"
)

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// writeStream writes n commits (more than readAhead keeps in flight),
// with a message that is not a commit after the first third and, if
// unknown, a commit of an event type this build cannot read after the
// second. It returns the sequences of those two (0 for one not written).
func writeStream(t *testing.T, store *eventstore.Store, n int, unknown bool) (corruptSeq, unknownSeq uint64) {
	t.Helper()
	loader := store.NewLoader(512)
	publish := func(subject, doc string) uint64 {
		if err := loader.Wait(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		ack, err := store.JetStream().Publish(testCtx(t), subject, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		c := events.Commit{Command: "test"}
		for j := range 1 + i%3 {
			at := base.Add(time.Duration(i) * time.Minute)
			c.Events = append(c.Events, events.Event{ID: fmt.Sprintf("c%d-%d", i, j), Type: events.TypePlacementSearched, SchemaVersion: 1,
				AggregateID: fmt.Sprintf("r%d", i%11), OccurredAt: at, RecordedAt: at, Actor: "t", Data: events.PlacementSearched{Track: "in-house", OffersFound: j}})
		}
		if err := loader.Add(testCtx(t), events.ReferralSubject(fmt.Sprintf("r%d", i%11)), c); err != nil {
			t.Fatal(err)
		}
		switch {
		case i == n/3:
			corruptSeq = publish(events.ReferralSubject("bad"), `not json`)
		case i == 2*n/3 && unknown:
			unknownSeq = publish(events.ReferralSubject("future"), `{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"u","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`)
		}
	}
	if err := loader.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return corruptSeq, unknownSeq
}

// readAhead hands its fold exactly what ReadRange does, commit by commit
// in stream order, for ranges of whole and partial batches, and stops at
// the fold's first error.
func TestReadAheadIsReadRange(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	writeStream(t, n.Store, 3000, true)
	last, err := n.Store.LastSequence(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ from, to uint64 }{{1, last}, {1, aheadBatch}, {1, aheadBatch + 1}, {300, 2100}, {last, last}} {
		var want []eventstore.Stored
		if err := n.Store.ReadRange(testCtx(t), r.from, r.to, func(st eventstore.Stored) error { want = append(want, st); return nil }); err != nil {
			t.Fatal(err)
		}
		for decoders := 1; decoders <= 3; decoders++ {
			var got []eventstore.Stored
			if err := readAhead(testCtx(t), n.Store, r.from, r.to, decoders, func(st eventstore.Stored) error { got = append(got, st); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != int(r.to-r.from+1) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%d..%d, %d decoders: read ahead %d commits, ReadRange %d, not the same", r.from, r.to, decoders, len(got), len(want))
			}
		}
	}
	stop := errors.New("stop")
	folded := 0
	err = readAhead(testCtx(t), n.Store, 1, last, 2, func(st eventstore.Stored) error {
		if folded++; st.Sequence != uint64(folded) {
			t.Fatalf("sequence %d folded %dth", st.Sequence, folded)
		}
		if folded == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || folded != 700 {
		t.Fatalf("folded %d, err %v; want the fold's error at 700", folded, err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	err = readAhead(ctx, n.Store, 1, last, 2, func(st eventstore.Stored) error {
		if st.Sequence == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled read ahead returned %v", err)
	}
}

// order is a view that records the events it folds, in order.
func orderSpec() projections.Spec[*[]string] {
	return projections.Spec[*[]string]{Name: "order", Schema: "order-1", New: func() *[]string { return new([]string) },
		Apply: func(v *[]string, e events.Event) *[]string { *v = append(*v, e.ID); return v }}
}

// foldReadRange is Fold as it was before readAhead: on ReadRange, reading,
// decoding and folding on one goroutine. Fold must give what it gives.
func foldReadRange[V any](ctx context.Context, store *eventstore.Store, spec projections.Spec[V], o FoldOptions) (V, uint64, Stats, []Progress, error) {
	v := spec.New()
	var stats Stats
	var reports []Progress
	to := o.UpTo
	var seq uint64
	stopAfter := time.Time{}
	if !o.AsOf.IsZero() {
		stopAfter = o.AsOf.Add(10 * time.Minute)
	}
	errStop := errors.New("stop")
	err := store.ReadRange(ctx, 1, to, func(st eventstore.Stored) error {
		if !stopAfter.IsZero() && st.Time.After(stopAfter) && recordedPast(st, o.AsOf.Add(20*time.Minute)) {
			return errStop
		}
		var err error
		if v, err = apply(spec, v, st, o.AsOf, &stats, voidLookup(ctx, store, slog.Default())); err != nil {
			return err
		}
		seq = st.Sequence
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return v, seq, stats, reports, err
	}
	return v, seq, stats, append(reports, Progress{Done: seq, Total: to}), nil
}

// Fold on readAhead folds what Fold on ReadRange folded, in the same
// order, counts the same corrupt commits, stops before the same unknown
// event with the same error, and ends with the same progress report.
func TestFoldIsTheFoldOnReadRange(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	corruptSeq, unknownSeq := writeStream(t, n.Store, 3000, true)
	last, err := n.Store.LastSequence(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Now().Add(time.Hour) // after every commit: folds them all
	for _, o := range []FoldOptions{{UpTo: last}, {UpTo: unknownSeq - 1}, {UpTo: corruptSeq}, {UpTo: corruptSeq - 1}, {UpTo: 7}, {UpTo: unknownSeq - 1, AsOf: asOf},
		{UpTo: unknownSeq - 1, AsOf: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}} {
		wv, wseq, wstats, wreports, werr := foldReadRange(testCtx(t), n.Store, orderSpec(), o)
		var reports []Progress
		o.Progress = func(p Progress) { reports = append(reports, p) }
		v, seq, stats, err := Fold(testCtx(t), n.Store, orderSpec(), o)
		if !reflect.DeepEqual(*v, *wv) || seq != wseq || stats != wstats || !reflect.DeepEqual(err, werr) {
			t.Fatalf("up to %d: fold of %d events to %d, %+v, %v; on ReadRange %d events to %d, %+v, %v", o.UpTo, len(*v), seq, stats, err, len(*wv), wseq, wstats, werr)
		}
		if werr == nil && (len(reports) == 0 || reports[len(reports)-1].Done != wreports[0].Done || reports[len(reports)-1].Total != wreports[0].Total) {
			t.Fatalf("up to %d: last progress %+v, want %+v", o.UpTo, reports, wreports)
		}
	}
	// The one that meets the unknown event stops before it.
	_, seq, stats, err := Fold(testCtx(t), n.Store, orderSpec(), FoldOptions{UpTo: last})
	var unknown *UnknownEventError
	if !errors.As(err, &unknown) || unknown.Sequence != unknownSeq || seq != unknownSeq-1 || stats.Corrupt != 1 {
		t.Fatalf("fold past an unknown event: %v, at %d, %+v", err, seq, stats)
	}
}
