package projections

import (
	"sort"
	"time"

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
	Buckets   map[string]*Bucket  `json:"buckets"` // "<authority>|<YYYY-MM>"
	Referrals map[string]*timeRef `json:"referrals"`
	cal       *calendar.Calendar
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

type timeRef struct {
	Authority  string            `json:"a"`
	Month      string            `json:"m"`
	ReceivedAt time.Time         `json:"r"`
	DueAt      time.Time         `json:"d,omitzero"`
	WarningAt  time.Time         `json:"w,omitzero"`
	PlacedAt   time.Time         `json:"p,omitzero"`
	Status     aggregates.Status `json:"s"`
	Breached   bool              `json:"b,omitempty"`
	Counted    bool              `json:"c,omitempty"` // placedWithin decided
}

// NewTimeliness is the empty view; working days are counted with cal.
func NewTimeliness(cal *calendar.Calendar) *Timeliness {
	return &Timeliness{Buckets: map[string]*Bucket{}, Referrals: map[string]*timeRef{}, cal: cal}
}

// SetCalendar sets the calendar of a view read back from a snapshot.
func (v *Timeliness) SetCalendar(cal *calendar.Calendar) { v.cal = cal }

func (v *Timeliness) bucket(r *timeRef) *Bucket {
	k := r.Authority + "|" + r.Month
	b := v.Buckets[k]
	if b == nil {
		b = &Bucket{Days: map[int]int{}}
		v.Buckets[k] = b
	}
	return b
}

// ApplyTimeliness folds one event into the timeliness view.
func ApplyTimeliness(v *Timeliness, e events.Event) *Timeliness {
	switch d := e.Data.(type) {
	case events.ReferralReferred:
		// Counted once an authority accepts it (the received that follows);
		// kept now for its deadline, which the saga sets meanwhile.
		v.Referrals[e.AggregateID] = &timeRef{Month: e.OccurredAt.In(calendar.London).Format("2006-01"), ReceivedAt: e.OccurredAt, Status: aggregates.NextStatus(aggregates.StatusNone, e)}
		return v
	case events.ReferralReceived:
		if r := v.Referrals[e.AggregateID]; r != nil && r.Authority == "" {
			r.Authority = d.ReceivingAuthority
			r.Status = aggregates.StatusOpen
			b := v.bucket(r)
			b.Received++
			if r.Breached {
				b.Breached++
			}
			v.within(r)
			return v
		}
		r := &timeRef{Authority: d.ReceivingAuthority, Month: e.OccurredAt.In(calendar.London).Format("2006-01"), ReceivedAt: e.OccurredAt, Status: aggregates.NextStatus(aggregates.StatusNone, e)}
		v.Referrals[e.AggregateID] = r
		v.bucket(r).Received++
		return v
	}
	r := v.Referrals[e.AggregateID]
	if r == nil {
		return v
	}
	before := r.Status
	r.Status = aggregates.NextStatus(before, e)
	switch d := e.Data.(type) {
	case events.DeadlineSet:
		r.DueAt, r.WarningAt = d.DueAt, d.WarningAt
		v.within(r)
	case events.ReferralPlaced:
		if r.Status == before {
			return v
		}
		r.PlacedAt = d.PlacedAt
		b := v.bucket(r)
		b.Placed++
		b.Days[v.cal.WorkingDaysBetween(calendar.DateOf(r.ReceivedAt), calendar.DateOf(d.PlacedAt))]++
		v.within(r)
	case events.DeadlineBreached:
		if !r.Breached {
			r.Breached = true
			if r.Authority != "" {
				v.bucket(r).Breached++
			} // else counted when an authority accepts it
		}
	case events.ReferralWithdrawn:
		if r.Status != before && r.Authority != "" {
			v.bucket(r).Withdrawn++
		}
	}
	return v
}

// within counts a placement made by its deadline, once both are known (the
// saga's deadline.set may land after a quick placement).
func (v *Timeliness) within(r *timeRef) {
	if r.Counted || r.PlacedAt.IsZero() || r.DueAt.IsZero() {
		return
	}
	r.Counted = true
	if !r.PlacedAt.After(r.DueAt) {
		v.bucket(r).PlacedWithin++
	}
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
	for k, b := range v.Buckets {
		authority, month := k[:len(k)-8], k[len(k)-7:]
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

	for id, r := range v.Referrals {
		if !r.Status.Open() || r.DueAt.IsZero() || !keep(r.Authority, "") {
			continue
		}
		state := ""
		switch {
		case r.Breached || now.After(r.DueAt):
			state = "breached"
		case !now.Before(r.WarningAt):
			state = "at-risk"
		default:
			continue
		}
		rep.AtRiskNow = append(rep.AtRiskNow, AtRisk{ReferralID: id, Authority: r.Authority, Region: reg.RegionOf(r.Authority), ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, State: state,
			WorkingDaysElapsed: v.cal.WorkingDaysBetween(calendar.DateOf(r.ReceivedAt), calendar.DateOf(now))})
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
