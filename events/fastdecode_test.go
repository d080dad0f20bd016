package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every type in the catalogue has a fast plan: a type without one would
// still decode (decodeStored reads it), only slower, so this is what
// notices a payload field of a kind the fast path does not read.
func TestFastPlansCoverTheCatalogue(t *testing.T) {
	for typ, pt := range catalogue {
		if pt.fast == nil {
			t.Errorf("%s (%v) has no fast plan", typ, pt.codec.goType())
		}
	}
}

// A struct the fast path cannot read exactly as decodeStored does has no
// plan: it is left to decodeStored.
func TestNoPlanForWhatTheFastPathDoesNotRead(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type named string
	for name, typ := range map[string]reflect.Type{
		"an embedded struct":  reflect.TypeFor[struct{ inner }](),
		"a field without tag": reflect.TypeFor[struct{ A string }](),
		"a name given twice": reflect.StructOf([]reflect.StructField{ // (vet would refuse it written out)
			{Name: "A", Type: reflect.TypeFor[string](), Tag: `json:"a"`},
			{Name: "B", Type: reflect.TypeFor[string](), Tag: `json:"a"`},
		}),
		"a string option": reflect.TypeFor[struct {
			N int `json:"n,string"`
		}](),
		"a named string": reflect.TypeFor[struct {
			S named `json:"s"`
		}](),
		"a map": reflect.TypeFor[struct {
			M map[string]string `json:"m"`
		}](),
		"a pointer": reflect.TypeFor[struct {
			P *string `json:"p"`
		}](),
		"a float": reflect.TypeFor[struct {
			F float64 `json:"f"`
		}](),
		"a list of lists": reflect.TypeFor[struct {
			L [][]string `json:"l"`
		}](),
		"a nested struct": reflect.TypeFor[struct {
			I inner `json:"i"`
		}](),
		"no field at all":   reflect.TypeFor[struct{}](),
		"not even a struct": reflect.TypeFor[string](),
	} {
		if planFor(typ) != nil {
			t.Errorf("%s: a plan", name)
		}
	}
	if planFor(reflect.TypeFor[struct {
		A string    `json:"a,omitempty"`
		L []inner   `json:"l"`
		T time.Time `json:"t,omitzero"`
	}]()) == nil {
		t.Error("no plan for strings, lists of structs and times")
	}
}

// The commits and events we write take the fast path: it is there for them.
func TestOurCommitsTakeTheFastPath(t *testing.T) {
	for i, b := range realCommits(t) {
		if _, ok := decodeCommitFast(b); !ok {
			t.Errorf("real commit %d gave up the fast path:\n%s", i, b)
		}
	}
	for _, e := range sample() {
		b := mustEncode(t, e)
		if _, ok := decodeEventFast(b); !ok {
			t.Errorf("%s gave up the fast path:\n%s", e.Type, b)
		}
	}
	c, _ := EncodeCommit(Commit{Command: "x", IdempotencyKey: "k", RequestHash: "h", Events: sample()})
	if _, ok := decodeCommitFast(c); !ok {
		t.Errorf("a commit of every type gave up the fast path")
	}
}

// agree checks the fast path against decodeStored on one document, as a
// commit and as an event: where the fast path reads it, decodeStored must
// read it too, to the same value. It reports whether the fast path read
// it.
func agree(t *testing.T, doc []byte) bool {
	t.Helper()
	fast, ok := decodeCommitFast(doc)
	slow, err := decodeCommitStored(doc)
	if ok && (err != nil || !reflect.DeepEqual(fast, slow)) {
		t.Errorf("the fast path read what decodeStored reads otherwise (%v):\n%s\nfast %#v\nslow %#v", err, doc, fast, slow)
	}
	// The same for doc as one event.
	fe, evOK := decodeEventFast(doc)
	if evOK {
		var w wireEvent
		if err := decodeStored(doc, &w); err != nil {
			t.Errorf("the fast path read an event decodeStored refuses (%v):\n%s", err, doc)
		} else if se, err := fromWire(w); err != nil || !reflect.DeepEqual(fe, se) {
			t.Errorf("the fast path read an event otherwise (%v):\n%s\nfast %#v\nslow %#v", err, doc, fe, se)
		}
	}
	return ok || evOK
}

// What decodeStored and the fast path make of an edited document.
const (
	refused = iota // decodeStored refuses it, so the fast path gives up
	fast           // decodeStored reads it, and so does the fast path
	slow           // decodeStored reads it; the fast path leaves it to it
)

