package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// stored is e as an engine stores it, chained to prev under chain.
func stored(t *testing.T, e Event, prev string, chain []byte) ([]byte, string) {
	t.Helper()
	e.PrevHash = prev
	h, err := ChainHash(chain, e)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = h
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b, h
}

// Given a referral received as an engine from before sealing wrote it
// (schema version 1, its languages in the old "language" field, in the
// clear), when it is sealed forward, then no personal field is left in the
// stored bytes (the old-named one included), the chain verifies over them
// from the new head, and the child's key reads back exactly what the event
// said, at the current schema version.
func TestSealForwardSealsAnOldEventUnderItsCurrentFieldNames(t *testing.T) {
	chain, key := []byte("chain"), newKey(t)
	e := sampleReceived()
	cur, _ := stored(t, e, "", chain)
	v1 := bytes.Replace(cur, []byte(`"languages":["Tigrinya"]`), []byte(`"language":"Tigrinya"`), 1)
	v1 = bytes.Replace(v1, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":1`), 1)
	if bytes.Equal(v1, cur) || !bytes.Contains(v1, []byte(`"schemaVersion":1`)) {
		t.Fatal("the test did not make a version 1 event")
	}
	old, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if clear, err := InClear(old); err != nil || !clear {
		t.Fatalf("an old event in the clear: InClear %v, %v", clear, err)
	}
	before, err := RecordDigest(old, false)
	if err != nil {
		t.Fatal(err)
	}

	b, h, err := SealForward(old, key, "head-before", chain)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"UASC-ZX-99817", "2011-02-17", "Eritrean", "asthma", "Tigrinya", `"language"`} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the sealed event still holds %s: %s", secret, b)
		}
	}
	if got, err := VerifyStored(chain, b, "head-before"); err != nil || got != h {
		t.Errorf("the chain over the sealed event: %q, %v (want %q)", got, err, h)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if clear, _ := InClear(back); clear || back.Sealed == "" {
		t.Error("the sealed event reads as in the clear")
	}
	open, err := Unseal(back, key)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(open.Data, e.Data) || open.SchemaVersion != SchemaVersion(e.Type) {
		t.Errorf("reads back as v%d %+v, want %+v", open.SchemaVersion, open.Data, e.Data)
	}
	if after, _ := RecordDigest(open, false); after != before {
		t.Error("the digest of what it says changed")
	}
}

// Given a disposed child's event in the clear, when it is sealed forward
// with no key, then its fields are nowhere in the bytes and a reader (with
// no key, as for any disposed child) names them as disposed of, the rest
// as it was.
func TestSealForwardWithoutAKeyDisposesOfTheFields(t *testing.T) {
	chain := []byte("chain")
	e := sampleReceived()
	b, _, err := SealForward(e, nil, "", chain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("UASC-ZX-99817")) || bytes.Contains(b, []byte("2011-02-17")) {
		t.Fatalf("the fields are still there: %s", b)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	open, err := Unseal(back, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(open.Disposed, "childReference") || open.Data.(ReferralReceived).Hotel != "hotel-12" {
		t.Errorf("reads as %+v, disposed %v", open.Data, open.Disposed)
	}
	want, _ := RecordDigest(e, true)
	if got, _ := RecordDigest(open, true); got != want {
		t.Error("what is left differs from the event less its personal fields")
	}
	if full, _ := RecordDigest(e, false); full == want {
		t.Error("the digest without personal fields is the full one: the check proves nothing")
	}
}

// Given an event after a changed one, when it is re-chained, then its
// payload bytes are as stored and only its link and hash change, and it
// verifies from the new head; a commit takes the new events and keeps the
// rest.
func TestRechainChangesOnlyTheLink(t *testing.T) {
	chain := []byte("chain")
	e := sampleReceived()
	e.Sealed = ""
	raw, oldHash := stored(t, e, "old-head", chain)
	b, h, err := Rechain(raw, "new-head", chain)
	if err != nil {
		t.Fatal(err)
	}
	if h == oldHash {
		t.Error("the hash did not change with the link")
	}
	if got, err := VerifyStored(chain, b, "new-head"); err != nil || got != h {
		t.Errorf("verify: %q, %v", got, err)
	}
	var was, is wireEvent
	json.Unmarshal(raw, &was)
	json.Unmarshal(b, &is)
	if !bytes.Equal(was.Data, is.Data) || is.PrevHash != "new-head" {
		t.Errorf("data %s became %s; prev %q", was.Data, is.Data, is.PrevHash)
	}
	commit, err := json.Marshal(wireCommit{Command: "receive", IdempotencyKey: "k-1", Events: []json.RawMessage{raw}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := WithEvents(commit, []json.RawMessage{b})
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCommit(out)
	if err != nil || c.IdempotencyKey != "k-1" || c.Events[0].Hash != h {
		t.Errorf("the commit with the new event: %+v, %v", c, err)
	}
	if _, err := WithEvents(commit, nil); err == nil {
		t.Error("a commit took fewer events than it had")
	}
}

// Events with no personal fields, or sealed already, are not in the clear.
func TestInClearOnlyForUnsealedPersonalFields(t *testing.T) {
	sealed, err := Seal(sampleReceived(), newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	none := sampleReceived()
	d := none.Data.(ReferralReceived)
	d.ChildReference, d.ClaimedAge, d.DateOfBirth, d.Sex, d.Nationality, d.Languages, d.Needs = "", 0, "", "", "", nil, nil
	none.Data = d
	for name, e := range map[string]Event{"sealed": sealed, "no personal field set": none} {
		if clear, err := InClear(e); err != nil || clear {
			t.Errorf("%s: in the clear %v, %v", name, clear, err)
		}
	}
}
