package projections

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/retention"
)

// Records is the data protection officer's view of how children's records
// are kept (issue 24): per referral, the legal hold in force, the disposal
// once done, and, until then, what the retention period is computed from.
//
// The period itself is computed when read, by the retention policy in
// force (retention.FactsOf, Policy.Retain: the saga's own code), so a new
// policy needs no rebuild and the view never disagrees with the saga that
// disposes. What is kept for that is only what FactsOf reads (dates, a
// claimed age, whether placed, how care ended), never a name or a
// reference, and it is dropped once the record is disposed of: the
// disposal row keeps dates and rule names alone. A date of birth is kept
// as the 18th birthday: the view's snapshot lies on disk unsealed, and the
// due date it serves discloses that much anyway, but not the date the
// child's sealed events hold.
type Records struct {
	Refs map[string]*RecordEntry `json:"refs"`
}

// RecordEntry is one referral's record.
type RecordEntry struct {
	Authority string       `json:"a,omitempty"`
	Facts     *RecordFacts `json:"f,omitempty"`
	Hold      *RecordHold  `json:"h,omitempty"`
	Disposal  *Disposal    `json:"d,omitempty"`
}

// RecordFacts are the referral's facts as retention.FactsOf reads them,
// trimmed to the fields it reads.
type RecordFacts struct {
	Received   time.Time `json:"r"`
	ClaimedAge int       `json:"c,omitempty"`
	// Adult and AssessedAdult: the recorded and assessed dates of birth,
	// 18 years on.
	Adult         string    `json:"b,omitempty"`
	AssessedAdult string    `json:"ab,omitempty"`
	Placed        bool      `json:"p,omitempty"`
	Withdrawn     time.Time `json:"w,omitzero"`
	LeftAt        time.Time `json:"l,omitzero"`
	LeftReason    string    `json:"lr,omitempty"`
}

// RecordHold is a legal hold in force.
type RecordHold struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Disposal is a record disposed of.
type Disposal struct {
	At            time.Time `json:"at"`
	Rule          string    `json:"rule"`
	Policy        string    `json:"policy"`
	RetainedUntil time.Time `json:"retainedUntil"`
}

// NewRecords is the empty view.
func NewRecords() *Records { return &Records{Refs: map[string]*RecordEntry{}} }

// RecordsSpec is the records view.
func RecordsSpec() Spec[*Records] {
	return Spec[*Records]{Name: "records", Schema: "records-2", New: NewRecords, Apply: ApplyRecords}
}

// ApplyRecords folds one event into the view.
func ApplyRecords(v *Records, e events.Event) *Records {
	r := v.Refs[e.AggregateID]
	switch e.Data.(type) {
	case events.ReferralReceived, events.ReferralReferred, events.LegalHoldPlaced, events.RecordDisposed:
		if r == nil {
			r = &RecordEntry{}
			v.Refs[e.AggregateID] = r
		}
	}
	if r == nil {
		return v
	}
	f := r.Facts
	if f == nil && r.Disposal == nil {
		f = &RecordFacts{}
	}
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		r.Authority = d.ReceivingAuthority
		if f != nil {
			f.Received, f.ClaimedAge, f.Adult = e.OccurredAt, d.ClaimedAge, shiftYears(d.DateOfBirth, 18)
		}
	case events.ReferralReferred:
		// FactsOf reads a claimed age on a received referral only.
		if f != nil {
			f.Received, f.Adult = e.OccurredAt, shiftYears(d.DateOfBirth, 18)
		}
	case events.AgeAssessed:
		if f != nil && d.Outcome == events.AgeOutcomeChild && d.AssessedDateOfBirth != "" {
			f.AssessedAdult = shiftYears(d.AssessedDateOfBirth, 18)
		}
	case events.ChildDetailCorrected:
		// A corrected date stands over the recorded and any earlier
		// assessed one (leavingcare.DateOfBirth); kept as the recorded
		// date, an assessment after it still stands over it, as it would.
		if f != nil && d.Field == aggregates.FieldDateOfBirth && d.NewValue != "" {
			f.Adult, f.AssessedAdult = shiftYears(d.NewValue, 18), ""
		}
	case events.ReferralPlaced:
		if f != nil {
			f.Placed = true
		}
	case events.ReferralWithdrawn:
		if f != nil {
			f.Withdrawn = e.OccurredAt
		}
	case events.ChildLeftCare:
		if f != nil {
			f.LeftAt, f.LeftReason = d.LeftAt, d.Reason
		}
	case events.LegalHoldPlaced:
		r.Hold = &RecordHold{Reason: d.Reason, Since: e.OccurredAt}
	case events.LegalHoldReleased:
		r.Hold = nil
	case events.RecordDisposed:
		r.Disposal = &Disposal{At: e.OccurredAt, Rule: d.Rule, Policy: d.Policy, RetainedUntil: d.RetainedUntil}
		r.Hold, f = nil, nil
	}
	r.Facts = f
	return v
}

