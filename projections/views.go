// Package projections holds the views people ask for, as pure folds of the
// event log: capacity (capacity.go), timeliness (timeliness.go), the
// referral list (referrals.go), safeguarding (safeguarding.go), the
// deadline saga's index (deadlines.go) and children's records kept and
// disposed of (records.go), each
// Apply(view, event) view with no I/O, and the reports people read from
// them. Package views keeps them live.
package projections

import (
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

// Spec describes a view.
type Spec[V any] struct {
	Name string
	// Schema names the view's shape; a snapshot of another schema is not
	// resumed from (the view rebuilds).
	Schema string
	New    func() V
	Apply  func(V, events.Event) V
	// Save, if set, takes what a snapshot of the view needs while the view
	// is held still, sharing its entries instead of copying them, and
	// returns what writes the snapshot: that runs once the view is let go,
	// while it moves on, and streams (no []byte of the whole view). Without
	// Save a snapshot is the view's JSON, made while the view is held.
	Save func(V) func(*jsontext.Encoder) error
	// Load reads the view Save's writer wrote (without Load: its JSON).
	Load func(*jsontext.Decoder) (V, error)
	// InMemory views are never snapshotted: they rebuild from the log on
	// every start. A view that holds a child's reference is one, because a
	// snapshot is bytes on disk that a disposal (issue 24) cannot reach:
	// the log holds the reference sealed under the child's key, a
	// snapshot would hold it in the clear.
	InMemory bool
}

// The views, as specs for the runner. Bump a Schema when its view's shape
// or meaning changes: old snapshots are then rebuilt, not resumed.

// records-2 folds a corrected date of birth, which records-1 missed.
// capacity-4 adds the allocations awaiting an answer to capacity-3.
// referrals-4 adds each row's child reference to referrals-3, for the
// search by child reference.
// capacity-3, timeliness-4, referrals-3 and safeguarding-2 are the
// compact views (compact.go) and their streamed snapshots (snapshot.go):
// a snapshot of the maps before them is not read, the view folds again.

// CapacitySpec is the capacity view.
func CapacitySpec() Spec[*Capacity] {
	return Spec[*Capacity]{Name: "capacity", Schema: "capacity-4", New: NewCapacity, Apply: ApplyCapacity, Save: saveFrozen[*Capacity], Load: loadCapacity}
}

// TimelinessSpec is the timeliness view, counting working days with cal.
func TimelinessSpec(cal *calendar.Calendar) Spec[*Timeliness] {
	return Spec[*Timeliness]{
		Name: "timeliness", Schema: "timeliness-4",
		New:   func() *Timeliness { return NewTimeliness(cal) },
		Apply: ApplyTimeliness,
		Save:  saveFrozen[*Timeliness],
		Load:  func(dec *jsontext.Decoder) (*Timeliness, error) { return loadTimeliness(dec, cal) },
	}
}

// ReferralListSpec is the referral list view.
func ReferralListSpec() Spec[*ReferralList] {
	return Spec[*ReferralList]{Name: "referrals", Schema: "referrals-4", New: NewReferralList, Apply: ApplyReferralList, Save: saveFrozen[*ReferralList], Load: loadReferralList, InMemory: true}
}

// SafeguardingSpec is the safeguarding view (missing episodes).
func SafeguardingSpec() Spec[*Safeguarding] {
	return Spec[*Safeguarding]{Name: "safeguarding", Schema: "safeguarding-2", New: NewSafeguarding, Apply: ApplySafeguarding, Save: saveFrozen[*Safeguarding], Load: loadSafeguarding}
}

// DeadlinesSpec is the deadline saga's index (deadlines.go).
func DeadlinesSpec() Spec[*Deadlines] {
	return Spec[*Deadlines]{Name: "deadlines", Schema: "deadlines-1", New: NewDeadlines, Apply: ApplyDeadlines}
}
