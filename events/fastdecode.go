package events

import (
	"encoding/binary"
	"hash/maphash"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// A fast path for reading stored commits and events, in one pass.
//
// Decoding is most of what a view's rebuild and every in-process follower
// spend (BENCHMARKS.md, issue 17). The general decoder (decodeStored, on
// go-json-experiment/json) reads a commit's envelopes with their payloads
// kept raw, copies each payload, and reads it again by reflection once its
// type is known. The shape we write is narrow and fixed: a commit object,
// its envelopes, each with "type" and "schemaVersion" before "data", and
// payloads of strings, ints, bools, times and lists of those. This reads
// that shape directly, each byte once, each payload straight into its type.
//
// It never decides anything the general decoder would decide otherwise. It
// either reads a document completely, accepting only what decodeStored
// accepts and producing the value decodeStored produces, or gives up; the
// caller then decodes with decodeStored, whose answer (and error message)
// stands. So it refuses, by giving up, whatever it does not handle itself:
// unknown or repeated member names, a name or value of another shape, an
// escape it does not decode (a UTF-16 surrogate), invalid UTF-8, null, a
// number that is not a plain integer, a time not in RFC 3339's own form,
// an event type this build cannot read or a schema version to upcast, data
// before type, and anything after the value. FuzzFastDecodeAgrees checks
// the agreement on arbitrary bytes.

// fastKind is how one payload field is read.
type fastKind uint8

const (
	fastString fastKind = iota
	fastInt
	fastBool
	fastTime
	fastStrings
	fastStructs
)

type fastField struct {
	name  string
	index int
	kind  fastKind
	elem  *fastPlan // the element of a list of structs
	slice reflect.Type
}

// fastPlan reads one struct type: its members by name, in the order we
// write them (so a lookup usually hits the first field it tries).
type fastPlan struct {
	typ    reflect.Type
	fields []fastField
	slot   int // a payload's place in scanState.scratch
}

var timeType = reflect.TypeFor[time.Time]()

// planFor makes the plan of a payload type, or nil when it holds a field
// the fast path does not read (that type is then always read by
// decodeStored; TestFastPlansCoverTheCatalogue keeps the catalogue's types
// covered).
func planFor(t reflect.Type) *fastPlan {
	if t.Kind() != reflect.Struct || t.NumField() > 64 {
		return nil
	}
	p := &fastPlan{typ: t}
	names := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil // decodeStored would inline its fields
		}
		if !sf.IsExported() {
			continue
		}
		tag, ok := sf.Tag.Lookup("json")
		if !ok {
			return nil // decodeStored would match the Go name
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" || names[name] {
			return nil // two fields of one name: decodeStored would read neither
		}
		names[name] = true
		for o := range strings.SplitSeq(opts, ",") {
			if o != "" && o != "omitempty" && o != "omitzero" {
				return nil // string, inline, case options change how it reads
			}
		}
		f := fastField{name: name, index: i}
		switch ft := sf.Type; {
		case ft == timeType:
			f.kind = fastTime
		case ft.Kind() == reflect.String && ft.PkgPath() == "":
			f.kind = fastString
		case ft.Kind() == reflect.Int && ft.PkgPath() == "":
			f.kind = fastInt
		case ft.Kind() == reflect.Bool && ft.PkgPath() == "":
			f.kind = fastBool
		case ft.Kind() == reflect.Slice && ft.PkgPath() == "" && ft.Elem().Kind() == reflect.String && ft.Elem().PkgPath() == "":
			f.kind = fastStrings
		case ft.Kind() == reflect.Slice && ft.PkgPath() == "" && ft.Elem().Kind() == reflect.Struct && ft.Elem() != timeType:
			if f.elem = planFor(ft.Elem()); f.elem == nil {
				return nil
			}
			f.kind, f.slice = fastStructs, ft
		default:
			return nil
		}
		p.fields = append(p.fields, f)
	}
	if len(p.fields) == 0 {
		return nil
	}
	return p
}

// find is the index of the field named name, trying from next first.
func (p *fastPlan) find(name []byte, next int) int {
	for k := next; k < len(p.fields); k++ {
		if p.fields[k].name == string(name) {
			return k
		}
	}
	for k := 0; k < next && k < len(p.fields); k++ {
		if p.fields[k].name == string(name) {
			return k
		}
	}
	return -1
}

// payload reads one payload object into a new value of the plan's type.
//
// It reads into a value kept for the type (scanState.scratch) and copies
// that out, rather than reading into a new one: making an interface value
// of a struct copies it anyway, so this is one allocation instead of two.
func (p *fastPlan) payload(s *scanner) (any, bool) {
	v := s.st.scratch[p.slot]
	if !v.IsValid() {
		v = reflect.New(p.typ).Elem()
		s.st.scratch[p.slot] = v
	}
	var out any
	ok := p.read(s, v)
	if ok {
		out = v.Interface()
	}
	v.SetZero() // for the next one, and to hold on to nothing
	return out, ok
}

