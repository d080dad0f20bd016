package projections

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// A view's snapshot is JSON written token by token: the encoder hands its
// buffer to the writer as it fills, so a view of 280,000 entries is never
// one []byte in memory, and reading one back decodes entry by entry.
// Entries are arrays (no member names repeated 280,000 times), codes are
// indexes into the view's symbols, written once, and times are two
// integers (moment's packed seconds and its nanoseconds).

type snapEncoder struct {
	enc *jsontext.Encoder
	err error
}

func (w *snapEncoder) tok(t jsontext.Token) {
	if w.err == nil {
		w.err = w.enc.WriteToken(t)
	}
}

func (w *snapEncoder) name(n string) { w.tok(jsontext.String(n)) }
func (w *snapEncoder) str(s string)  { w.tok(jsontext.String(s)) }
func (w *snapEncoder) num(n int64)   { w.tok(jsontext.Int(n)) }
func (w *snapEncoder) sym(s sym)     { w.tok(jsontext.Uint(uint64(s))) }
func (w *snapEncoder) flag(b bool)   { w.tok(jsontext.Bool(b)) }
func (w *snapEncoder) at(m moment)   { w.num(m.wall); w.num(int64(m.nsec)) }
func (w *snapEncoder) beginArray()   { w.tok(jsontext.BeginArray) }
func (w *snapEncoder) endArray()     { w.tok(jsontext.EndArray) }
func (w *snapEncoder) beginObject()  { w.tok(jsontext.BeginObject) }
func (w *snapEncoder) endObject()    { w.tok(jsontext.EndObject) }
func (w *snapEncoder) strs(s []string) {
	w.beginArray()
	for _, x := range s {
		w.str(x)
	}
	w.endArray()
}

// openWithSymbols begins a view's snapshot: an object whose first member
// is the symbols its entries' codes index.
func (w *snapEncoder) openWithSymbols(names []string) {
	w.beginObject()
	w.name("symbols")
	w.strs(names)
}

// snapshotted is a view that writes its own snapshot; freeze when the view
// moves on while the snapshot is written.
type snapshotted interface {
	writer(freeze bool) func(*snapEncoder)
}

// saveFrozen takes a view for a snapshot written while it moves on.
func saveFrozen[V snapshotted](v V) func(*jsontext.Encoder) error {
	write := v.writer(true)
	return func(enc *jsontext.Encoder) error { return encode(enc, write) }
}

// marshal is a view's JSON for json.Marshal: its snapshot form, written
// into memory (tests compare views by it; snapshots stream instead).
func marshal(write func(*snapEncoder)) ([]byte, error) {
	var b bytes.Buffer
	w := &snapEncoder{enc: jsontext.NewEncoder(&b)}
	write(w)
	if w.err != nil {
		return nil, w.err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// encode runs a view's writer on enc.
func encode(enc *jsontext.Encoder, write func(*snapEncoder)) error {
	w := &snapEncoder{enc: enc}
	write(w)
	return w.err
}

type snapDecoder struct {
	dec  *jsontext.Decoder
	err  error
	syms int // how many symbols the view has: a code beyond them is an error
}

func (r *snapDecoder) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("snapshot at byte %d: %s", r.dec.InputOffset(), fmt.Sprintf(format, a...))
	}
}

func (r *snapDecoder) tok() jsontext.Token {
	if r.err != nil {
		return jsontext.Null
	}
	t, err := r.dec.ReadToken()
	if err != nil {
		r.err = err
		return jsontext.Null
	}
	return t
}

func (r *snapDecoder) want(k jsontext.Kind) {
	if t := r.tok(); r.err == nil && t.Kind() != k {
		r.fail("want %v, found %v", k, t.Kind())
	}
}

func (r *snapDecoder) beginArray()  { r.want('[') }
func (r *snapDecoder) endArray()    { r.want(']') }
func (r *snapDecoder) beginObject() { r.want('{') }
func (r *snapDecoder) endObject()   { r.want('}') }

// more reports whether the array or object being read has another value.
func (r *snapDecoder) more() bool {
	if r.err != nil {
		return false
	}
	k := r.dec.PeekKind()
	return k != ']' && k != '}' && k != 0
}

func (r *snapDecoder) name(want string) {
	if s := r.str(); r.err == nil && s != want {
		r.fail("want member %q, found %q", want, s)
	}
}

func (r *snapDecoder) str() string {
	t := r.tok()
	if r.err == nil && t.Kind() != '"' {
		r.fail("want a string, found %v", t.Kind())
	}
	if r.err != nil {
		return ""
	}
	return t.String()
}

func (r *snapDecoder) num() int64 {
	t := r.tok()
	if r.err == nil && t.Kind() != '0' {
		r.fail("want a number, found %v", t.Kind())
	}
	if r.err != nil {
		return 0
	}
	return t.Int()
}

func (r *snapDecoder) sym() sym {
	n := r.num()
	if r.err == nil && (n < 0 || n >= int64(r.syms)) {
		r.fail("code %d beyond the view's %d symbols", n, r.syms)
		return 0
	}
	return sym(n)
}

func (r *snapDecoder) flag() bool {
	t := r.tok()
	if r.err == nil && t.Kind() != 't' && t.Kind() != 'f' {
		r.fail("want true or false, found %v", t.Kind())
	}
	return r.err == nil && t.Bool()
}

func (r *snapDecoder) at() moment {
	wall, nsec := r.num(), r.num()
	if nsec < 0 || nsec >= 1e9 {
		r.fail("nanoseconds %d out of range", nsec)
	}
	return moment{wall: wall, nsec: int32(nsec)}
}

// openWithSymbols reads what snapEncoder.openWithSymbols wrote into s.
func (r *snapDecoder) openWithSymbols(s *symbols) {
	r.beginObject()
	r.name("symbols")
	r.symbols(s)
}

// symbols reads the view's symbols, the first of which is "".
func (r *snapDecoder) symbols(s *symbols) {
	var names []string
	r.beginArray()
	for r.more() {
		names = append(names, r.str())
	}
	r.endArray()
	if r.err == nil && (len(names) == 0 || names[0] != "") {
		r.fail("symbols do not start with the empty one")
	}
	if r.err == nil {
		s.restore(names)
		r.syms = len(names)
	}
}

// writeTable writes a table's entries as an array of arrays, each its id
// and then what row writes of it: the shape every view's snapshot keeps
// its entries in.
func writeTable[E any](w *snapEncoder, entries rows[E], row func(*E)) {
	w.beginArray()
	entries.each(func(id string, e *E) error {
		w.beginArray()
		w.str(id)
		row(e)
		w.endArray()
		return w.err
	})
	w.endArray()
}

// readTable reads what writeTable wrote into t, each entry's fields by
// row. An id given twice fails the snapshot: what names the entries in
// the error ("referral", "episode").
func readTable[E any](r *snapDecoder, t *table[E], what string, row func() E) {
	readTableChecked(r, t, what, row, nil)
}

// readTableChecked is readTable with a check of each id (nil: none) made
// after the check that it is not there twice.
func readTableChecked[E any](r *snapDecoder, t *table[E], what string, row func() E, checkID func(id string) error) {
	r.beginArray()
	for r.more() {
		r.beginArray()
		id := r.str()
		e := row()
		r.endArray()
		if _, dup := t.find(id); dup {
			r.fail("%s %s twice", what, id)
		}
		if r.err == nil && checkID != nil {
			if err := checkID(id); err != nil {
				r.fail("%v", err)
			}
		}
		if r.err == nil {
			*t.add(id) = e
		}
	}
	r.endArray()
}
