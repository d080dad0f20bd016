package projections

import (
	"sort"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// ReferralList is the referral list view's state: one row per referral,
// enough to filter and page through them. No personal data about the child.
type ReferralList struct {
	Rows map[string]*ReferralRow `json:"rows"`
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
	// Filled in when read:
	Region        string `json:"region,omitempty"`
	DeadlineState string `json:"deadlineState,omitempty"`
}

// NewReferralList is the empty view.
func NewReferralList() *ReferralList { return &ReferralList{Rows: map[string]*ReferralRow{}} }

// ApplyReferralList folds one event into the list.
func ApplyReferralList(v *ReferralList, e events.Event) *ReferralList {
	switch d := e.Data.(type) {
	case events.ReferralReferred:
		v.Rows[e.AggregateID] = &ReferralRow{ReferralID: e.AggregateID, RegionSlug: d.Region, Route: d.Route, Status: string(aggregates.NextStatus(aggregates.StatusNone, e)), ReceivedAt: e.OccurredAt}
		return v
	case events.ReferralReceived:
		if r := v.Rows[e.AggregateID]; r != nil {
			// Accepted from an allocation: now the authority's.
			r.Authority = d.ReceivingAuthority
			return v
		}
		v.Rows[e.AggregateID] = &ReferralRow{ReferralID: e.AggregateID, Authority: d.ReceivingAuthority, Route: d.Route, Status: string(aggregates.NextStatus(aggregates.StatusNone, e)), ReceivedAt: e.OccurredAt}
		return v
	}
	r := v.Rows[e.AggregateID]
	if r == nil {
		return v
	}
	r.Status = string(aggregates.NextStatus(aggregates.Status(r.Status), e))
	switch d := e.Data.(type) {
	case events.DeadlineSet:
		r.DueAt, r.WarningAt = d.DueAt, d.WarningAt
	case events.ReferralPlaced:
		r.PlacedAt, r.PlacementType = d.PlacedAt, d.PlacementType
	case events.ReferralAllocated:
		r.AllocatedTo = d.Authority
	case events.AllocationException, events.AllocationAccepted:
		r.AllocatedTo = ""
	case events.DeadlineBreached:
		r.Breached, r.EscalatedTo = true, d.EscalatedTo
	case events.DeadlineEscalated:
		r.EscalatedTo = d.EscalatedTo
	}
	return v
}

// ReferralFilter narrows the list. Empty fields match everything.
type ReferralFilter struct {
	Authority, Region, Status, DeadlineState string
	Offset, Limit                            int
}

// ReferralPage is one page of the list, newest referral first.
type ReferralPage struct {
	Referrals []ReferralRow `json:"referrals"`
	Total     int           `json:"total"`
	Offset    int           `json:"offset"`
	Next      *int          `json:"next"` // offset of the next page, null at the end
}

// ListReferrals reads a page of the list at now.
func ListReferrals(v *ReferralList, reg *refdata.Registry, f ReferralFilter, now time.Time) ReferralPage {
	var match []ReferralRow
	for _, r := range v.Rows {
		row := *r
		row.Region = reg.RegionOf(row.Authority)
		if row.Authority == "" {
			row.Region, _ = refdata.RegionByName(row.RegionSlug)
		}
		row.DeadlineState = row.state().DeadlineState(now)
		if (f.Authority != "" && row.Authority != f.Authority) || (f.Region != "" && row.Region != f.Region) ||
			(f.Status != "" && row.Status != f.Status) || (f.DeadlineState != "" && row.DeadlineState != f.DeadlineState) {
			continue
		}
		match = append(match, row)
	}
	sort.Slice(match, func(i, j int) bool {
		if !match[i].ReceivedAt.Equal(match[j].ReceivedAt) {
			return match[i].ReceivedAt.After(match[j].ReceivedAt)
		}
		return match[i].ReferralID < match[j].ReferralID
	})
	p := ReferralPage{Total: len(match), Offset: f.Offset, Referrals: []ReferralRow{}}
	if f.Offset < len(match) {
		end := min(len(match), f.Offset+f.Limit)
		p.Referrals = match[f.Offset:end]
		if end < len(match) {
			p.Next = &end
		}
	}
	return p
}

// state is the row as the deadline rule reads a referral.
func (r ReferralRow) state() aggregates.Referral {
	return aggregates.Referral{Status: aggregates.Status(r.Status), ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, WarningAt: r.WarningAt, PlacedAt: r.PlacedAt, Breached: r.Breached}
}
