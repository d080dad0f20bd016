// Package calendar counts working days in England: weekends and the bank
// holidays of England and Wales are not working days, and every date is a
// date in Europe/London, whatever the clock's zone.
//
// The holidays come from the gov.uk list (bank-holidays.json, shipped in the
// binary, replaceable by an operator's file in the same format). For years
// the list does not cover, the standing rules are computed (Easter, the
// Monday holidays, substitute days) and the dates marked as computed: a
// one-off holiday proclaimed later is only known once the list has it.
package calendar

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
	_ "time/tzdata" // Europe/London must resolve on machines without zoneinfo
)

//go:embed bank-holidays.json
var shipped []byte

// London is the zone every date is counted in.
var London = mustLoad("Europe/London")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Holiday is one bank holiday.
type Holiday struct {
	Date  Date
	Title string
	Notes string
	// Computed is true when the date comes from the standing rules, not from
	// the published list.
	Computed bool
}

// Date is a civil date, with no time and no zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the date it is in London at t.
func DateOf(t time.Time) Date {
	y, m, d := t.In(London).Date()
	return Date{y, m, d}
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, err
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Start is midnight at the start of the date in London.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, London) }

// End is the last millisecond of the date in London (23:59:59.999).
func (d Date) End() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 23, 59, 59, int(999*time.Millisecond), London)
}

// AddDays moves by calendar days.
func (d Date) AddDays(n int) Date {
	t := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC)
	return Date{t.Year(), t.Month(), t.Day()}
}

// Weekday of the date.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Before reports whether d is earlier than e. It compares the fields, not
// the formatted dates: WorkingDaysBetween asks it once a day, and the
// timeliness view asks that for every referral it folds.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

// Calendar knows the bank holidays.
type Calendar struct {
	Source           string
	listed           map[Date]Holiday
	firstYear, lastY int

	mu       sync.Mutex
	computed map[int]map[Date]Holiday
}

// Default is the calendar shipped in the binary.
func Default() *Calendar {
	c, err := Parse(shipped)
	if err != nil {
		panic("calendar: shipped bank-holidays.json: " + err.Error())
	}
	return c
}

// Load reads a calendar from a file in the gov.uk format.
func Load(path string) (*Calendar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bank holidays: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("bank holidays %s: %w", path, err)
	}
	return c, nil
}

// feed is the gov.uk bank-holidays.json format: divisions by name, each with
// its events. We read England and Wales only; "source" is ours, optional.
type feed struct {
	Source          string `json:"source"`
	EnglandAndWales *struct {
		Division string `json:"division"`
		Events   []struct {
			Title   string `json:"title"`
			Date    string `json:"date"`
			Notes   string `json:"notes"`
			Bunting bool   `json:"bunting"`
		} `json:"events"`
	} `json:"england-and-wales"`
}

// Parse reads the gov.uk format. The other divisions of the feed (Scotland,
// Northern Ireland) are ignored: the scheme is England's.
func Parse(b []byte) (*Calendar, error) {
	var f feed
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.EnglandAndWales == nil || len(f.EnglandAndWales.Events) == 0 {
		return nil, fmt.Errorf(`no "england-and-wales" events`)
	}
	c := &Calendar{Source: f.Source, listed: map[Date]Holiday{}, computed: map[int]map[Date]Holiday{}}
	if c.Source == "" {
		c.Source = "operator-supplied file in the gov.uk bank-holidays.json format"
	}
	for _, e := range f.EnglandAndWales.Events {
		d, err := ParseDate(e.Date)
		if err != nil {
			return nil, fmt.Errorf("event %q: %w", e.Title, err)
		}
		c.listed[d] = Holiday{Date: d, Title: e.Title, Notes: e.Notes}
		if c.firstYear == 0 || d.Year < c.firstYear {
			c.firstYear = d.Year
		}
		if d.Year > c.lastY {
			c.lastY = d.Year
		}
	}
	return c, nil
}

// Covers reports the years the published list covers.
func (c *Calendar) Covers() (first, last int) { return c.firstYear, c.lastY }

// HolidayOn returns the bank holiday on d, if there is one.
func (c *Calendar) HolidayOn(d Date) (Holiday, bool) {
	if d.Year >= c.firstYear && d.Year <= c.lastY {
		h, ok := c.listed[d]
		return h, ok
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	year, ok := c.computed[d.Year]
	if !ok {
		year = map[Date]Holiday{}
		for _, h := range StandingRules(d.Year) {
			h.Computed = true
			year[h.Date] = h
		}
		c.computed[d.Year] = year
	}
	h, ok := year[d]
	return h, ok
}

// Holidays lists a year's bank holidays in date order.
func (c *Calendar) Holidays(year int) []Holiday {
	var out []Holiday
	for d := (Date{year, time.January, 1}); d.Year == year; d = d.AddDays(1) {
		if h, ok := c.HolidayOn(d); ok {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}

// IsWorkingDay reports whether d is neither a weekend day nor a bank holiday.
func (c *Calendar) IsWorkingDay(d Date) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	_, hol := c.HolidayOn(d)
	return !hol
}

// AddWorkingDays returns the n-th working day after d (n > 0), or before it
// (n < 0). d itself is never counted: a referral received on a Monday has
// Tuesday as its first working day. n = 0 returns d.
func (c *Calendar) AddWorkingDays(d Date, n int) Date {
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDays(step)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

// WorkingDaysBetween counts the working days after from, up to and including
// to: the working days elapsed by the end of to. It is 0 when to is not after
// from.
func (c *Calendar) WorkingDaysBetween(from, to Date) int {
	n := 0
	for d := from.AddDays(1); !to.Before(d); d = d.AddDays(1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}
