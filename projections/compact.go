package projections

import (
	"slices"
	"time"
)

// The views keep an entry per referral for as long as the engine runs
// (280,000 at a million events), so an entry is small fixed-size values
// rather than strings, pointers and maps: codes (authorities, statuses,
// routes) interned per view, times as seconds and nanoseconds with the
// offset they were written with, and entries held in chunks that a
// snapshot shares with the live view instead of copying them.

// sym is an interned string: an index into its view's symbols. 0 is "".
type sym uint32

// symbols interns a view's codes. Only ever appended to: a snapshot being
// written keeps the prefix it took while the view goes on adding.
type symbols struct {
	names []string // names[0] is ""
	index map[string]sym
}

// of interns name.
func (s *symbols) of(name string) sym {
	if name == "" {
		return 0
	}
	if i, ok := s.index[name]; ok {
		return i
	}
	if s.index == nil {
		s.index, s.names = map[string]sym{}, []string{""}
	}
	i := sym(len(s.names))
	s.names = append(s.names, name)
	s.index[name] = i
	return i
}

// find is name's symbol, without interning it (for filters): false when
// the view never met it.
func (s *symbols) find(name string) (sym, bool) {
	if name == "" {
		return 0, true
	}
	i, ok := s.index[name]
	return i, ok
}

func (s *symbols) name(i sym) string {
	if i == 0 {
		return ""
	}
	return s.names[i]
}

// list is the names to write to a snapshot, as they are now.
func (s *symbols) list() []string {
	if len(s.names) == 0 {
		return []string{""}
	}
	return s.names[:len(s.names):len(s.names)]
}

// restore sets the symbols read from a snapshot (names[0] must be "").
func (s *symbols) restore(names []string) {
	s.names, s.index = names, make(map[string]sym, len(names))
	for i, n := range names[1:] {
		s.index[n] = sym(i + 1)
	}
}

// moment is a time.Time in 16 bytes holding no pointer, instead of 24
// with a *time.Location: Unix seconds packed with the UTC offset it was
// written with (in minutes, biased so that a real time never packs to 0),
// and nanoseconds. The zero
// moment is the zero time. The offset is kept because the API gives times
// back as the events had them (a deadline at 23:59:59.999+01:00 stays
// that); times read from JSON (RFC 3339) always have whole-minute offsets.
type moment struct {
	wall int64 // seconds<<12 | (offset minutes + 2048); 0: the zero time
	nsec int32
}

const zoneBias = 2048

func momentOf(t time.Time) moment {
	if t.IsZero() {
		return moment{}
	}
	_, off := t.Zone()
	return moment{wall: t.Unix()<<12 | int64(off/60+zoneBias)&0xfff, nsec: int32(t.Nanosecond())}
}

func (m moment) isZero() bool { return m.wall == 0 }

func (m moment) time() time.Time {
	if m.wall == 0 {
		return time.Time{}
	}
	return time.Unix(m.wall>>12, int64(m.nsec)).In(zone(int(m.wall&0xfff) - zoneBias))
}

// before orders moments by the instant, as time.Before does (the zero
// time is before every other).
func (m moment) before(o moment) bool {
	switch {
	case m.wall == 0 || o.wall == 0:
		return m.wall == 0 && o.wall != 0
	case m.wall>>12 != o.wall>>12:
		return m.wall>>12 < o.wall>>12
	}
	return m.nsec < o.nsec
}

// equal is the same instant, as time.Equal is.
func (m moment) equal(o moment) bool {
	if m.wall == 0 || o.wall == 0 {
		return m.wall == o.wall
	}
	return m.wall>>12 == o.wall>>12 && m.nsec == o.nsec
}

// zones holds a location for every whole quarter-hour offset, so giving a
// moment back as a time allocates nothing in the common case.
var zones = func() map[int]*time.Location {
	z := map[int]*time.Location{0: time.UTC}
	for q := -14 * 4; q <= 14*4; q++ {
		if q != 0 {
			z[q*15] = time.FixedZone("", q*15*60)
		}
	}
	return z
}()

func zone(minutes int) *time.Location {
	if l, ok := zones[minutes]; ok {
		return l
	}
	return time.FixedZone("", minutes*60)
}

