// Package retention is the retention saga (issue 24): how long a child's
// record is kept, as data (policy.json), computed from the facts recorded
// on London dates, and a daily sweep on a durable server-side schedule
// that records the disposal of each record whose period has ended and
// has the child's data key destroyed, unless a legal hold is in force.
// The rules are pure; package sagarun runs them.
package retention

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
	"github.com/ntsflow/ntsflow/sagas/policy"
)

//go:embed policy.json
var shippedPolicy []byte

// Policy is the retention schedule as data, each period with its source.
type Policy struct {
	Version     string `json:"version"`
	LookedAfter struct {
		UntilBirthday int    `json:"untilBirthday"`
		Source        string `json:"source"`
	} `json:"lookedAfter"`
	DiedBeforeEighteen struct {
		YearsAfterDeath int    `json:"yearsAfterDeath"`
		Source          string `json:"source"`
	} `json:"diedBeforeEighteen"`
	NeverLookedAfter struct {
		UntilBirthday     int    `json:"untilBirthday"`
		YearsAfterClosing int    `json:"yearsAfterClosing"`
		Source            string `json:"source"`
	} `json:"neverLookedAfter"`
}

// Policies reads this saga's policy: the one shipped, an operator's file
// (same shape as policy.json), or bytes.
var Policies = policy.Rule[Policy]{What: "retention policy", Shipped: shippedPolicy, Check: Policy.check}

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy { return Policies.Default() }

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) { return Policies.Parse(b) }

func (p Policy) check() error {
	switch {
	case p.Version == "":
		return fmt.Errorf("a retention policy has a version")
	case p.LookedAfter.UntilBirthday < 18 || p.NeverLookedAfter.UntilBirthday < 18:
		return fmt.Errorf("a record is kept at least until the 18th birthday")
	case p.DiedBeforeEighteen.YearsAfterDeath < 1 || p.NeverLookedAfter.YearsAfterClosing < 0:
		return fmt.Errorf("the periods after a death or a closing are whole years, at least one after a death")
	case p.LookedAfter.Source == "" || p.DiedBeforeEighteen.Source == "" || p.NeverLookedAfter.Source == "":
		return fmt.Errorf("every period names its source")
	}
	return nil
}

// The rules, as a disposal records them.
const (
	RuleLookedAfter        = "looked-after"
	RuleDiedBeforeEighteen = "died-before-18"
	RuleNeverLookedAfter   = "never-looked-after"
)

// Facts are what the period is computed from, as the referral recorded
// them.
type Facts struct {
	// Birth is the date of birth (assessed over recorded), or, with only a
	// claimed age, the latest birth date that age allows: a record is then
	// kept the longest the child's real age could ask for.
	Birth     calendar.Date
	HasBirth  bool
	Placed    bool // looked after here at some time
	Died      bool
	DiedOn    calendar.Date
	Closed    bool // withdrawn, or left care
	ClosedOn  calendar.Date
	ClaimOnly bool // Birth came from a claimed age
}

// FactsOf reads the facts from a referral's events (decrypted: the date of
// birth is personal).
func FactsOf(referral []events.Event) Facts {
	var f Facts
	if dob, _ := leavingcare.DateOfBirth(referral); dob != "" {
		if d, err := calendar.ParseDate(dob); err == nil {
			f.Birth, f.HasBirth = d, true
		}
	}
	for _, e := range referral {
		switch d := e.Data.(type) {
		case events.ReferralReceived:
			if !f.HasBirth && d.ClaimedAge > 0 {
				on := calendar.DateOf(e.OccurredAt)
				f.Birth, f.HasBirth, f.ClaimOnly = calendar.Date{Year: on.Year - d.ClaimedAge, Month: on.Month, Day: on.Day}, true, true
			}
		case events.ReferralPlaced:
			f.Placed = true
		case events.ReferralWithdrawn:
			f.Closed, f.ClosedOn = true, calendar.DateOf(e.OccurredAt)
		case events.ChildLeftCare:
			f.Closed, f.ClosedOn = true, calendar.DateOf(d.LeftAt)
			if d.Reason == aggregates.LeftCareDied {
				f.Died, f.DiedOn = true, f.ClosedOn
			}
		}
	}
	return f
}

// Retention is how long a record is kept: until the start of Until (a
// London date), by Rule.
type Retention struct {
	Rule  string
	Until calendar.Date
}

// Retain computes the period from the facts. ok is false while it cannot
// be known: a referral still open that was never placed, or no date of
// birth nor claimed age (then the record is kept, and the data protection
// officer decides).
func (p Policy) Retain(f Facts) (Retention, bool) {
	birthday := func(age int) calendar.Date {
		return calendar.Date{Year: f.Birth.Year + age, Month: f.Birth.Month, Day: f.Birth.Day}
	}
	eighteen := birthday(18)
	switch {
	case f.Died && (!f.HasBirth || f.DiedOn.Before(eighteen)):
		d := f.DiedOn
		return Retention{Rule: RuleDiedBeforeEighteen, Until: calendar.Date{Year: d.Year + p.DiedBeforeEighteen.YearsAfterDeath, Month: d.Month, Day: d.Day}}, true
	case !f.HasBirth:
		return Retention{}, false
	case f.Placed:
		return Retention{Rule: RuleLookedAfter, Until: birthday(p.LookedAfter.UntilBirthday)}, true
	case !f.Closed:
		return Retention{}, false
	}
	until := birthday(p.NeverLookedAfter.UntilBirthday)
	c := f.ClosedOn
	if after := (calendar.Date{Year: c.Year + p.NeverLookedAfter.YearsAfterClosing, Month: c.Month, Day: c.Day}); until.Before(after) {
		until = after
	}
	return Retention{Rule: RuleNeverLookedAfter, Until: until}, true
}

// Due is the instant a retention ends: midnight at the start of its date
// in London.
func (r Retention) Due() time.Time { return r.Until.Start() }
