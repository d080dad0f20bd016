package events

import (
	"bytes"
	"crypto/rand"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 24, item 1: every text field of every event type says whose data
// it is. A type that gains a text field nobody classified fails here.
func TestEveryTextFieldIsClassified(t *testing.T) {
	for _, name := range Types() {
		ty := catalogue[name].codec.goType()
		for i := range ty.NumField() {
			f := ty.Field(i)
			json, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !holdsText(f.Type) {
				if slices.Contains(notPersonal[name], json) || slices.Contains(staff[name], json) {
					t.Errorf("%s.%s is classified as text but holds %s", name, json, f.Type)
				}
				continue
			}
			n := 0
			for _, table := range []map[string][]string{personal, staff, notPersonal} {
				if slices.Contains(table[name], json) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s.%s (%s) is classified %d times: put it in exactly one of personal, staff or notPersonal (events/personal.go)", name, json, f.Type, n)
			}
		}
		for _, p := range personal[name] {
			if _, ok := fieldByJSON(ty, p); !ok {
				t.Errorf("%s has no field %q, which personal names", name, p)
			}
		}
	}
}

func holdsText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return true
	case reflect.Slice, reflect.Array, reflect.Pointer:
		return holdsText(t.Elem())
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return false
		}
		for i := range t.NumField() {
			if holdsText(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func fieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, DataKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleReceived() Event {
	e := New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), ReferralReceived{
		ReferralID: "r-1", ReceivingAuthority: "E08000007", Route: RouteHotel, Hotel: "hotel-12",
		ChildReference: "UASC-ZX-99817", ClaimedAge: 15, DateOfBirth: "2011-02-17", Sex: "male",
		Nationality: "Eritrean", Languages: []string{"Tigrinya"}, Needs: []string{"asthma inhaler"},
	})
	e.ID, e.AggregateID, e.SchemaVersion = "ev-1", "r-1", SchemaVersion(e.Type)
	e.RecordedAt, e.Actor = e.OccurredAt, "kent"
	return e
}

// Given a received referral, when it is sealed and stored, then its
// personal fields are nowhere in the stored bytes, the rest is, the chain
// verifies over what is stored, and the key gives every field back.
func TestSealedEventStoresNoPersonalDataAndReadsBack(t *testing.T) {
	key, chain := newKey(t), []byte("chain")
	e, err := Seal(sampleReceived(), key)
	if err != nil {
		t.Fatal(err)
	}
	if e.Sealed == "" {
		t.Fatal("nothing was sealed")
	}
	if e.Hash, err = ChainHash(chain, e); err != nil {
		t.Fatal(err)
	}
	b, err := EncodeCommit(Commit{Command: "receive", Events: []Event{e}})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"UASC-ZX-99817", "2011-02-17", "Eritrean", "asthma", "Tigrinya", "claimedAge"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("stored bytes hold %q: %s", secret, b)
		}
	}
	for _, kept := range []string{"E08000007", "hotel-12", `"route":"hotel"`} {
		if !bytes.Contains(b, []byte(kept)) {
			t.Errorf("stored bytes lost %q: %s", kept, b)
		}
	}
	raws, _ := RawEvents(b)
	if _, err := VerifyStored(chain, raws[0], ""); err != nil {
		t.Errorf("the chain does not verify over the sealed bytes: %v", err)
	}

	c, err := DecodeCommit(b)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Events[0]
	if got.Data.(ReferralReceived).ChildReference != "" || got.Sealed != e.Sealed {
		t.Fatalf("decoded without a key: %+v sealed %q", got.Data, got.Sealed)
	}
	open, err := Unseal(got, key)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(open.Data, sampleReceived().Data) {
		t.Errorf("unsealed\n%+v\nwant\n%+v", open.Data, sampleReceived().Data)
	}
	if got.Data.(ReferralReceived).ChildReference != "" {
		t.Error("unsealing changed the decoded event it was given, which readers share")
	}
	again, err := EncodeCommit(Commit{Command: "receive", Events: []Event{open}})
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("an unsealed event does not encode to its stored bytes:\n%s\n%s", again, b)
	}
}

// Given a sealed event, when the child's key is gone, then the personal
// fields read as disposed of and the rest as recorded; a wrong key is an
// error, never a silent blank.
func TestSealedEventWithoutItsKey(t *testing.T) {
	e, err := Seal(sampleReceived(), newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := Unseal(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone.Disposed, PersonalFields(TypeReferralReceived)) {
		t.Errorf("disposed %v", gone.Disposed)
	}
	b, _ := Encode(gone)
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Data.(ReferralReceived); r.ChildReference != "" || r.ReceivingAuthority != "E08000007" {
		t.Errorf("decoded %+v", r)
	}
	if _, err := Unseal(d, newKey(t)); err == nil {
		t.Error("a wrong key opened the sealed fields")
	}
	moved := d
	moved.AggregateID = "r-2"
	if _, err := OpenSealed(moved, nil); err == nil {
		t.Error("no key opened the sealed fields")
	}
}

// Given an event with no personal field set, sealing changes nothing;
// plaintext events written before issue 24 still read as they were.
func TestSealLeavesEventsWithoutPersonalDataAlone(t *testing.T) {
	e := New(time.Now(), PlacementSearched{Track: "in-house", OffersFound: 1})
	s, err := Seal(e, newKey(t))
	if err != nil || s.Sealed != "" {
		t.Fatalf("sealed %q, %v", s.Sealed, err)
	}
	w := New(time.Now(), ReferralWithdrawn{Reason: "age-assessed-adult"})
	if s, _ := Seal(w, newKey(t)); s.Sealed != "" {
		t.Error("an event whose personal fields are empty was sealed")
	}
	old := sampleReceived()
	b, _ := Encode(old)
	d, err := Decode(b)
	if err != nil || d.Sealed != "" || d.Data.(ReferralReceived).ChildReference != "UASC-ZX-99817" {
		t.Fatalf("a plaintext event read as %+v, %v", d.Data, err)
	}
	if u, err := Unseal(d, nil); err != nil || len(u.Disposed) != 0 {
		t.Errorf("a plaintext event was marked disposed: %v %v", u.Disposed, err)
	}
}

func TestWrappedKeysStayWithTheirChild(t *testing.T) {
	kek, dk := newKey(t), newKey(t)
	w, err := WrapKey(kek, dk, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnwrapKey(kek, w, "r-1"); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := UnwrapKey(kek, w, "r-2"); err == nil {
		t.Error("a key moved to another child unwrapped")
	}
	if !errors.Is(ErrKeyDestroyed, ErrKeyDestroyed) {
		t.Fatal()
	}
}

// BenchmarkSeal and BenchmarkUnseal: the CPU of sealing alone, per
// referral.received (BENCHMARKS.md).
func BenchmarkSeal(b *testing.B) {
	key := make([]byte, DataKeySize)
	e := sampleReceived()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(e, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnseal(b *testing.B) {
	key := make([]byte, DataKeySize)
	e, err := Seal(sampleReceived(), key)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := Encode(e)
	d, _ := Decode(raw)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unseal(d, key); err != nil {
			b.Fatal(err)
		}
	}
}