// history is the facts as a referral's events again, for retention.FactsOf.
func (f *RecordFacts) history() []events.Event {
	h := []events.Event{{OccurredAt: f.Received, Data: events.ReferralReceived{ClaimedAge: f.ClaimedAge, DateOfBirth: shiftYears(f.Adult, -18)}}}
	if f.AssessedAdult != "" {
		h = append(h, events.Event{Data: events.AgeAssessed{Outcome: events.AgeOutcomeChild, AssessedDateOfBirth: shiftYears(f.AssessedAdult, -18)}})
	}
	if f.Placed {
		h = append(h, events.Event{Data: events.ReferralPlaced{}})
	}
	// FactsOf takes the last closing it reads; a referral is withdrawn
	// before it is ever in care, so leaving care comes after.
	if !f.Withdrawn.IsZero() {
		h = append(h, events.Event{OccurredAt: f.Withdrawn, Data: events.ReferralWithdrawn{}})
	}
	if !f.LeftAt.IsZero() {
		h = append(h, events.Event{OccurredAt: f.LeftAt, Data: events.ChildLeftCare{LeftAt: f.LeftAt, Reason: f.LeftReason}})
	}
	return h
}

// shiftYears moves a date written YYYY-MM-DD (or YYYY) by n years, month
// and day as they are, as retention's birthdays do (29 February stays
// 29 February). Anything else is kept as it is, for FactsOf to refuse as
// it would have.
func shiftYears(date string, n int) string {
	if len(date) < 4 {
		return date
	}
	y, err := strconv.Atoi(date[:4])
	if err != nil || y < 0 {
		return date
	}
	return fmt.Sprintf("%04d", y+n) + date[4:]
}

// RecordsDueBy lists, in order, the records whose retention under p has
// ended by now and that are neither held nor disposed of, by the saga's
// own rule (retention.Saga.Due): the retention saga's daily sweep, which
// decides each again on its own events.
func RecordsDueBy(v *Records, p retention.Policy, now time.Time) []string {
	saga := retention.Saga{Policy: p}
	var due []string
	for id, r := range v.Refs {
		if r.Facts == nil { // disposed of: its facts are dropped
			continue
		}
		st := retention.State{Referral: r.Facts.history(), Record: aggregates.Record{Held: r.Hold != nil, Disposed: r.Disposal != nil}}
		if _, ok := saga.Due(st, now); ok {
			due = append(due, id)
		}
	}
	slices.Sort(due)
	return due
}

// RecordsWithin is how many days ahead the disposals due are listed when
// nobody says: a quarter, time to place a hold before a disposal.
const RecordsWithin = 90

// RecordsFilter is what is asked of the view.
type RecordsFilter struct {
	// Within: disposals due up to this many days after today (London).
	Within int
	// Recent: at most this many disposals done, newest first.
	Recent int
}

