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
	"os"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas/deadline"
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

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy {
	p, err := ParsePolicy(shippedPolicy)
	if err != nil {
		panic("allocation: shipped policy.json: " + err.Error())
	}
	return p
}

// LoadPolicy reads a policy file (same shape as policy.json).
func LoadPolicy(path string) (Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("allocation policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return Policy{}, fmt.Errorf("allocation policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	if err := events.DecodeStrict(b, &p); err != nil {
		return Policy{}, err
	}
	switch {
	case p.Version == "":
		return Policy{}, fmt.Errorf("the policy has no version")
	case p.RespondWithin.WorkingDays <= 0 && p.RespondWithin.Duration <= 0:
		return Policy{}, fmt.Errorf("respondWithin must be positive")
	case p.RemindAt <= 0 || p.RemindAt >= 1:
		return Policy{}, fmt.Errorf("remindAt is a share of the response time, between 0 and 1")
	case p.EscalateTo == "":
		return Policy{}, fmt.Errorf("escalateTo names who acts on a missed response")
	}
	return p, nil
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