// mutations turn documents we wrote into ones we did not, each one edit
// (old replaced by new, once, in every document holding old; old is a
// regular expression when it holds a backslash).
var mutations = []struct {
	name, old, new string
	want           int
}{
	{"whitespace around members", `,"`, " ,\n\t\r\"", fast},
	{"whitespace after names", `":`, `" : `, fast},
	{"escaped letter", `"simulate"`, `"simul\u0061te"`, fast},
	{"escaped solidus and newline", `"simulate"`, `"sim\/ul\nate\t\"\\"`, fast},
	{"escaped non-ASCII", `"simulate"`, `"sim\u00e9ulate\u2028"`, fast},
	{"escaped surrogate pair", `"simulate"`, `"sim\ud83d\ude00"`, slow},
	{"lone surrogate", `"simulate"`, `"sim\ud800"`, refused},
	{"unknown escape", `"simulate"`, `"sim\qulate"`, refused},
	{"raw non-ASCII", `"simulate"`, "\"Sïmulaté 😀\"", fast},
	{"invalid UTF-8 in the envelope", `"simulate"`, "\"sim\xffulate\"", refused},
	{"overlong UTF-8", `"simulate"`, "\"sim\xc0\xafulate\"", refused},
	{"control character", `"simulate"`, "\"sim\x01ulate\"", refused},
	{"invalid UTF-8 in the command", `","events"`, "\xfe\",\"events\"", refused},
	{"escaped name", `"actor"`, `"\u0061ctor"`, slow},
	{"name in another case", `"actor"`, `"Actor"`, refused},
	{"unknown envelope member", `"actor"`, `"colour":"red","actor"`, refused},
	{"unknown commit member", `"events"`, `"colour":1,"events"`, refused},
	{"repeated command", `"events"`, `"command":"again","events"`, refused},
	{"repeated envelope member", `"actor"`, `"actor":"someone","actor"`, refused},
	{"repeated type", `"schemaVersion"`, `"type":"referral.placed","schemaVersion"`, refused},
	{"schema version as a float", `"schemaVersion":1`, `"schemaVersion":1.0`, refused},
	{"schema version with an exponent", `"schemaVersion":1`, `"schemaVersion":1e0`, refused},
	{"schema version with a leading zero", `"schemaVersion":1`, `"schemaVersion":01`, refused},
	{"schema version as a string", `"schemaVersion":1`, `"schemaVersion":"1"`, refused},
	{"newer schema version", `"schemaVersion":1`, `"schemaVersion":9`, slow},
	{"schema version 0", `"schemaVersion":1`, `"schemaVersion":0`, refused},
	{"older schema version (an upcast)", `"schemaVersion":2`, `"schemaVersion":1`, slow},
	{"unknown type", `"type":"`, `"type":"x.`, slow},
	{"null hash", `"hash":""`, `"hash":null`, slow},
	{"null data", `"data":{`, `"data":null,"x":{`, refused},
	{"repeated member in a listed object", `"reason":"paused"`, `"reason":"paused","reason":"x"`, refused},
	{"unknown member in a listed object", `"reason":"paused"`, `"reason":"paused","x":1`, refused},
	{"data before type", `"type":`, `"data":{},"type":`, refused},
	{"time with an offset", `(:\d\d)Z"`, `$1+01:00"`, fast},
	{"time with a zero offset", `(:\d\d)Z"`, `$1+00:00"`, fast},
	{"time with an offset out of range", `(:\d\d)Z"`, `$1+24:00"`, refused},
	{"time with a fraction", `(:\d\d)Z"`, `$1.5Z"`, fast},
	{"time with nanoseconds", `(:\d\d)Z"`, `$1.123456789Z"`, fast},
	{"time with ten fraction digits", `(:\d\d)Z"`, `$1.1234567891Z"`, slow},
	{"time with a comma", `(:\d\d)Z"`, `$1,5Z"`, refused},
	{"time in lower case", `(:\d\d)Z"`, `${1}z"`, refused},
	{"time without a zone", `(:\d\d)Z"`, `$1"`, refused},
	{"time on the 30th of February", `-\d\d-\d\dT`, `-02-30T`, refused},
	{"time at hour 24", `T\d\d:`, `T24:`, refused},
	{"time as a number", `"occurredAt":"`, `"occurredAt":1,"x":"`, refused},
	{"negative number", `"claimedAge":\d+`, `"claimedAge":-1`, fast},
	{"minus zero", `"claimedAge":\d+`, `"claimedAge":-0`, slow},
	{"number too big", `"claimedAge":\d+`, `"claimedAge":9223372036854775808`, refused},
	{"long number", `"claimedAge":\d+`, `"claimedAge":9223372036854775807`, slow},
	{"eighteen digits", `"claimedAge":\d+`, `"claimedAge":-999999999999999999`, fast},
	{"empty list", `"sex":`, `"languages":[],"sex":`, fast},
	{"list of strings", `"sex":`, `"languages":["a","b\u00e9"],"sex":`, fast},
	{"list with a null", `"sex":`, `"languages":["a",null],"sex":`, slow},
	{"null list", `"sex":`, `"languages":null,"sex":`, slow},
	{"true", `"sex":`, `"x":true,"sex":`, refused},
	{"empty events", `"events":[{`, `"events":[],"x":[{`, refused},
	{"trailing data", `}]}`, `}]} {}`, refused},
	{"trailing whitespace", `}]}`, "}]} \n", fast},
	{"unclosed", `}]}`, `}]`, refused},
}

