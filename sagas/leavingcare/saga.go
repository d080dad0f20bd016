// Package leavingcare is the leaving-care saga: from the child's date of
// birth (the referral's, or the latest age assessment's or correction's,
// which stands over it),
// durable timers at 16 (the leaving-care team involved, a pathway plan
// due within the policy's time), 17 and a half (triple planning) and 18 (a
// care leaver with an accommodation status). The policy is data
// (policy.json); the reactions are pure; package sagarun runs them.
package leavingcare

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/policy"
)

//go:embed policy.json
var shippedPolicy []byte

// Policy is the leaving-care rule as data.
type Policy struct {
	Version           string            `json:"version"`
	Source            string            `json:"source"`
	PathwayPlanWithin deadline.Duration `json:"pathwayPlanWithin"`
}

// Policies reads this saga's policy: the one shipped, an operator's file
// (same shape as policy.json), or bytes.
var Policies = policy.Rule[Policy]{What: "leaving-care policy", Shipped: shippedPolicy, Check: Policy.check}

// DefaultPolicy is the policy shipped in the binary.
func DefaultPolicy() Policy { return Policies.Default() }

// ParsePolicy reads and checks a policy.
func ParsePolicy(b []byte) (Policy, error) { return Policies.Parse(b) }

// check is what makes a policy usable.
func (p Policy) check() error {
	if p.Version == "" || p.PathwayPlanWithin <= 0 {
		return fmt.Errorf("a policy has a version and a positive pathwayPlanWithin")
	}
	return nil
}

// Timer kinds: one per milestone.
const (
	KindSixteen  = "sixteen"
	KindTriple   = "triple-planning"
	KindEighteen = "eighteen"
)

// Its durable consumers, shared by every engine instance, and its timers'
// keys ("leavingcare.<referral>.<kind>").
const (
	ReferralConsumer = "leaving-care-referrals"
	CareConsumer     = "leaving-care-saga"
	TimersConsumer   = "leaving-care-timers"
	TimerPrefix      = "leavingcare"
)

// Saga holds what the reactions need.
type Saga struct{ Policy Policy }

// State is what the saga reads: the child's care, and the referral it
// came from (its status and the dates of birth on its events).
type State struct {
	Care     aggregates.Care
	Referral aggregates.Referral
	History  []events.Event
}

// Reaction is what the saga wants done on the child's care.
type Reaction = sagas.Reaction[aggregates.CareCommand]

// New is the leaving-care saga as a value, for sagarun's runner: a
// referral placed (or its age assessed) sets the date of birth on the
// child's care; a date of birth set arms a timer per milestone; a fired
// one records the milestone, once. A child who leaves care or whose
// referral is withdrawn has the timers cancelled.
func New(p Policy) sagas.Saga[State, aggregates.Care, aggregates.CareCommand] {
	s := Saga{Policy: p}
	return sagas.Saga[State, aggregates.Care, aggregates.CareCommand]{
		Name: "leaving-care saga", Actor: "leaving-care-saga",
		Target: aggregates.Cares,
		Reads:  []sagas.Source{sagas.Of(aggregates.Referrals), sagas.Of(aggregates.Cares)},
		State: func(id string, h [][]events.Event) State {
			return State{Referral: aggregates.Referrals.Apply(aggregates.Referrals.Start(id), h[0]), History: h[0],
				Care: aggregates.Cares.Apply(aggregates.Cares.Start(id), h[1])}
		},
		Triggers: []sagas.Trigger[State, aggregates.CareCommand]{
			{Consumer: ReferralConsumer, Source: 0, On: onReferral, ReactCommit: s.reactReferral},
			{Consumer: CareConsumer, Source: 1, On: onCare, React: func(st State, _ events.Event, _ time.Time) Reaction {
				return Reaction{Timers: s.Timers(st.Care)}
			}},
		},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		OnFire: func(st State, kind string, now time.Time) Reaction {
			cmds, timers := s.OnFire(st.Care, aggregates.ChildOf(st.Referral, ""), kind, now)
			return Reaction{Commands: cmds, Timers: timers}
		},
		Timers: func(st State) []sagas.Timer { return s.Timers(st.Care) },
		MsgID: func(id string, st State, cmd aggregates.CareCommand) string {
			msgID := fmt.Sprintf("leaving-care:%s:%s", id, cmd.CommandName())
			if d, ok := cmd.(aggregates.SetDateOfBirth); ok {
				msgID += ":" + d.DateOfBirth + ":" + d.Basis
				// A date corrected back to one it was corrected from
				// earlier is new work, not a repeat of that one: the
				// store's deduplication would drop it.
				if d.Basis == events.DOBCorrected {
					msgID += fmt.Sprintf(":%d", st.Referral.Corrections)
				}
			}
			return msgID
		},
		Label: func(st State) string { return st.Care.Authority },
	}
}

func onReferral(e events.Event) bool {
	switch d := e.Data.(type) {
	case events.ReferralPlaced, events.AgeAssessed, events.ChildLeftCare, events.ReferralWithdrawn:
		return true
	case events.ChildDetailCorrected:
		return CorrectsDateOfBirth(d)
	}
	return false
}