// RecordsReport is what the data protection officer reads.
type RecordsReport struct {
	Policy string `json:"policy"`
	// Until is the last London date the due disposals reach.
	Until string       `json:"until"`
	Due   []RecordDue  `json:"due"`
	Holds []HeldRecord `json:"holds"`
	// Disposed are the latest disposals; DisposedTotal counts them all.
	Disposed      []DisposedRecord `json:"disposed"`
	DisposedTotal int              `json:"disposedTotal"`
	// Unknown counts records whose period cannot be known yet (open and
	// never placed, or no date of birth nor claimed age): kept meanwhile.
	Unknown int `json:"unknown"`
}

// RecordDue is a record whose retention ends by the report's Until.
type RecordDue struct {
	ReferralID string `json:"referralId"`
	Authority  string `json:"authority,omitempty"`
	Rule       string `json:"rule"`
	// Due is the London date the record is kept until (the start of).
	Due     string `json:"due"`
	Overdue bool   `json:"overdue"`
}

// HeldRecord is a legal hold in force.
type HeldRecord struct {
	ReferralID string    `json:"referralId"`
	Authority  string    `json:"authority,omitempty"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	// Due is when the record's retention ends (empty: not known yet).
	Due string `json:"due,omitempty"`
}

// DisposedRecord is a disposal done.
type DisposedRecord struct {
	ReferralID    string    `json:"referralId"`
	Authority     string    `json:"authority,omitempty"`
	At            time.Time `json:"at"`
	Rule          string    `json:"rule"`
	Policy        string    `json:"policy"`
	RetainedUntil string    `json:"retainedUntil"`
}

// ReportRecords: the disposals due by f.Within days after now's London date
// (overdue first, then by date), the legal holds in force (longest first)
// and the latest disposals, under policy p. A held record is listed with
// the holds, not as due: it will not be disposed of while held.
func ReportRecords(v *Records, p retention.Policy, f RecordsFilter, now time.Time) RecordsReport {
	today := calendar.DateOf(now)
	until := today.AddDays(f.Within)
	out := RecordsReport{Policy: p.Version, Until: until.String(), Due: []RecordDue{}, Holds: []HeldRecord{}, Disposed: []DisposedRecord{}}
	var due []RecordDue
	for id, r := range v.Refs {
		if r.Disposal != nil {
			out.DisposedTotal++
			out.Disposed = append(out.Disposed, DisposedRecord{ReferralID: id, Authority: r.Authority, At: r.Disposal.At, Rule: r.Disposal.Rule,
				Policy: r.Disposal.Policy, RetainedUntil: calendar.DateOf(r.Disposal.RetainedUntil).String()})
			continue
		}
		var ret retention.Retention
		known := false
		if r.Facts != nil {
			ret, known = p.Retain(retention.FactsOf(r.Facts.history()))
		}
		if !known {
			out.Unknown++
		}
		if r.Hold != nil {
			h := HeldRecord{ReferralID: id, Authority: r.Authority, Reason: r.Hold.Reason, Since: r.Hold.Since}
			if known {
				h.Due = ret.Until.String()
			}
			out.Holds = append(out.Holds, h)
			continue
		}
		if known && !until.Before(ret.Until) {
			due = append(due, RecordDue{ReferralID: id, Authority: r.Authority, Rule: ret.Rule, Due: ret.Until.String(), Overdue: !now.Before(ret.Due())})
		}
	}
	// Dates as YYYY-MM-DD sort as strings.
	slices.SortFunc(due, func(a, b RecordDue) int {
		return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.ReferralID, b.ReferralID))
	})
	if due != nil {
		out.Due = due
	}
	slices.SortFunc(out.Holds, func(a, b HeldRecord) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.ReferralID, b.ReferralID))
	})
	slices.SortFunc(out.Disposed, func(a, b DisposedRecord) int {
		return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.ReferralID, b.ReferralID))
	})
	if f.Recent >= 0 && len(out.Disposed) > f.Recent {
		out.Disposed = out.Disposed[:f.Recent]
	}
	return out
}