// Edits of real commits and of one of each event: the fast path agrees
// with decodeStored on each, gives up on each that decodeStored refuses,
// and reads those it is meant to read.
func TestFastDecodeAgrees(t *testing.T) {
	commits := realCommits(t)
	for _, e := range sample() {
		c, err := EncodeCommit(Commit{Command: "x", Events: []Event{e}})
		if err != nil {
			t.Fatal(err)
		}
		commits = append(commits, c, mustEncode(t, e))
	}
	for _, m := range mutations {
		applied := 0
		for _, b := range commits {
			doc := strings.Replace(string(b), m.old, m.new, 1)
			if strings.Contains(m.old, `\`) {
				re := regexp.MustCompile(m.old)
				done := false
				doc = re.ReplaceAllStringFunc(string(b), func(old string) string {
					if done {
						return old
					}
					done = true
					return re.ReplaceAllString(old, m.new)
				})
			}
			if doc == string(b) {
				continue
			}
			applied++
			ok := agree(t, []byte(doc))
			_, err := decodeCommitStored([]byte(doc))
			if bytes.HasPrefix([]byte(doc), []byte(`{"id"`)) {
				_, err = Decode([]byte(doc))
			}
			switch {
			case (err != nil && !errors.Is(err, ErrUnknownType)) != (m.want == refused):
				t.Errorf("%s: decodeStored says %v to %s", m.name, err, doc)
			case m.want == fast && !ok:
				t.Errorf("%s: the fast path gave up %s", m.name, doc)
			}
		}
		if applied == 0 {
			t.Errorf("%s: no document to edit", m.name)
		}
	}
	// Every prefix of a commit: none is a whole document.
	b := commits[len(commits)-2]
	for i := range b {
		if agree(t, b[:i]) {
			t.Fatalf("the fast path read a prefix: %s", b[:i])
		}
	}
}

// FuzzFastDecodeAgrees: on any bytes, the fast path reads what
// decodeStored reads, or gives up.
func FuzzFastDecodeAgrees(f *testing.F) {
	for _, b := range realCommits(f) {
		f.Add(b)
	}
	for _, e := range sample() {
		b, _ := Encode(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		agree(t, b)
	})
}

// utcTime reads every second-resolution form the same as UnmarshalText,
// across years, leap days and the ends of months.
func TestUTCTimeIsUnmarshalText(t *testing.T) {
	for _, year := range []int{0, 1, 4, 100, 400, 1600, 1900, 1969, 1970, 2000, 2024, 2025, 2100, 9999} {
		for d := time.Date(year, 1, 1, 23, 59, 58, 0, time.UTC); d.Year() == year; d = d.Add(29*time.Hour + 17*time.Minute + 13*time.Second) {
			for _, b := range [][]byte{[]byte(d.Format(time.RFC3339)), []byte(d.Add(123456789).Format(time.RFC3339Nano)), []byte(d.Format("2006-01-02T15:04:05.0Z"))} {
				got, ok := utcTime(b)
				var want time.Time
				if err := want.UnmarshalText(b); err != nil || !ok || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: %v %v, UnmarshalText %v %v", b, got, ok, want, err)
				}
			}
		}
	}
}

// special8 finds a byte that is not plain wherever it lies in eight.
func TestSpecial8(t *testing.T) {
	for i := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[i] = byte(c)
			if got := special8(binary.LittleEndian.Uint64(b)); got != !plain[c] {
				t.Fatalf("byte %#x at %d: special %v", c, i, got)
			}
		}
	}
}