// read reads an object into the struct v (addressable).
func (p *fastPlan) read(s *scanner, v reflect.Value) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	var seen uint64
	next := 0
	for {
		name, ok := s.name()
		if !ok {
			return false
		}
		k := p.find(name, next)
		if k < 0 || seen&(1<<k) != 0 {
			return false
		}
		seen |= 1 << k
		next = k + 1
		f := &p.fields[k]
		fv := v.Field(f.index)
		switch f.kind {
		case fastString:
			b, ok := s.str()
			if !ok {
				return false
			}
			fv.SetString(s.string(b))
		case fastInt:
			n, ok := s.integer()
			if !ok || fv.OverflowInt(n) {
				return false
			}
			fv.SetInt(n)
		case fastBool:
			b, ok := s.boolean()
			if !ok {
				return false
			}
			fv.SetBool(b)
		case fastTime:
			if !s.time(fv.Addr().Interface().(*time.Time)) {
				return false
			}
		case fastStrings:
			l, ok := s.strings()
			if !ok {
				return false
			}
			*fv.Addr().Interface().(*[]string) = l
		case fastStructs:
			if !s.structs(f, fv) {
				return false
			}
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// scanner reads JSON from b at i.
type scanner struct {
	b   []byte
	i   int
	buf []byte // unescaped string bytes, when a string holds escapes
	st  *scanState
}

func newScanner(b []byte) scanner {
	return scanner{b: b, st: scanStates.Get().(*scanState)}
}

func (s *scanner) done() { scanStates.Put(s.st) }

// scanState is what decoding keeps from one commit to the next: one per
// goroutine decoding at a time (a pool), so no locks.
type scanState struct {
	// strs hands out one string for bytes met again: commands, actors,
	// authorities, routes, reasons recur from commit to commit, and a
	// string found here costs no allocation and no memory in the views
	// that keep it. Direct-mapped, so a miss only replaces one entry.
	strs [256]string
	// scratch holds a value of each payload type to read into.
	scratch []reflect.Value
}

var (
	scanStates = sync.Pool{New: func() any { return &scanState{scratch: make([]reflect.Value, len(catalogue))} }}
	strSeed    = maphash.MakeSeed()
)

// string is b as a string, from the cache when it is there. Longer
// strings (ids, hashes) are unique: they are not looked for.
func (s *scanner) string(b []byte) string {
	if len(b) < 2 || len(b) > 32 {
		return string(b)
	}
	e := &s.st.strs[maphash.Bytes(strSeed, b)%uint64(len(s.st.strs))]
	if *e != string(b) {
		*e = string(b)
	}
	return *e
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c, if c is next.
func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c { // we write no whitespace
		s.i++
		return true
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether nothing but whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// name reads a member name and the colon after it. Names are ASCII
// without escapes (ours all are); any other name gives up.
func (s *scanner) name() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start, j := s.i, s.i
	for j < len(s.b) && plain[s.b[j]] {
		j++
	}
	if j == len(s.b) || s.b[j] != '"' {
		return nil, false
	}
	s.i = j + 1
	return s.b[start:j], s.consume(':')
}

// plain marks the bytes a string holds as themselves: printable ASCII
// but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string value. The bytes are only good until the next call
// (they are the input's, or the scanner's buffer once unescaped).
func (s *scanner) str() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for j := start; j < len(s.b); {
		for j+8 <= len(s.b) && !special8(binary.LittleEndian.Uint64(s.b[j:])) {
			j += 8
		}
		for j < len(s.b) && plain[s.b[j]] {
			j++
		}
		if j == len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\':
			return s.escaped(start, j)
		case c < 0x20:
			return nil, false
		case c < utf8.RuneSelf:
			j++
		default:
			r, n := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && n == 1 {
				return nil, false // invalid UTF-8: decodeStored refuses it
			}
			j += n
		}
	}
	return nil, false
}

// special8 reports whether any of the 8 bytes in x is not plain (a quote,
// a backslash, a control character or a byte of a multi-byte rune), eight
// at a time: most of a commit's bytes are in strings. It may say yes for a
// plain byte after one that is not, never no for one that is not.
func special8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return ((x-ones*0x20)&^x|zero(x^(ones*'"'))|zero(x^(ones*'\\'))|x)&highs != 0
}

