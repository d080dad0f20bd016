// Package safeguarding is the safeguarding saga for a child missing from
// care: its policy as data (policy.json) and its pure reactions (saga.go).
// Package sagarun runs it on durable server-side timers.
package safeguarding

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/policy"
)

//go:embed policy.json
var shippedPolicy []byte

// Policy is the safeguarding rule as data.
type Policy struct {
	Version string `json:"version"`
	Source  string `json:"source"`
	// Notify: who is told at once when a child goes missing.
	Notify                   []string          `json:"notify"`
	StrategyDiscussionWithin deadline.Duration `json:"strategyDiscussionWithin"`
	ReturnInterviewWithin    deadline.Duration `json:"returnInterviewWithin"`
	WarnBefore               deadline.Duration `json:"warnBefore"`
	EarlyMissingWithinDays   int               `json:"earlyMissingWithinDays"`
	// AlertMissingLongerThan: a child missing longer is counted by the
	// metric the alert watches.
	AlertMissingLongerThan deadline.Duration `json:"alertMissingLongerThan"`
}

// Policies reads this saga's policy: the one shipped, an operator's file
// (same shape as policy.json), or bytes.
var Policies = policy.Rule[Policy]{What: "safeguarding policy", Shipped: shippedPolicy, Check: Policy.check}

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy { return Policies.Default() }

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) { return Policies.Parse(b) }

// check is what makes a policy usable.
func (p Policy) check() error {
	for _, party := range p.Notify {
		if party != events.PartyPolice && party != events.PartySafeguardingHub {
			return fmt.Errorf("notify: %q is not %s or %s", party, events.PartyPolice, events.PartySafeguardingHub)
		}
	}
	switch {
	case p.Version == "":
		return fmt.Errorf("the policy has no version")
	case len(p.Notify) == 0:
		return fmt.Errorf("notify names who is told at once")
	case p.StrategyDiscussionWithin <= 0 || p.ReturnInterviewWithin <= 0 || p.AlertMissingLongerThan <= 0:
		return fmt.Errorf("strategyDiscussionWithin, returnInterviewWithin and alertMissingLongerThan must be positive")
	case p.WarnBefore <= 0 || p.WarnBefore >= p.ReturnInterviewWithin:
		return fmt.Errorf("warnBefore must be positive and shorter than returnInterviewWithin")
	case p.EarlyMissingWithinDays < 0:
		return fmt.Errorf("earlyMissingWithinDays cannot be negative")
	}
	return nil
}

// Rules are the policy's times as the care decider weighs them.
func (p Policy) Rules() aggregates.MissingRules {
	return aggregates.MissingRules{Policy: p.Version, EarlyWithinDays: p.EarlyMissingWithinDays, StrategyWithin: time.Duration(p.StrategyDiscussionWithin),
		InterviewWithin: time.Duration(p.ReturnInterviewWithin), WarnBefore: time.Duration(p.WarnBefore)}
}
