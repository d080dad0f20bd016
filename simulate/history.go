package simulate

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// Commit is one generated commit and the subject it belongs on.
type Commit struct {
	Subject string
	Commit  events.Commit
}

// History decides a lifecycle's commands with the real deciders, in memory,
// adding what the deadline saga would record (deadline.set, and the
// warning and breach when they fell before the placement), and returns the
// commits in order. It is how benchmarks get a realistic log of a million
// events without a million round trips.
func History(lc Lifecycle, policy deadline.Policy, cal *calendar.Calendar, now time.Time) ([]Commit, error) {
	return NewHistorian(policy, cal, now).History(lc)
}

// Historian decides many lifecycles in turn, keeping the regions' rotas
// between them, so referrals into the scheme are allocated by the rota as
// a partnership would allocate them one after another (the region's
// rota-advanced commits are among those returned).
type Historian struct {
	policy deadline.Policy
	cal    *calendar.Calendar
	now    time.Time
	rotas  map[string]aggregates.Region
}

// NewHistorian starts with every rota at its top.
func NewHistorian(policy deadline.Policy, cal *calendar.Calendar, now time.Time) *Historian {
	if cal == nil {
		cal = calendar.Default()
	}
	return &Historian{policy: policy, cal: cal, now: now, rotas: map[string]aggregates.Region{}}
}

// History decides one lifecycle, as the package function does.
func (h *Historian) History(lc Lifecycle) ([]Commit, error) {
	policy, cal, now := h.policy, h.cal, h.now
	var (
		ref aggregates.Referral
		out []Commit
	)
	subject := events.ReferralSubject(lc.ReferralID)
	envelope := func(evs []events.Event, id string, at time.Time) {
		for i := range evs {
			evs[i].ID = uuid.Must(uuid.NewV7()).String()
			evs[i].SchemaVersion = events.SchemaVersion(evs[i].Type)
			evs[i].AggregateID = id
			evs[i].RecordedAt = at
			evs[i].Actor = "simulate"
			evs[i].CorrelationID = lc.ReferralID
			if evs[i].OccurredAt.IsZero() || evs[i].OccurredAt.Equal(now) {
				evs[i].OccurredAt = at
			}
		}
	}
	record := func(cmd aggregates.Command, at time.Time) error {
		var evs []events.Event
		var err error
		if a, ok := cmd.(aggregates.Allocate); ok {
			// The rota's choice, over the region as the lifecycles before
			// this one left it.
			name, _ := refdata.RegionByName(ref.Region)
			a.Members = refdata.Default().InRegion(name)
			a.RespondBy = allocation.DefaultPolicy().RespondBy(cal, at)
			g, seen := h.rotas[ref.Region]
			if !seen {
				g = aggregates.Regions.Start(ref.Region)
			}
			var regionEvs []events.Event
			regionEvs, evs, err = aggregates.DecideAllocation(g, ref, a, now)
			if err == nil && len(regionEvs) > 0 {
				envelope(regionEvs, ref.Region, at)
				h.rotas[ref.Region] = aggregates.Regions.Apply(g, regionEvs)
				out = append(out, Commit{Subject: events.RegionSubject(ref.Region), Commit: events.Commit{Command: cmd.CommandName(), Events: regionEvs}})
			}
		} else {
			evs, err = aggregates.Decide(ref, cmd, now)
		}
		var refusal *aggregates.Refusal
		if errors.As(err, &refusal) {
			return nil // a generated step the rules refuse is simply not taken
		}
		if err != nil {
			return err
		}
		envelope(evs, lc.ReferralID, at)
		ref = aggregates.Referrals.Apply(ref, evs)
		out = append(out, Commit{Subject: subject, Commit: events.Commit{Command: cmd.CommandName(), Events: evs}})
		return nil
	}
	for i, s := range lc.Steps {
		at := now
		switch c := s.Command.(type) {
		case aggregates.ReceiveReferral:
			at = c.ReceivedAt
		case aggregates.Place:
			at = c.PlacedAt
		case aggregates.RecordLeftCare:
			at = c.LeftAt
		default:
			at = ref.ReceivedAt.Add(time.Duration(i) * time.Hour)
		}
		// What the saga would have recorded before this step.
		if !ref.DueAt.IsZero() && ref.Open() {
			if !ref.Warned && !ref.Breached && at.After(ref.WarningAt) {
				if err := record(aggregates.RecordDeadlineWarning{Deadline: ref.DueAt, EscalatedTo: policy.WarnTo}, ref.WarningAt); err != nil {
					return nil, err
				}
			}
			if !ref.Breached && at.After(ref.DueAt) {
				if err := record(aggregates.RecordDeadlineBreach{Deadline: ref.DueAt, EscalatedTo: policy.Escalation[0].To}, ref.DueAt.Add(time.Second)); err != nil {
					return nil, err
				}
			}
		}
		if err := record(s.Command, at); err != nil {
			return nil, fmt.Errorf("%s step %d: %w", lc.ReferralID, i, err)
		}
		if _, ok := s.Command.(aggregates.ReceiveReferral); ok && (ref.Status == aggregates.StatusOpen || ref.Status == aggregates.StatusAwaitingAllocation) {
			d, err := policy.Compute(cal, ref.Route, ref.ReceivedAt)
			if err != nil {
				return nil, err
			}
			if err := record(aggregates.SetDeadline{Deadline: d}, at.Add(time.Second)); err != nil {
				return nil, err
			}
		}
	}
	return h.care(lc, ref, envelope, out)
}

// care decides the lifecycle's care commands on the child's care record,
// with the referral's facts and the shipped safeguarding policy as the API
// puts them in, and the saga's notifications; a step in the future or one
// the rules refuse is not taken.
func (h *Historian) care(lc Lifecycle, ref aggregates.Referral, envelope func([]events.Event, string, time.Time), out []Commit) ([]Commit, error) {
	var c aggregates.Care
	policy := safeguarding.DefaultPolicy()
	rules := policy.Rules()
	child := aggregates.ChildOf(ref, refdata.Default().RegionOf(ref.ReceivingAuthority))
	take := func(cmd aggregates.CareCommand, at time.Time) (bool, error) {
		if at.After(h.now) {
			return false, nil
		}
		evs, err := aggregates.DecideCare(c, cmd, h.now)
		var refusal *aggregates.Refusal
		if errors.As(err, &refusal) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		envelope(evs, lc.ReferralID, at)
		c = aggregates.Cares.Apply(c, evs)
		out = append(out, Commit{Subject: events.CareSubject(lc.ReferralID), Commit: events.Commit{Command: cmd.CommandName(), Events: evs}})
		return true, nil
	}
	for _, cmd := range lc.Care {
		var at time.Time
		switch x := cmd.(type) {
		case aggregates.ReportMissing:
			x.Child, x.Rules = child, rules
			cmd, at = x, x.MissingAt
		case aggregates.RecordReturn:
			x.Rules = rules
			cmd, at = x, x.ReturnedAt
		case aggregates.RecordStrategyDiscussion:
			at = x.HeldAt
		case aggregates.RecordReturnInterview:
			at = x.OfferedAt
		}
		ok, err := take(cmd, at)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", lc.ReferralID, cmd.CommandName(), err)
		}
		if _, missing := cmd.(aggregates.ReportMissing); ok && missing {
			if _, err := take(aggregates.NotifySafeguarding{Episode: len(c.Episodes), Parties: policy.Notify}, at.Add(time.Second)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
