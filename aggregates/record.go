package aggregates

import (
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

// Record is the child's record as information the authority keeps for a
// time and then disposes of (issue 24, docs/design/privacy.md): legal
// holds that suspend disposal, and the disposal itself, once. One per
// referral, on its own subject, so no other aggregate's rules change.
type Record struct {
	ID      string
	Version int
	// Held: a legal hold is in force; HoldReason says why.
	Held       bool
	HoldReason string
	Disposed   bool
	DisposedAt time.Time
	// Rule and Policy: what the disposal applied.
	Rule, Policy string
}

// RecordCommand is a command to a child's record.
type RecordCommand interface {
	Command
	recordCommand()
}

type (
	// PlaceLegalHold suspends disposal until released.
	PlaceLegalHold struct {
		Reason string `json:"reason" limit:"max=500"`
	}
	// ReleaseLegalHold lifts the hold.
	ReleaseLegalHold struct {
		Reason string `json:"reason" limit:"max=500"`
	}
	// Dispose records that the retention period has ended: the retention
	// saga's command, with what its policy computed (Due: the end of the
	// period).
	Dispose struct {
		Policy string    `json:"policy" limit:"max=100"`
		Rule   string    `json:"rule" limit:"max=100"`
		Due    time.Time `json:"due"`
	}
)

func (PlaceLegalHold) CommandName() string   { return "place-legal-hold" }
func (ReleaseLegalHold) CommandName() string { return "release-legal-hold" }
func (Dispose) CommandName() string          { return "dispose" }
func (PlaceLegalHold) recordCommand()        {}
func (ReleaseLegalHold) recordCommand()      {}
func (Dispose) recordCommand()               {}

// Refusal codes of the record.
const (
	CodeAlreadyDisposed Code = "already_disposed"
	CodeLegalHold       Code = "legal_hold"
	CodeAlreadyHeld     Code = "already_held"
	CodeNoLegalHold     Code = "no_legal_hold"
	CodeNotYetDue       Code = "not_yet_due"
)

// DecideRecord answers a command to a child's record.
func DecideRecord(r Record, cmd RecordCommand, now time.Time) ([]events.Event, error) {
	if r.Disposed {
		return nil, illegal(CodeAlreadyDisposed, "the child's record was disposed of on %s", r.DisposedAt.In(calendar.London).Format("2 January 2006"))
	}
	switch c := cmd.(type) {
	case PlaceLegalHold:
		if !present(c.Reason) {
			return nil, invalid("reason", "say why the record must be kept (the inquiry, claim or complaint)")
		}
		if r.Held {
			return nil, illegal(CodeAlreadyHeld, "a legal hold is already in force: %s", r.HoldReason)
		}
		return one(now, events.LegalHoldPlaced{Reason: c.Reason}), nil
	case ReleaseLegalHold:
		if !present(c.Reason) {
			return nil, invalid("reason", "say why the hold can be lifted")
		}
		if !r.Held {
			return nil, illegal(CodeNoLegalHold, "no legal hold is in force on this record")
		}
		return one(now, events.LegalHoldReleased{Reason: c.Reason}), nil
	case Dispose:
		if !present(c.Policy) || !present(c.Rule) {
			return nil, invalid("rule", "a disposal names the retention policy and the rule that ended the record's keeping")
		}
		if c.Due.IsZero() || now.Before(c.Due) {
			return nil, illegal(CodeNotYetDue, "the record is kept until %s", c.Due.In(calendar.London).Format("2 January 2006"))
		}
		if r.Held {
			return nil, illegal(CodeLegalHold, "a legal hold is in force: %s", r.HoldReason)
		}
		return one(now, events.RecordDisposed{ReferralID: r.ID, Policy: c.Policy, Rule: c.Rule, RetainedUntil: c.Due}), nil
	}
	return nil, invalid("command", "%s is not a command to a child's record", cmd.CommandName())
}

// EvolveRecord folds one event into a child's record.
func EvolveRecord(r Record, e events.Event) Record {
	r.Version++
	switch d := e.Data.(type) {
	case events.LegalHoldPlaced:
		r.Held, r.HoldReason = true, d.Reason
	case events.LegalHoldReleased:
		r.Held, r.HoldReason = false, ""
	case events.RecordDisposed:
		r.Disposed, r.DisposedAt, r.Rule, r.Policy = true, e.OccurredAt, d.Rule, d.Policy
	}
	return r
}
