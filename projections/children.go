package projections

import (
	"sort"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Children is the children-in-care view: one row for every child an
// authority has received, placed or not, with what an authority's team
// asks first of each: who is their social worker, are they safe now, and
// what falls due next. It joins three aggregates' events (the referral's,
// the team's allocations and the care aggregate's), which no other view
// does. The child's pseudonymous reference is kept, because people search
// by it; the missing episodes' details (where last seen, where found, the
// police reference) and any name stay in the aggregates.
type Children struct {
	Rows map[string]*ChildEntry `json:"rows"` // by referral id
	// Workers are the social workers' names, by "<authority>/<staff id>".
	Workers map[string]WorkerName `json:"workers"`
}

// WorkerName is a social worker as the list names them.
type WorkerName struct {
	Name string `json:"n"`
	Left bool   `json:"l,omitempty"`
}

// ChildEntry is one child as the view keeps it. The times of a clock are
// kept only while it runs: held, offered or passed milestones clear them.
type ChildEntry struct {
	Authority  string            `json:"a,omitempty"` // empty until an authority holds the referral
	Child      string            `json:"c"`
	Status     aggregates.Status `json:"s"`
	ReceivedAt time.Time         `json:"r"`
	DueAt      time.Time         `json:"d,omitzero"`
	PlacedAt   time.Time         `json:"p,omitzero"`
	Worker     string            `json:"w,omitempty"` // staff id
	Episodes   int               `json:"e,omitempty"`
	// The open episode: when the child went missing, and the strategy
	// discussion's time while it is not held.
	MissingAt     time.Time `json:"m,omitzero"`
	StrategyDueAt time.Time `json:"sd,omitzero"`
	// The latest return, and the return interview's time while it is not
	// offered.
	ReturnedAt     time.Time `json:"rt,omitzero"`
	InterviewDueAt time.Time `json:"id,omitzero"`
	// The leaving-care milestones, from the date of birth, and which are
	// recorded.
	SixteenAt        time.Time `json:"16,omitzero"`
	TriplePlanningAt time.Time `json:"17,omitzero"`
	EighteenAt       time.Time `json:"18,omitzero"`
	Involved         bool      `json:"li,omitempty"`
	TriplePlanned    bool      `json:"tp,omitempty"`
	CareLeaver       bool      `json:"cl,omitempty"`
}

// NewChildren is the empty view.
func NewChildren() *Children {
	return &Children{Rows: map[string]*ChildEntry{}, Workers: map[string]WorkerName{}}
}

// ChildrenSpec is the children-in-care view. It has no compact form: a
// row a child, a few thousand at most per authority, so its JSON is its
// snapshot.
func ChildrenSpec() Spec[*Children] {
	return Spec[*Children]{Name: "children", Schema: "children-1", New: NewChildren, Apply: ApplyChildren, InMemory: true}
}

func workerKey(authority, staffID string) string { return authority + "/" + staffID }

// ApplyChildren folds one event into the view.
func ApplyChildren(v *Children, e events.Event) *Children {
	switch d := e.Data.(type) {
	case events.RecordDisposed:
		// The child's key is destroyed: forget the reference now, as a
		// rebuild (reading it as disposed of) would.
		if c := v.Rows[d.ReferralID]; c != nil {
			c.Child = ""
		}
		return v
	case events.ReferralReferred:
		v.Rows[e.AggregateID] = &ChildEntry{Child: d.ChildReference, Status: aggregates.NextStatus(aggregates.StatusNone, e), ReceivedAt: e.OccurredAt}
		return v
	case events.ReferralReceived:
		if c, ok := v.Rows[e.AggregateID]; ok {
			// Accepted from an allocation: now the authority's. A second,
			// empty receipt changes nothing (as in the referral list).
			if c.Authority == "" {
				c.Authority = d.ReceivingAuthority
			}
			c.Status = aggregates.NextStatus(c.Status, e)
			return v
		}
		v.Rows[e.AggregateID] = &ChildEntry{Authority: d.ReceivingAuthority, Child: d.ChildReference, Status: aggregates.NextStatus(aggregates.StatusNone, e), ReceivedAt: e.OccurredAt}
		return v
	// The team's events: the aggregate is the authority.
	case events.WorkerJoined:
		v.Workers[workerKey(e.AggregateID, d.StaffID)] = WorkerName{Name: d.Name}
		return v
	case events.WorkerUpdated:
		k := workerKey(e.AggregateID, d.StaffID)
		w := v.Workers[k]
		w.Name = d.Name
		v.Workers[k] = w
		return v
	case events.WorkerLeft:
		k := workerKey(e.AggregateID, d.StaffID)
		w := v.Workers[k]
		w.Left = true
		v.Workers[k] = w
		return v
	case events.WorkerAllocated:
		if c, ok := v.Rows[d.ReferralID]; ok {
			c.Worker = d.StaffID
		}
		return v
	}
	c, ok := v.Rows[e.AggregateID]
	if !ok {
		return v
	}
	c.Status = aggregates.NextStatus(c.Status, e)
	switch d := e.Data.(type) {
	case events.DeadlineSet:
		c.DueAt = d.DueAt
	case events.ReferralPlaced:
		c.PlacedAt, c.DueAt = d.PlacedAt, time.Time{}
	case events.ReferralWithdrawn, events.ChildLeftCare:
		c.DueAt = time.Time{}
	case events.MissingReported:
		c.Episodes = max(c.Episodes, d.Episode)
		c.MissingAt, c.StrategyDueAt = d.MissingAt, d.StrategyDueAt
	case events.StrategyDiscussionHeld:
		if d.Episode == c.Episodes {
			c.StrategyDueAt = time.Time{}
		}
	case events.MissingReturned:
		if d.Episode == c.Episodes {
			c.MissingAt, c.StrategyDueAt = time.Time{}, time.Time{}
			c.ReturnedAt, c.InterviewDueAt = d.ReturnedAt, d.InterviewDueAt
		}
	case events.ReturnInterviewOffered:
		if d.Episode == c.Episodes {
			c.InterviewDueAt = time.Time{}
		}
	case events.CareDateOfBirthSet:
		c.SixteenAt, c.TriplePlanningAt, c.EighteenAt = d.SixteenAt, d.TriplePlanningAt, d.EighteenAt
	case events.LeavingCareInvolved:
		c.Involved = true
	case events.TriplePlanningRecorded:
		c.TriplePlanned = true
	case events.CareLeaver:
		c.CareLeaver = true
	}
	return v
}

// The care statuses, as the list gives them.
const (
	CareAwaitingPlacement = "awaiting-placement"
	CarePlaced            = "placed"
	CareMissing           = "missing"
	CareReturned          = "returned"
	CareLeaverStatus      = "care-leaver"
	CareLeftCare          = "left-care"
	CareWithdrawn         = "withdrawn"
)

// CareStatuses are every care status, in the order a page offers them.
var CareStatuses = []string{CareMissing, CareReturned, CareAwaitingPlacement, CarePlaced, CareLeaverStatus, CareLeftCare, CareWithdrawn}

// The things that fall due, as the list names them.
const (
	DuePlacement      = "placement-deadline"
	DueStrategy       = "strategy-discussion"
	DueInterview      = "return-interview"
	DueLeavingCare    = "leaving-care-at-16"
	DueTriplePlanning = "triple-planning-at-17-and-a-half"
	DueEighteen       = "care-leaver-at-18"
)

// NextDue is the next thing due for a child: what, when, and how many
// working days are left (negative: that many working days overdue).
type NextDue struct {
	What            string    `json:"what"`
	At              time.Time `json:"at"`
	Overdue         bool      `json:"overdue"`
	WorkingDaysLeft int       `json:"workingDaysLeft"`
}

// ChildRow is one child as people read the list.
type ChildRow struct {
	ReferralID string `json:"referralId"`
	// ChildReference is left empty for a caller who does not see it.
	ChildReference string    `json:"childReference,omitempty"`
	Authority      string    `json:"authority"`
	Region         string    `json:"region"`
	ReceivedAt     time.Time `json:"receivedAt"`
	PlacedAt       time.Time `json:"placedAt,omitzero"`
	CareStatus     string    `json:"careStatus"`
	MissingSince   time.Time `json:"missingSince,omitzero"`
	SocialWorker   string    `json:"socialWorker,omitempty"`
	// SocialWorkerLeft: the worker left and the child awaits reallocation.
	SocialWorkerLeft bool     `json:"socialWorkerLeft,omitempty"`
	NextDue          *NextDue `json:"nextDue"`
}

// ChildrenFilter narrows the list: a region, an authority, a child's
// reference (its start, any case), a care status.
type ChildrenFilter struct {
	Region, Authority, Child, CareStatus string
}

// ChildrenReport is the list: the children missing now first, then by
// the next thing due, soonest first.
type ChildrenReport struct {
	Children    []ChildRow `json:"children"`
	Total       int        `json:"total"`
	MissingNow  int        `json:"missingNow"`
	OverdueNow  int        `json:"overdueNow"`
	Unallocated int        `json:"withoutSocialWorker"`
}

// careStatus is where the child stands in care.
func (c *ChildEntry) careStatus() string {
	return CareStatus(c.Status, !c.MissingAt.IsZero(), !c.InterviewDueAt.IsZero(), c.CareLeaver)
}

// CareStatus is where a child stands in care, one of the Care* statuses,
// from the referral's status and the care's facts: missing now, returned
// with the return interview not yet offered, a care leaver. The view and
// the pages that read the aggregates themselves say it by this one rule.
func CareStatus(referral aggregates.Status, missing, interviewDue, careLeaver bool) string {
	switch referral {
	case aggregates.StatusOpen:
		return CareAwaitingPlacement
	case aggregates.StatusLeftCare:
		return CareLeftCare
	case aggregates.StatusWithdrawn:
		return CareWithdrawn
	}
	switch {
	case missing:
		return CareMissing
	case interviewDue:
		return CareReturned
	case careLeaver:
		return CareLeaverStatus
	}
	return CarePlaced
}

// nextDue is the soonest of the child's running clocks, if any.
func (c *ChildEntry) nextDue(cal *calendar.Calendar, now time.Time) *NextDue {
	type due struct {
		what string
		at   time.Time
	}
	var all []due
	switch c.Status {
	case aggregates.StatusOpen:
		all = append(all, due{DuePlacement, c.DueAt})
	case aggregates.StatusPlaced:
		all = append(all, due{DueStrategy, c.StrategyDueAt}, due{DueInterview, c.InterviewDueAt})
		switch {
		case !c.Involved:
			all = append(all, due{DueLeavingCare, c.SixteenAt})
		case !c.TriplePlanned:
			all = append(all, due{DueTriplePlanning, c.TriplePlanningAt})
		case !c.CareLeaver:
			all = append(all, due{DueEighteen, c.EighteenAt})
		}
	}
	var best *due
	for i := range all {
		if !all[i].at.IsZero() && (best == nil || all[i].at.Before(best.at)) {
			best = &all[i]
		}
	}
	if best == nil {
		return nil
	}
	n := &NextDue{What: best.what, At: best.at.UTC(), Overdue: now.After(best.at)}
	today, day := calendar.DateOf(now), calendar.DateOf(best.at)
	if n.Overdue {
		n.WorkingDaysLeft = -cal.WorkingDaysBetween(day, today)
	} else {
		n.WorkingDaysLeft = cal.WorkingDaysBetween(today, day)
	}
	return n
}

// ReportChildren reads the list at now for the filter; the working days
// are cal's.
func ReportChildren(v *Children, reg *refdata.Registry, cal *calendar.Calendar, f ChildrenFilter, now time.Time) ChildrenReport {
	rep := ChildrenReport{Children: []ChildRow{}}
	child := strings.ToLower(strings.TrimSpace(f.Child))
	for id, c := range v.Rows {
		if c.Authority == "" || (f.Authority != "" && c.Authority != f.Authority) {
			continue
		}
		region := reg.RegionOf(c.Authority)
		if f.Region != "" && region != f.Region {
			continue
		}
		if child != "" && !strings.HasPrefix(strings.ToLower(c.Child), child) {
			continue
		}
		row := ChildRow{ReferralID: id, ChildReference: c.Child, Authority: c.Authority, Region: region, ReceivedAt: c.ReceivedAt.UTC(), PlacedAt: c.PlacedAt.UTC(),
			CareStatus: c.careStatus(), MissingSince: c.MissingAt.UTC(), NextDue: c.nextDue(cal, now)}
		if f.CareStatus != "" && row.CareStatus != f.CareStatus {
			continue
		}
		if c.Worker != "" {
			w := v.Workers[workerKey(c.Authority, c.Worker)]
			row.SocialWorker, row.SocialWorkerLeft = w.Name, w.Left
			if w.Name == "" {
				row.SocialWorker = c.Worker
			}
		} else if c.Status == aggregates.StatusOpen || c.Status == aggregates.StatusPlaced {
			rep.Unallocated++
		}
		if row.CareStatus == CareMissing {
			rep.MissingNow++
		}
		if row.NextDue != nil && row.NextDue.Overdue {
			rep.OverdueNow++
		}
		rep.Children = append(rep.Children, row)
	}
	sort.Slice(rep.Children, func(i, j int) bool {
		a, b := rep.Children[i], rep.Children[j]
		if am, bm := a.CareStatus == CareMissing, b.CareStatus == CareMissing; am != bm {
			return am
		}
		if (a.NextDue == nil) != (b.NextDue == nil) {
			return b.NextDue == nil
		}
		if a.NextDue != nil && !a.NextDue.At.Equal(b.NextDue.At) {
			return a.NextDue.At.Before(b.NextDue.At)
		}
		if !a.ReceivedAt.Equal(b.ReceivedAt) {
			return a.ReceivedAt.After(b.ReceivedAt)
		}
		return a.ReferralID < b.ReferralID
	})
	rep.Total = len(rep.Children)
	return rep
}
