package projections

import (
	"sort"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// ReferralList is the referral list view's state: one row per referral,
// enough to filter and page through them. Of the child it holds only the
// pseudonymous reference the referral came with, so that the people who
// may see it can find a child's referrals by it (package app says who);
// no name, age or nationality. Rows are kept compact (see compact.go) and made ReferralRows as
// they are read.
type ReferralList struct {
	syms symbols
	rows table[refRow]
}

// ReferralRow is one referral in the list.
type ReferralRow struct {
	ReferralID    string    `json:"referralId"`
	Authority     string    `json:"authority"`
	Route         string    `json:"route"`
	Status        string    `json:"status"`
	ReceivedAt    time.Time `json:"receivedAt"`
	DueAt         time.Time `json:"dueAt,omitzero"`
	WarningAt     time.Time `json:"warningAt,omitzero"`
	PlacedAt      time.Time `json:"placedAt,omitzero"`
	PlacementType string    `json:"placementType,omitempty"`
	Breached      bool      `json:"breached,omitempty"`
	EscalatedTo   string    `json:"escalatedTo,omitempty"`
	// RegionSlug is the region a referral into the scheme was made for.
	RegionSlug string `json:"regionSlug,omitempty"`
	// AllocatedTo is the authority whose answer is awaited.
	AllocatedTo string `json:"allocatedTo,omitempty"`
	// ChildReference is the child's pseudonymous reference; package app
	// clears it for callers who may not see it.
	ChildReference string `json:"childReference,omitempty"`
	// Filled in when read:
	Region        string `json:"region,omitempty"`
	DeadlineState string `json:"deadlineState,omitempty"`
}

// refRow is a ReferralRow as the view keeps it.
type refRow struct {
	receivedAt, dueAt, warningAt, placedAt moment
	authority, route, status               sym
	placementType, escalatedTo             sym
	regionSlug, allocatedTo                sym
	child                                  sym
	breached                               bool
}

// NewReferralList is the empty view.
func NewReferralList() *ReferralList { return &ReferralList{} }

// Len is how many referrals the list holds.
func (v *ReferralList) Len() int { return v.rows.len() }

// Each calls fn with every row, in the order the referrals came (Region
// and DeadlineState are left empty: they are read at a moment).
func (v *ReferralList) Each(fn func(ReferralRow)) {
	for i := range v.rows.len() {
		fn(v.row(i))
	}
}

func (v *ReferralList) row(i int) ReferralRow {
	r := v.rows.get(i)
	return ReferralRow{ReferralID: v.rows.id(i), Authority: v.syms.name(r.authority), Route: v.syms.name(r.route), Status: v.syms.name(r.status),
		ReceivedAt: r.receivedAt.time(), DueAt: r.dueAt.time(), WarningAt: r.warningAt.time(), PlacedAt: r.placedAt.time(),
		PlacementType: v.syms.name(r.placementType), Breached: r.breached, EscalatedTo: v.syms.name(r.escalatedTo),
		RegionSlug: v.syms.name(r.regionSlug), AllocatedTo: v.syms.name(r.allocatedTo), ChildReference: v.syms.name(r.child)}
}

// ApplyReferralList folds one event into the list.
func ApplyReferralList(v *ReferralList, e events.Event) *ReferralList {
	switch d := e.Data.(type) {
	case events.RecordDisposed:
		// The child's key is destroyed: the list forgets the reference
		// at once, as a rebuild (reading it as disposed of) would.
		if i, ok := v.rows.find(d.ReferralID); ok {
			v.rows.mut(i).child = 0
		}
		return v
	case events.ReferralReferred:
		v.rows.put(e.AggregateID, refRow{regionSlug: v.syms.of(d.Region), route: v.syms.of(d.Route), status: v.syms.of(string(aggregates.NextStatus(aggregates.StatusNone, e))), receivedAt: momentOf(e.OccurredAt), child: v.syms.of(d.ChildReference)})
		return v
	case events.ReferralReceived:
		if i, ok := v.rows.find(e.AggregateID); ok {
			// Accepted from an allocation: now the authority's. A second,
			// empty receipt (issue 21) changes nothing.
			if v.rows.get(i).authority == 0 {
				v.rows.mut(i).authority = v.syms.of(d.ReceivingAuthority)
			}
			if v.rows.get(i).child == 0 && d.ChildReference != "" {
				v.rows.mut(i).child = v.syms.of(d.ChildReference)
			}
			return v
		}
		*v.rows.add(e.AggregateID) = refRow{authority: v.syms.of(d.ReceivingAuthority), route: v.syms.of(d.Route), status: v.syms.of(string(aggregates.NextStatus(aggregates.StatusNone, e))), receivedAt: momentOf(e.OccurredAt), child: v.syms.of(d.ChildReference)}
		return v
	}
	update(&v.rows, e.AggregateID, func(r *refRow) {
		r.status = v.syms.of(string(aggregates.NextStatus(aggregates.Status(v.syms.name(r.status)), e)))
		switch d := e.Data.(type) {
		case events.DeadlineSet:
			r.dueAt, r.warningAt = momentOf(d.DueAt), momentOf(d.WarningAt)
		case events.ReferralPlaced:
			r.placedAt, r.placementType = momentOf(d.PlacedAt), v.syms.of(d.PlacementType)
		case events.ReferralAllocated:
			r.allocatedTo = v.syms.of(d.Authority)
		case events.AllocationException, events.AllocationAccepted:
			r.allocatedTo = 0
		case events.DeadlineBreached:
			r.breached, r.escalatedTo = true, v.syms.of(d.EscalatedTo)
		case events.DeadlineEscalated:
			r.escalatedTo = v.syms.of(d.EscalatedTo)
		}
	})
	return v
}

// MarshalJSON is the view as its snapshot holds it.
func (v *ReferralList) MarshalJSON() ([]byte, error) { return marshal(v.writer(false)) }

func (v *ReferralList) writer(freeze bool) func(*snapEncoder) {
	names, rows := v.syms.list(), v.rows.take(freeze)
	return func(w *snapEncoder) {
		w.openWithSymbols(names)
		w.name("rows")
		writeTable(w, rows, func(r *refRow) {
			for _, s := range []sym{r.authority, r.route, r.status, r.placementType, r.escalatedTo, r.regionSlug, r.allocatedTo, r.child} {
				w.sym(s)
			}
			w.flag(r.breached)
			w.at(r.receivedAt)
			w.at(r.dueAt)
			w.at(r.warningAt)
			w.at(r.placedAt)
		})
		w.endObject()
	}
}

// loadReferralList reads the view from its snapshot.
func loadReferralList(dec *jsontext.Decoder) (*ReferralList, error) {
	v, r := NewReferralList(), &snapDecoder{dec: dec}
	r.openWithSymbols(&v.syms)
	r.name("rows")
	readTable(r, &v.rows, "referral", func() refRow {
		row := refRow{authority: r.sym(), route: r.sym(), status: r.sym(), placementType: r.sym(), escalatedTo: r.sym(), regionSlug: r.sym(), allocatedTo: r.sym(), child: r.sym(), breached: r.flag()}
		row.receivedAt, row.dueAt, row.warningAt, row.placedAt = r.at(), r.at(), r.at(), r.at()
		return row
	})
	r.endObject()
	return v, r.err
}

// ReferralFilter narrows the list. Empty fields match everything.
type ReferralFilter struct {
	Authority, Region, Status, DeadlineState string
	// Child keeps the referrals whose child reference holds it, whatever
	// its case: a search by part of a reference finds the child.
	Child         string
	Offset, Limit int
}

// ReferralPage is one page of the list, newest referral first.
type ReferralPage struct {
	Referrals []ReferralRow `json:"referrals"`
	Total     int           `json:"total"`
	Offset    int           `json:"offset"`
	Next      *int          `json:"next"` // offset of the next page, null at the end
}

// ListReferrals reads a page of the list at now. Rows are filtered and
// ordered in their compact form; only the page's are made ReferralRows.
func ListReferrals(v *ReferralList, reg *refdata.Registry, f ReferralFilter, now time.Time) ReferralPage {
	var match []int32
	for i := range v.rows.len() {
		r := v.rows.get(i)
		if f.Authority != "" && v.holder(r) != f.Authority {
			continue
		}
		if f.Status != "" && v.syms.name(r.status) != f.Status {
			continue
		}
		if f.Region != "" && v.region(r, reg) != f.Region {
			continue
		}
		if f.DeadlineState != "" && v.state(r).DeadlineState(now) != f.DeadlineState {
			continue
		}
		if f.Child != "" && !strings.Contains(strings.ToLower(v.syms.name(r.child)), strings.ToLower(f.Child)) {
			continue
		}
		match = append(match, int32(i))
	}
	sort.Slice(match, func(a, b int) bool {
		x, y := v.rows.get(int(match[a])), v.rows.get(int(match[b]))
		if !x.receivedAt.equal(y.receivedAt) {
			return y.receivedAt.before(x.receivedAt)
		}
		return v.rows.id(int(match[a])) < v.rows.id(int(match[b]))
	})
	p := ReferralPage{Total: len(match), Offset: f.Offset, Referrals: []ReferralRow{}}
	if f.Offset < len(match) {
		end := min(len(match), f.Offset+f.Limit)
		p.Referrals = make([]ReferralRow, 0, end-f.Offset)
		for _, i := range match[f.Offset:end] {
			row := v.row(int(i))
			row.Region = v.region(v.rows.get(int(i)), reg)
			row.DeadlineState = row.state().DeadlineState(now)
			p.Referrals = append(p.Referrals, row)
		}
		if end < len(match) {
			p.Next = &end
		}
	}
	return p
}

// holder is the authority a referral belongs to in an authority's list:
// the one that received it or, while a referral into the scheme awaits an
// authority's answer, the one allocated, whose contact must find it there
// to answer.
func (v *ReferralList) holder(r *refRow) string {
	if r.authority == 0 {
		return v.syms.name(r.allocatedTo)
	}
	return v.syms.name(r.authority)
}

// region is the row's region: its authority's, or the one it was referred
// into while no authority holds it.
func (v *ReferralList) region(r *refRow, reg *refdata.Registry) string {
	if r.authority == 0 {
		region, _ := refdata.RegionByName(v.syms.name(r.regionSlug))
		return region
	}
	return reg.RegionOf(v.syms.name(r.authority))
}

// state is the compact row as the deadline rule reads a referral.
func (v *ReferralList) state(r *refRow) aggregates.Referral {
	return aggregates.Referral{Status: aggregates.Status(v.syms.name(r.status)), ReceivedAt: r.receivedAt.time(), DueAt: r.dueAt.time(), WarningAt: r.warningAt.time(), PlacedAt: r.placedAt.time(), Breached: r.breached}
}

// state is the row as the deadline rule reads a referral.
func (r ReferralRow) state() aggregates.Referral {
	return aggregates.Referral{Status: aggregates.Status(r.Status), ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, WarningAt: r.WarningAt, PlacedAt: r.PlacedAt, Breached: r.Breached}
}
