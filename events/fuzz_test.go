package events

import (
	"bytes"
	"testing"
)

// FuzzDecodeEvent: any bytes, stored or not, decode without panicking; what
// decodes re-encodes, and encoding what that decodes to gives the same bytes
// again (a fixed point). Not "the same Go value": an empty list decodes as
// an empty slice and re-encodes as absent, which means the same (the
// fuzzer's first find, kept in testdata as a seed).
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range sample() {
		b, _ := Encode(e)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"e1","type":"referral.received","schemaVersion":1,"aggregateId":"r1","occurredAt":"2021-12-01T09:00:00Z","recordedAt":"2021-12-01T09:05:00Z","actor":"kent","data":{"referralId":"r1","receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-9","language":"Pashto, Dari"}}`))
	f.Add([]byte(`{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"r1","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, again)
		}
		if e2.ID != e.ID || e2.Type != e.Type || e2.SchemaVersion != e.SchemaVersion || !e2.RecordedAt.Equal(e.RecordedAt) {
			t.Fatalf("round trip changed the envelope:\n%#v\n%#v", e, e2)
		}
		third, err := Encode(e2)
		if err != nil || !bytes.Equal(again, third) {
			t.Fatalf("encoding is not a fixed point:\n%s\n%s", again, third)
		}
	})
}

// FuzzDecodeCommit: the same for whole commits.
func FuzzDecodeCommit(f *testing.F) {
	b, _ := EncodeCommit(Commit{Command: "x", IdempotencyKey: "k", Events: sample()[:2]})
	f.Add(b)
	f.Add([]byte(`{"command":"x","events":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommit(b)
		if err != nil {
			return
		}
		if _, err := EncodeCommit(c); err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
	})
}
