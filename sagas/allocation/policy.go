// Package allocation enforces the allocated authority's response time: its
// single point of contact must accept the allocation or raise an exception
// within the policy's time (policy.json, data), is reminded part way, and
// on expiry the partnership's lead is named to act. The rule is in this
// file; the saga's reactions in saga.go; package sagarun runs them on
// durable server-side timers.
package allocation

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/policy"
)

//go:embed policy.json
var shippedPolicy []byte

// Policy is the response rule as data.
type Policy struct {
	Version string `json:"version"`
	Source  string `json:"source"`
	// RespondWithin: working days (the answer is due by the end of the
	// last, in London) or a duration (demos and tests).
	RespondWithin deadline.Span `json:"respondWithin"`
	// RemindAt is the share of the response time after which the contact
	// is reminded (0.5: half way).
	RemindAt   float64 `json:"remindAt"`
	EscalateTo string  `json:"escalateTo"`
}

// Policies reads this saga's policy: the one shipped, an operator's file
// (same shape as policy.json), or bytes.
var Policies = policy.Rule[Policy]{What: "allocation policy", Shipped: shippedPolicy, Check: Policy.check}

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy { return Policies.Default() }

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) { return Policies.Parse(b) }

// check is what makes a policy usable.
func (p Policy) check() error {
	switch {
	case p.Version == "":
		return fmt.Errorf("the policy has no version")
	case p.RespondWithin.WorkingDays <= 0 && p.RespondWithin.Duration <= 0:
		return fmt.Errorf("respondWithin must be positive")
	case p.RemindAt <= 0 || p.RemindAt >= 1:
		return fmt.Errorf("remindAt is a share of the response time, between 0 and 1")
	case p.EscalateTo == "":
		return fmt.Errorf("escalateTo names who acts on a missed response")
	}
	return nil
}

// RespondBy is when a contact allocated a referral at allocatedAt must have
// answered.
func (p Policy) RespondBy(cal *calendar.Calendar, allocatedAt time.Time) time.Time {
	if p.RespondWithin.WorkingDays > 0 {
		return cal.AddWorkingDays(calendar.DateOf(allocatedAt), p.RespondWithin.WorkingDays).End().UTC()
	}
	return allocatedAt.Add(time.Duration(p.RespondWithin.Duration)).UTC()
}

// RemindTime is when the contact is reminded: the policy's share of the way
// from allocation to the response deadline.
func (p Policy) RemindTime(allocatedAt, respondBy time.Time) time.Time {
	return allocatedAt.Add(time.Duration(float64(respondBy.Sub(allocatedAt)) * p.RemindAt)).UTC()
}
