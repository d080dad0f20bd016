package projections

import (
	"slices"
	"sort"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Timeliness is the timeliness view's state: per authority and month of
// receipt, how many referrals were received, placed, placed within their
// deadline and breached, and how many working days placements took; and
// the open referrals with their deadlines, for the at-risk list.
//
// Months are months of receipt (a cohort): "of the referrals received in
// June, 80% were placed within the deadline" stays true as the year goes on,
// where counting placements by the month they happened would mix cohorts.
type Timeliness struct {
	buckets map[bucketKey]*Bucket
	syms    symbols
	refs    table[timeRef]
	cal     *calendar.Calendar
}

// bucketKey is an authority's month of receipt.
type bucketKey struct {
	authority sym
	month     int32 // year*12 + month-1
}

// Bucket is one authority's month.
type Bucket struct {
	Received     int `json:"received"`
	Placed       int `json:"placed"`
	PlacedWithin int `json:"placedWithin"`
	Breached     int `json:"breached"`
	Withdrawn    int `json:"withdrawn"`
	// Days is the histogram of working days from receipt to placement.
	Days map[int]int `json:"days"`
}

// timeRef is a referral as the view keeps it (compact: see compact.go).
type timeRef struct {
	receivedAt, dueAt, warningAt, placedAt moment
	authority, status                      sym
	month                                  int32 // of receipt, London time: year*12 + month-1
	breached                               bool
	counted                                bool // placedWithin decided
}

// NewTimeliness is the empty view; working days are counted with cal.
func NewTimeliness(cal *calendar.Calendar) *Timeliness {
	return &Timeliness{buckets: map[bucketKey]*Bucket{}, cal: cal}
}

func monthOf(t time.Time) int32 {
	y, m, _ := t.In(calendar.London).Date()
	return int32(y)*12 + int32(m) - 1
}

// monthName is the month as reports write it, YYYY-MM.
func monthName(m int32) string {
	return time.Date(int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

func (v *Timeliness) bucket(r *timeRef) *Bucket {
	k := bucketKey{r.authority, r.month}
	b := v.buckets[k]
	if b == nil {
		b = &Bucket{Days: map[int]int{}}
		v.buckets[k] = b
	}
	return b
}

func (v *Timeliness) status(r *timeRef) aggregates.Status {
	return aggregates.Status(v.syms.name(r.status))
}

// ApplyTimeliness folds one event into the timeliness view.
func ApplyTimeliness(v *Timeliness, e events.Event) *Timeliness {
	switch d := e.Data.(type) {
	case events.ReferralReferred:
		// Counted once an authority accepts it (the received that follows);
		// kept now for its deadline, which the saga sets meanwhile.
		v.refs.put(e.AggregateID, timeRef{month: monthOf(e.OccurredAt), receivedAt: momentOf(e.OccurredAt), status: v.syms.of(string(aggregates.NextStatus(aggregates.StatusNone, e)))})
		return v
	case events.ReferralReceived:
		i, ok := v.refs.find(e.AggregateID)
		if ok && v.refs.get(i).authority != 0 {
			return v // received once; a second, empty receipt (issue 21) is not counted again
		}
		if ok {
			r := v.refs.mut(i)
			r.authority = v.syms.of(d.ReceivingAuthority)
			r.status = v.syms.of(string(aggregates.StatusOpen))
			b := v.bucket(r)
			b.Received++
			if r.breached {
				b.Breached++
			}
			v.within(r)
			return v
		}
		r := timeRef{authority: v.syms.of(d.ReceivingAuthority), month: monthOf(e.OccurredAt), receivedAt: momentOf(e.OccurredAt), status: v.syms.of(string(aggregates.NextStatus(aggregates.StatusNone, e)))}
		v.bucket(&r).Received++
		v.refs.put(e.AggregateID, r)
		return v
	}
	update(&v.refs, e.AggregateID, func(r *timeRef) {
		before := v.status(r)
		after := aggregates.NextStatus(before, e)
		r.status = v.syms.of(string(after))
		switch d := e.Data.(type) {
		case events.DeadlineSet:
			r.dueAt, r.warningAt = momentOf(d.DueAt), momentOf(d.WarningAt)
			v.within(r)
		case events.ReferralPlaced:
			if after == before {
				return // placed already: the status is as it was
			}
			r.placedAt = momentOf(d.PlacedAt)
			b := v.bucket(r)
			b.Placed++
			b.Days[v.cal.WorkingDaysBetween(calendar.DateOf(r.receivedAt.time()), calendar.DateOf(d.PlacedAt))]++
			v.within(r)
		case events.DeadlineBreached:
			if !r.breached {
				r.breached = true
				if r.authority != 0 {
					v.bucket(r).Breached++
				} // else counted when an authority accepts it
			}
		case events.ReferralWithdrawn:
			if after != before && r.authority != 0 {
				v.bucket(r).Withdrawn++
			}
		}
	})
	return v
}

// within counts a placement made by its deadline, once both are known (the
// saga's deadline.set may land after a quick placement).
func (v *Timeliness) within(r *timeRef) {
	if r.counted || r.placedAt.isZero() || r.dueAt.isZero() {
		return
	}
	r.counted = true
	if !r.dueAt.before(r.placedAt) {
		v.bucket(r).PlacedWithin++
	}
}

// MarshalJSON is the view as its snapshot holds it.
func (v *Timeliness) MarshalJSON() ([]byte, error) { return marshal(v.writer(false)) }

// bucketCopy is a bucket as a snapshot takes it, its histogram in order.
type bucketCopy struct {
	key  bucketKey
	b    Bucket
	days [][2]int
}

// writer takes what the view's snapshot holds: the buckets (a few
// thousand) copied, the referrals shared.
func (v *Timeliness) writer(freeze bool) func(*snapEncoder) {
	buckets := make([]bucketCopy, 0, len(v.buckets))
	for k, b := range v.buckets {
		c := bucketCopy{key: k, b: *b, days: make([][2]int, 0, len(b.Days))}
		for d, n := range b.Days {
			c.days = append(c.days, [2]int{d, n})
		}
		slices.SortFunc(c.days, func(a, b [2]int) int { return a[0] - b[0] })
		buckets = append(buckets, c)
	}
	slices.SortFunc(buckets, func(a, b bucketCopy) int {
		if a.key.authority != b.key.authority {
			return int(a.key.authority) - int(b.key.authority)
		}
		return int(a.key.month - b.key.month)
	})
	names, refs := v.syms.list(), v.refs.take(freeze)
	return func(w *snapEncoder) {
		w.openWithSymbols(names)
		w.name("buckets")
		w.beginArray()
		for _, c := range buckets {
			w.beginArray()
			w.sym(c.key.authority)
			w.num(int64(c.key.month))
			for _, n := range []int{c.b.Received, c.b.Placed, c.b.PlacedWithin, c.b.Breached, c.b.Withdrawn} {
				w.num(int64(n))
			}
			w.beginArray()
			for _, dn := range c.days {
				w.num(int64(dn[0]))
				w.num(int64(dn[1]))
			}
			w.endArray()
			w.endArray()
		}
		w.endArray()
		w.name("referrals")
		writeTable(w, refs, func(r *timeRef) {
			w.sym(r.authority)
			w.sym(r.status)
			w.num(int64(r.month))
			w.flag(r.breached)
			w.flag(r.counted)
			w.at(r.receivedAt)
			w.at(r.dueAt)
			w.at(r.warningAt)
			w.at(r.placedAt)
		})
		w.endObject()
	}
}

// loadTimeliness reads the view from its snapshot.
func loadTimeliness(dec *jsontext.Decoder, cal *calendar.Calendar) (*Timeliness, error) {
	v, r := NewTimeliness(cal), &snapDecoder{dec: dec}
	r.openWithSymbols(&v.syms)
	r.name("buckets")
	r.beginArray()
	for r.more() {
		r.beginArray()
		k := bucketKey{authority: r.sym(), month: int32(r.num())}
		b := &Bucket{Received: int(r.num()), Placed: int(r.num()), PlacedWithin: int(r.num()), Breached: int(r.num()), Withdrawn: int(r.num()), Days: map[int]int{}}
		r.beginArray()
		for r.more() {
			d := int(r.num())
			b.Days[d] = int(r.num())
		}
		r.endArray()
		r.endArray()
		v.buckets[k] = b
	}
	r.endArray()
	r.name("referrals")
	readTable(r, &v.refs, "referral", func() timeRef {
		ref := timeRef{authority: r.sym(), status: r.sym(), month: int32(r.num()), breached: r.flag(), counted: r.flag()}
		ref.receivedAt, ref.dueAt, ref.warningAt, ref.placedAt = r.at(), r.at(), r.at(), r.at()
		return ref
	})
	r.endObject()
	return v, r.err
}

// TimelinessFilter narrows the report. Months are YYYY-MM, inclusive.
type TimelinessFilter struct {
	Region, Authority string
	From, To          string
}

// TimelinessRow is one group's figures.
type TimelinessRow struct {
	Authority    string   `json:"authority,omitempty"`
	Name         string   `json:"name,omitempty"`
	Region       string   `json:"region,omitempty"`
	Month        string   `json:"month,omitempty"`
	Received     int      `json:"received"`
	Placed       int      `json:"placed"`
	PlacedWithin int      `json:"placedWithin"`
	ShareWithin  *float64 `json:"shareWithin"` // of those placed; null when none were
	MedianDays   *float64 `json:"medianWorkingDaysToPlacement"`
	P90Days      *float64 `json:"p90WorkingDaysToPlacement"`
	Breaches     int      `json:"breaches"`
	Withdrawn    int      `json:"withdrawn"`
	days         map[int]int
}

// AtRisk is an open referral at risk of, or past, its deadline.
type AtRisk struct {
	ReferralID         string    `json:"referralId"`
	Authority          string    `json:"authority"`
	Region             string    `json:"region"`
	ReceivedAt         time.Time `json:"receivedAt"`
	DueAt              time.Time `json:"dueAt"`
	State              string    `json:"state"` // at-risk or breached
	WorkingDaysElapsed int       `json:"workingDaysElapsed"`
}

// TimelinessReport is the timeliness view as people read it.
type TimelinessReport struct {
	ByAuthorityMonth []TimelinessRow `json:"byAuthorityMonth"`
	ByRegionMonth    []TimelinessRow `json:"byRegionMonth"`
	ByMonth          []TimelinessRow `json:"byMonth"`
	Total            TimelinessRow   `json:"total"`
	AtRiskNow        []AtRisk        `json:"atRiskNow"`
}

// ReportTimeliness reads the view at now.
func ReportTimeliness(v *Timeliness, reg *refdata.Registry, f TimelinessFilter, now time.Time) TimelinessReport {
	keep := func(authority, month string) bool {
		if f.Authority != "" && authority != f.Authority {
			return false
		}
		if f.Region != "" && reg.RegionOf(authority) != f.Region {
			return false
		}
		if month != "" && ((f.From != "" && month < f.From) || (f.To != "" && month > f.To)) {
			return false
		}
		return true
	}
	byRegion, byMonth := map[string]*TimelinessRow{}, map[string]*TimelinessRow{}
	total := &TimelinessRow{days: map[int]int{}}
	// Empty lists are [] in JSON, never null.
	rep := TimelinessReport{ByAuthorityMonth: []TimelinessRow{}, ByRegionMonth: []TimelinessRow{}, ByMonth: []TimelinessRow{}, AtRiskNow: []AtRisk{}}
	for k, b := range v.buckets {
		authority, month := v.syms.name(k.authority), monthName(k.month)
		if !keep(authority, month) {
			continue
		}
		a, _ := reg.Lookup(authority)
		row := TimelinessRow{Authority: authority, Name: a.Name, Region: a.Region, Month: month, days: map[int]int{}}
		add(&row, b)
		rep.ByAuthorityMonth = append(rep.ByAuthorityMonth, finish(row))
		for _, g := range []struct {
			m   map[string]*TimelinessRow
			key string
			row TimelinessRow
		}{{byRegion, a.Region + "|" + month, TimelinessRow{Region: a.Region, Month: month}}, {byMonth, month, TimelinessRow{Month: month}}} {
			r := g.m[g.key]
			if r == nil {
				r = &g.row
				r.days = map[int]int{}
				g.m[g.key] = r
			}
			add(r, b)
		}
		add(total, b)
	}
	for _, r := range byRegion {
		rep.ByRegionMonth = append(rep.ByRegionMonth, finish(*r))
	}
	for _, r := range byMonth {
		rep.ByMonth = append(rep.ByMonth, finish(*r))
	}
	rep.Total = finish(*total)
	sortRows(rep.ByAuthorityMonth)
	sortRows(rep.ByRegionMonth)
	sortRows(rep.ByMonth)

	for i := range v.refs.len() {
		r := v.refs.get(i)
		if r.dueAt.isZero() || !v.status(r).Open() {
			continue
		}
		authority := v.syms.name(r.authority)
		if !keep(authority, "") {
			continue
		}
		dueAt := r.dueAt.time()
		state := ""
		switch {
		case r.breached || now.After(dueAt):
			state = "breached"
		case !now.Before(r.warningAt.time()):
			state = "at-risk"
		default:
			continue
		}
		receivedAt := r.receivedAt.time()
		rep.AtRiskNow = append(rep.AtRiskNow, AtRisk{ReferralID: v.refs.id(i), Authority: authority, Region: reg.RegionOf(authority), ReceivedAt: receivedAt, DueAt: dueAt, State: state,
			WorkingDaysElapsed: v.cal.WorkingDaysBetween(calendar.DateOf(receivedAt), calendar.DateOf(now))})
	}
	sort.Slice(rep.AtRiskNow, func(i, j int) bool {
		a, b := rep.AtRiskNow[i], rep.AtRiskNow[j]
		if !a.DueAt.Equal(b.DueAt) {
			return a.DueAt.Before(b.DueAt)
		}
		return a.ReferralID < b.ReferralID
	})
	if rep.AtRiskNow == nil {
		rep.AtRiskNow = []AtRisk{}
	}
	return rep
}

// DaysHistogram is the row's distribution of working days from referral to
// placement: how many placements took each number of days.
func (r TimelinessRow) DaysHistogram() map[int]int {
	out := make(map[int]int, len(r.days))
	for d, n := range r.days {
		out[d] = n
	}
	return out
}

func add(r *TimelinessRow, b *Bucket) {
	r.Received += b.Received
	r.Placed += b.Placed
	r.PlacedWithin += b.PlacedWithin
	r.Breaches += b.Breached
	r.Withdrawn += b.Withdrawn
	for d, n := range b.Days {
		r.days[d] += n
	}
}

func finish(r TimelinessRow) TimelinessRow {
	if r.Placed > 0 {
		share := float64(r.PlacedWithin) / float64(r.Placed)
		r.ShareWithin = &share
	}
	r.MedianDays = quantile(r.days, 0.5)
	r.P90Days = quantile(r.days, 0.9)
	return r
}

// quantile of a histogram of whole days, by the nearest-rank method (the
// value at rank ceil(q*n)): a number of days someone actually waited, not
// an interpolation between two.
func quantile(h map[int]int, q float64) *float64 {
	n := 0
	keys := make([]int, 0, len(h))
	for d, c := range h {
		n += c
		keys = append(keys, d)
	}
	if n == 0 {
		return nil
	}
	sort.Ints(keys)
	rank := int(q*float64(n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	seen := 0
	for _, d := range keys {
		seen += h[d]
		if seen >= rank {
			v := float64(d)
			return &v
		}
	}
	return nil
}

func sortRows(rows []TimelinessRow) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Month != b.Month {
			return a.Month < b.Month
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return a.Authority < b.Authority
	})
}
