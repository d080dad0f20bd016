package eventstore_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// stream writes n commits over several subjects, with one message that is
// not a commit and one commit of an event type this build cannot read
// among them, and returns the stream's last sequence.
func stream(t *testing.T, store *eventstore.Store, n int) uint64 {
	t.Helper()
	loader := store.NewLoader(256)
	for i := range n {
		if err := loader.Add(ctx(t), events.ReferralSubject(fmt.Sprintf("r%d", i%7)), commit(fmt.Sprintf("c%d", i), 1+i%3)); err != nil {
			t.Fatal(err)
		}
		if i == n/3 {
			if err := loader.Wait(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := store.JetStream().Publish(ctx(t), events.ReferralSubject("bad"), []byte(`not json`)); err != nil {
				t.Fatal(err)
			}
			doc := `{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"u","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`
			if _, err := store.JetStream().Publish(ctx(t), events.ReferralSubject("future"), []byte(doc)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := loader.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	last, err := store.LastSequence(ctx(t))
	if err != nil || last != uint64(n+2) {
		t.Fatalf("last sequence %d (%v), want %d", last, err, n+2)
	}
	return last
}

// ReadRaw delivers what ReadRange delivers, undecoded: each message, in
// order, decoding (RawCommit.Decode) to the very Stored ReadRange gives,
// the message that is not a commit included (Err set, as Follow sets it).
func TestReadRawIsReadRangeUndecoded(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	last := stream(t, n.Store, 500)
	for _, r := range []struct{ from, to uint64 }{{1, last}, {0, 10}, {150, 180}, {last, last}, {last - 3, last}} {
		var want []eventstore.Stored
		if err := n.Store.ReadRange(ctx(t), max(r.from, 1), r.to, func(st eventstore.Stored) error {
			want = append(want, st)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var got []eventstore.Stored
		if err := n.Store.ReadRaw(ctx(t), r.from, r.to, func(rc eventstore.RawCommit) error {
			if len(got) > 0 && rc.Sequence != got[len(got)-1].Sequence+1 {
				t.Fatalf("sequence %d after %d", rc.Sequence, got[len(got)-1].Sequence)
			}
			got = append(got, rc.Decode())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) != int(r.to-max(r.from, 1)+1) || got[0].Sequence != max(r.from, 1) {
			t.Fatalf("%d..%d: read %d commits from %d, ReadRange %d", r.from, r.to, len(got), got[0].Sequence, len(want))
		}
		corrupt := 0
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%d..%d: sequence %d reads otherwise:\n%+v\n%+v", r.from, r.to, want[i].Sequence, got[i], want[i])
			}
			if got[i].Err != nil {
				corrupt++
			}
		}
		if r.from == 1 && corrupt != 1 {
			t.Fatalf("%d corrupt commits, want the one", corrupt)
		}
	}
	// Nothing to read, and a caller's error ends the read.
	if err := n.Store.ReadRaw(ctx(t), 9, 8, func(eventstore.RawCommit) error { t.Fatal("read"); return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	read := 0
	if err := n.Store.ReadRaw(ctx(t), 1, last, func(eventstore.RawCommit) error {
		if read++; read == 42 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || read != 42 {
		t.Fatalf("read %d, err %v", read, err)
	}
}