// A table holds a view's entries by aggregate id, in the order they were
// first added (so a fold, its rebuild and its snapshot agree on the order
// without sorting), in fixed chunks: growing never copies what is there,
// and a snapshot shares the chunks instead of copying the view. A chunk
// shared with a snapshot is copied before it is written to (mut).
type table[E any] struct {
	index  map[string]int32
	chunks []*chunk[E]
	n      int
	gen    uint64 // chunks of an older generation are shared with a snapshot
}

const (
	chunkShift = 9
	chunkLen   = 1 << chunkShift
)

type chunk[E any] struct {
	gen  uint64
	ids  [chunkLen]string
	rows [chunkLen]E
}

func (t *table[E]) len() int { return t.n }

func (t *table[E]) find(id string) (int, bool) {
	i, ok := t.index[id]
	return int(i), ok
}

// get is entry i, to read.
func (t *table[E]) get(i int) *E { return &t.chunks[i>>chunkShift].rows[i&(chunkLen-1)] }

func (t *table[E]) id(i int) string { return t.chunks[i>>chunkShift].ids[i&(chunkLen-1)] }

// mut is entry i, to write: its chunk is the view's own from here on.
func (t *table[E]) mut(i int) *E {
	c := t.chunks[i>>chunkShift]
	if c.gen != t.gen {
		cp := new(chunk[E])
		*cp = *c
		cp.gen = t.gen
		t.chunks[i>>chunkShift], c = cp, cp
	}
	return &c.rows[i&(chunkLen-1)]
}

// add appends a zero entry for id (not already in the table), to write.
func (t *table[E]) add(id string) *E {
	if t.index == nil {
		t.index = map[string]int32{}
	}
	if t.n&(chunkLen-1) == 0 {
		t.chunks = append(t.chunks, &chunk[E]{gen: t.gen})
	}
	i := t.n
	t.n++
	t.index[id] = int32(i)
	c := t.chunks[i>>chunkShift]
	if c.gen != t.gen {
		t.mut(i)
		c = t.chunks[i>>chunkShift]
	}
	c.ids[i&(chunkLen-1)] = id
	return &c.rows[i&(chunkLen-1)]
}

// put sets id's entry, adding it if the table has none.
func (t *table[E]) put(id string, e E) {
	if i, ok := t.find(id); ok {
		*t.mut(i) = e
		return
	}
	*t.add(id) = e
}

// update applies change to a copy of id's entry, if the table has one, and
// writes it back only if it changed: most events change nothing in a view,
// and writing would copy a chunk shared with a snapshot for nothing.
func update[E comparable](t *table[E], id string, change func(*E)) {
	i, ok := t.find(id)
	if !ok {
		return
	}
	was := *t.get(i)
	e := was
	change(&e)
	if e != was {
		*t.mut(i) = e
	}
}

// take is the table for a snapshot: as it is now while the view is held
// still, frozen when the view moves on while it is written.
func (t *table[E]) take(freeze bool) rows[E] {
	if freeze {
		return t.freeze()
	}
	return t.rows()
}

// rows is the table as it is now, to read while the view is held still.
func (t *table[E]) rows() rows[E] {
	return rows[E]{chunks: t.chunks[:len(t.chunks):len(t.chunks)], n: t.n}
}

// freeze is the table as it is now, for a snapshot written while the view
// moves on: every chunk is shared, and the view copies one before it next
// writes to it.
func (t *table[E]) freeze() rows[E] {
	// The view replaces the chunks it copies in its own list: the frozen
	// rows need a list of their own (pointers only: 8 bytes a chunk).
	r := rows[E]{chunks: slices.Clone(t.chunks), n: t.n}
	t.gen++
	return r
}

// rows is a table's entries as they were when taken.
type rows[E any] struct {
	chunks []*chunk[E]
	n      int
}

func (r rows[E]) each(fn func(id string, e *E) error) error {
	for i := 0; i < r.n; i++ {
		c := r.chunks[i>>chunkShift]
		if err := fn(c.ids[i&(chunkLen-1)], &c.rows[i&(chunkLen-1)]); err != nil {
			return err
		}
	}
	return nil
}