// CorrectsDateOfBirth is true of a correction that moves the birthdays
// the milestones (and the record's retention) run from.
func CorrectsDateOfBirth(d events.ChildDetailCorrected) bool {
	return d.Field == aggregates.FieldDateOfBirth
}

func onCare(e events.Event) bool {
	_, ok := e.Data.(events.CareDateOfBirthSet)
	return ok
}

// reactReferral answers a referral's commit: leaving care or a withdrawal
// cancels the milestones; a placement, an age assessment or a corrected
// date of birth sets the date of birth, and a placed child's milestones
// are armed on the care as it then is (a date of birth set before the
// placement, the Home Office's record, is armed now; one just set is
// armed again, which replaces the same timers, so a moved birthday leaves
// no timer at the old one; a milestone already recorded is not armed
// again, so none is recorded twice).
func (s Saga) reactReferral(st State, picked []events.Event, _ time.Time) Reaction {
	for _, e := range picked {
		switch e.Data.(type) {
		case events.ChildLeftCare, events.ReferralWithdrawn:
			return Reaction{CancelAll: true}
		}
	}
	child := aggregates.ChildOf(st.Referral, "")
	return Reaction{Commands: s.OnReferral(st.Care, child, st.History), Rearm: child.Status == aggregates.StatusPlaced}
}

// DateOfBirth finds the date of birth the milestones run from in a
// referral's events: the referral's own, unless a later finding stands
// over it, the age assessment's (a child, with a date) or a correction of
// the date of birth, whichever came last. "" when none gives one (a
// claimed age alone).
func DateOfBirth(referral []events.Event) (dob, basis string) {
	for _, e := range referral {
		switch d := e.Data.(type) {
		case events.ReferralReceived:
			if d.DateOfBirth != "" && basis == "" {
				dob, basis = d.DateOfBirth, events.DOBRecorded
			}
		case events.ReferralReferred:
			if d.DateOfBirth != "" && (basis == "" || basis == events.DOBRecorded) {
				dob, basis = d.DateOfBirth, events.DOBRecorded
			}
		case events.AgeAssessed:
			if d.Outcome == events.AgeOutcomeChild && d.AssessedDateOfBirth != "" {
				dob, basis = d.AssessedDateOfBirth, events.DOBAssessed
			}
		case events.ChildDetailCorrected:
			if d.Field == aggregates.FieldDateOfBirth && d.NewValue != "" {
				dob, basis = d.NewValue, events.DOBCorrected
			}
		}
	}
	return dob, basis
}

// OnReferral answers a referral's placement or age assessment: the date
// of birth to set on the child's care, if it is placed, has one, and it
// is not already set. (The decider refuses a repeat or an assessed date's
// replacement.)
func (s Saga) OnReferral(c aggregates.Care, child aggregates.ChildInCare, referral []events.Event) []aggregates.CareCommand {
	dob, basis := DateOfBirth(referral)
	if child.Status != aggregates.StatusPlaced || dob == "" || (dob == c.DateOfBirth && basis == c.DOBBasis) {
		return nil
	}
	return []aggregates.CareCommand{aggregates.SetDateOfBirth{DateOfBirth: dob, Basis: basis, Child: child}}
}

// Timers are the milestones not yet recorded, for a child whose date of
// birth is set (one set again replaces them: same kinds). A time already
// past fires at once.
func (s Saga) Timers(c aggregates.Care) []sagas.Timer {
	if c.DateOfBirth == "" {
		return nil
	}
	var out []sagas.Timer
	if !c.LeavingCareInvolved {
		out = append(out, sagas.Timer{Kind: KindSixteen, At: c.SixteenAt})
	}
	if !c.TriplePlanned {
		out = append(out, sagas.Timer{Kind: KindTriple, At: c.TriplePlanningAt})
	}
	if !c.CareLeaver {
		out = append(out, sagas.Timer{Kind: KindEighteen, At: c.EighteenAt})
	}
	return out
}

// OnFire answers a fired milestone timer: the milestone's command when it
// is due and not recorded; the timer again if it fired early; nothing for
// a child no longer in care.
func (s Saga) OnFire(c aggregates.Care, child aggregates.ChildInCare, kind string, now time.Time) ([]aggregates.CareCommand, []sagas.Timer) {
	if child.Status != aggregates.StatusPlaced || c.DateOfBirth == "" {
		return nil, nil
	}
	var at time.Time
	var done bool
	var cmd aggregates.CareCommand
	switch kind {
	case KindSixteen:
		at, done, cmd = c.SixteenAt, c.LeavingCareInvolved, aggregates.InvolveLeavingCare{Child: child, PathwayPlanWithin: time.Duration(s.Policy.PathwayPlanWithin)}
	case KindTriple:
		at, done, cmd = c.TriplePlanningAt, c.TriplePlanned, aggregates.RecordTriplePlanning{Child: child}
	case KindEighteen:
		at, done, cmd = c.EighteenAt, c.CareLeaver, aggregates.BecomeCareLeaver{Child: child}
	default:
		return nil, nil
	}
	switch {
	case done:
		return nil, nil
	case now.Before(at):
		return nil, []sagas.Timer{{Kind: kind, At: at}}
	}
	return []aggregates.CareCommand{cmd}, nil
}