// escaped finishes a string holding escapes from j on, into s.buf.
func (s *scanner) escaped(start, j int) ([]byte, bool) {
	out := append(s.buf[:0], s.b[start:j]...)
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i, s.buf = j+1, out
			return out, true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if j+1 >= len(s.b) {
				return nil, false
			}
			switch e := s.b[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(s.b[j+2:])
				if !ok || utf8.RuneLen(r) < 0 {
					return nil, false // a surrogate: left to decodeStored
				}
				out = utf8.AppendRune(out, r)
				j += 4
			default:
				return nil, false
			}
			j += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, n := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			out = append(out, s.b[j:j+n]...)
			j += n
		}
	}
	return nil, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// integer reads a JSON integer that fits an int: digits, perhaps a minus,
// no leading zero, fraction or exponent.
func (s *scanner) integer() (int64, bool) {
	s.ws()
	j, neg := s.i, false
	if j < len(s.b) && s.b[j] == '-' {
		neg = true
		j++
	}
	start := j
	var n uint64
	for ; j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9'; j++ {
		if j-start >= 18 {
			return 0, false // may not fit: left to decodeStored
		}
		n = n*10 + uint64(s.b[j]-'0')
	}
	switch {
	case j == start, s.b[start] == '0' && (j-start > 1 || neg):
		return 0, false
	case j < len(s.b) && (s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E'):
		return 0, false
	}
	s.i = j
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (s *scanner) boolean() (bool, bool) {
	s.ws()
	switch rest := s.b[s.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// time reads a time in the form time.Time marshals to (RFC 3339, seconds,
// an optional fraction of 1 to 9 digits, Z or a numeric offset), with the
// function decodeStored uses (time.Time.UnmarshalText), so the two agree.
// The form is checked first because decodeStored refuses some times
// UnmarshalText takes (a one-digit hour, a comma before the fraction, an
// offset out of range).
func (s *scanner) time(t *time.Time) bool {
	b, ok := s.str()
	if !ok {
		return false
	}
	if *t, ok = utcTime(b); ok {
		return true
	}
	return rfc3339Form(b) && t.UnmarshalText(b) == nil
}

// utcTime reads the form we write most, UTC with "Z", as UnmarshalText
// does (the same checks, then time.Date in UTC) but without its general
// parse; ok is false for any other form, or a field out of range.
func utcTime(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || b[len(b)-1] != 'Z' || !rfc3339Form(b) {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), time.Month(num(b[5:7])), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 { // ".", then 1 to 9 digits (rfc3339Form)
		nsec = num(frac[1:])
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	// time.Date would do, but it is general (normalising, any zone) and
	// shows in a rebuild's profile; this is the same instant, the same
	// value (UTC, no monotonic reading).
	days := daysSinceEpoch(year, month, day)
	return time.Unix(days*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

// daysSinceEpoch counts days from 1970-01-01 to a date of the proleptic
// Gregorian calendar (H. Hinnant's days_from_civil).
func daysSinceEpoch(year int, month time.Month, day int) int64 {
	y, m := int64(year), int64(month)
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400                           // [0, 399]
	doy := (153*((m+9)%12)+2)/5 + int64(day) - 1 // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy       // [0, 146096]
	return era*146097 + doe - 719468
}

func daysIn(m time.Month, year int) int {
	if m == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return monthDays[m-1]
}

var monthDays = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func rfc3339Form(b []byte) bool {
	const form = "0000-00-00T00:00:00"
	if len(b) < len(form)+1 {
		return false
	}
	for i := range len(form) {
		if form[i] == '0' {
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		} else if b[i] != form[i] {
			return false
		}
	}
	rest := b[len(form):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, i := range []int{1, 2, 4, 5} {
			if rest[i] < '0' || rest[i] > '9' {
				return false
			}
		}
		return (rest[1]-'0')*10+(rest[2]-'0') < 24 && (rest[4]-'0')*10+(rest[5]-'0') < 60
	}
	return false
}

// strings reads a list of strings; [] is an empty list, not nil, as
// decodeStored reads it.
func (s *scanner) strings() ([]string, bool) {
	if !s.consume('[') {
		return nil, false
	}
	l := []string{}
	if s.consume(']') {
		return l, true
	}
	for {
		b, ok := s.str()
		if !ok {
			return nil, false
		}
		l = append(l, s.string(b))
		if s.consume(',') {
			continue
		}
		return l, s.consume(']')
	}
}

// structs reads a list of objects into the slice fv.
func (s *scanner) structs(f *fastField, fv reflect.Value) bool {
	if !s.consume('[') {
		return false
	}
	l := reflect.MakeSlice(f.slice, 0, 0)
	if s.consume(']') {
		fv.Set(l)
		return true
	}
	for {
		l = reflect.Append(l, reflect.Zero(f.elem.typ))
		if !f.elem.read(s, l.Index(l.Len()-1)) {
			return false
		}
		if s.consume(',') {
			continue
		}
		if !s.consume(']') {
			return false
		}
		fv.Set(l)
		return true
	}
}

// The envelope's members, for finding repeats.
const (
	envID = 1 << iota
	envType
	envSchemaVersion
	envAggregateID
	envOccurredAt
	envRecordedAt
	envActor
	envPerson
	envCorrelationID
	envCausationID
	envData
	envPrevHash
	envHash
	envSealed
)

// event reads one envelope and its payload into e (zero).
func (s *scanner) event(e *Event) bool {
	if !s.consume('{') {
		return false
	}
	var seen int
	var pt payloadType
	for {
		name, ok := s.name()
		if !ok {
			return false
		}
		var bit int
		var str *string
		switch string(name) {
		case "id":
			bit, str = envID, &e.ID
		case "type":
			bit = envType
			b, ok := s.str()
			if !ok {
				return false
			}
			if pt, ok = catalogue[string(b)]; !ok || pt.fast == nil {
				return false // unknown: decodeStored reads it as Unknown
			}
			e.Type = pt.name
		case "schemaVersion":
			bit = envSchemaVersion
			n, ok := s.integer()
			if !ok {
				return false
			}
			e.SchemaVersion = int(n)
		case "aggregateId":
			bit, str = envAggregateID, &e.AggregateID
		case "occurredAt":
			bit = envOccurredAt
			if !s.time(&e.OccurredAt) {
				return false
			}
		case "recordedAt":
			bit = envRecordedAt
			if !s.time(&e.RecordedAt) {
				return false
			}
		case "actor":
			bit, str = envActor, &e.Actor
		case "person":
			bit, str = envPerson, &e.Person
		case "correlationId":
			bit, str = envCorrelationID, &e.CorrelationID
		case "causationId":
			bit, str = envCausationID, &e.CausationID
		case "data":
			bit = envData
			// The payload's type must be known, and need no upcast,
			// before its bytes are reached.
			if seen&envType == 0 || seen&envSchemaVersion == 0 || e.SchemaVersion != pt.version {
				return false
			}
			if e.Data, ok = pt.fast.payload(s); !ok {
				return false
			}
		case "sealed":
			bit, str = envSealed, &e.Sealed
		case "prevHash":
			bit, str = envPrevHash, &e.PrevHash
		case "hash":
			bit, str = envHash, &e.Hash
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if str != nil {
			b, ok := s.str()
			if !ok {
				return false
			}
			*str = s.string(b)
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}') && seen&envData != 0
	}
}

// decodeCommitFast is DecodeCommit's fast path: ok is false when it gave
// the document up to decodeStored.
func decodeCommitFast(b []byte) (c Commit, ok bool) {
	s := newScanner(b)
	defer s.done()
	if !s.consume('{') {
		return c, false
	}
	const (
		command = 1 << iota
		idempotencyKey
		requestHash
		evs
	)
	seen := 0
	for {
		name, ok := s.name()
		if !ok {
			return c, false
		}
		var bit int
		var str *string
		switch string(name) {
		case "command":
			bit, str = command, &c.Command
		case "idempotencyKey":
			bit, str = idempotencyKey, &c.IdempotencyKey
		case "requestHash":
			bit, str = requestHash, &c.RequestHash
		case "events":
			bit = evs
			if !s.consume('[') {
				return c, false
			}
			for {
				c.Events = append(c.Events, Event{})
				if !s.event(&c.Events[len(c.Events)-1]) {
					return c, false
				}
				if s.consume(',') {
					continue
				}
				if !s.consume(']') {
					return c, false
				}
				break
			}
		default:
			return c, false
		}
		if seen&bit != 0 {
			return c, false
		}
		seen |= bit
		if str != nil {
			b, ok := s.str()
			if !ok {
				return c, false
			}
			*str = s.string(b)
		}
		if s.consume(',') {
			continue
		}
		if !s.consume('}') || !s.end() || len(c.Events) == 0 {
			return c, false
		}
		return c, true
	}
}

// decodeEventFast is Decode's fast path.
func decodeEventFast(b []byte) (e Event, ok bool) {
	s := newScanner(b)
	defer s.done()
	return e, s.event(&e) && s.end()
}

// Each catalogue entry gets its name (the string an event's Type then
// shares, rather than a copy per event) and its plan; a type whose plan
// cannot be made is read by decodeStored alone.
func init() {
	slot := 0
	for name, pt := range catalogue {
		pt.name = name
		if pt.fast = planFor(pt.codec.goType()); pt.fast != nil {
			pt.fast.slot = slot
			slot++
		}
		catalogue[name] = pt
	}
}
