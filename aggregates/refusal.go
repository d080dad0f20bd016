// Package aggregates holds the deciders: pure functions from a command and
// the current state to new events, or a refusal that says why. No I/O, no
// clock (the time of decision comes in as an argument), no JetStream.
//
// Each aggregate is one file (referral.go, authority.go) holding its state,
// commands, Decide and Evolve, and one Decider value (decider.go) that the
// engine's single runner serves.
package aggregates

import "fmt"

// Kind sorts refusals: Invalid means the command itself is wrong whatever
// the state (a missing field, an unknown code); Illegal means the command is
// well formed but not allowed now (placing a withdrawn referral).
type Kind string

// Refusal kinds.
const (
	Invalid Kind = "invalid"
	Illegal Kind = "illegal"
)

// Code names a refusal for machines: the API returns it as the error code,
// and clients branch on it. A code, once released, keeps its meaning.
type Code string

// Refusal codes, one meaning each.
const (
	CodeInvalidValue             Code = "invalid_value"
	CodeUnknownAuthority         Code = "unknown_authority"
	CodeNotFound                 Code = "not_found"
	CodeUnreadableHistory        Code = "unreadable_history"
	CodeAlreadyReceived          Code = "already_received"
	CodeAlreadyNotified          Code = "already_notified"
	CodeAlreadyPlaced            Code = "already_placed"
	CodeWithdrawn                Code = "withdrawn"
	CodeLeftCare                 Code = "left_care"
	CodeNotPlaced                Code = "not_placed"
	CodeAgeAssessmentPending     Code = "age_assessment_pending"
	CodeNoAgeAssessmentRequested Code = "no_age_assessment_requested"
	CodeClosed                   Code = "closed"
	CodeDeadlineAlreadySet       Code = "deadline_already_set"
	CodeAlreadyWarned            Code = "already_warned"
	CodeAlreadyBreached          Code = "already_breached"
	CodeNotBreached              Code = "not_breached"
	CodeAlreadyEscalated         Code = "already_escalated"
	CodePledgeUnchanged          Code = "pledge_unchanged"
	CodeNotReceived              Code = "not_received"
	CodeNotAwaitingAllocation    Code = "not_awaiting_allocation"
	CodeNotAwaitingAcceptance    Code = "not_awaiting_acceptance"
	CodeNotAllocatedToYou        Code = "not_allocated_to_you"
	CodeAlreadyReminded          Code = "already_reminded"
	CodeNoAuthorityAvailable     Code = "no_authority_available"
	CodeContactUnchanged         Code = "contact_unchanged"
	CodeRotaUnchanged            Code = "rota_unchanged"
	CodePledgeUsedUp             Code = "pledge_used_up"
	CodeNotPaused                Code = "not_paused"
	CodeWorkerLeft               Code = "worker_left"
	CodeWorkerUnchanged          Code = "worker_unchanged"
	CodeAlreadyAllocated         Code = "already_allocated"
	CodeNoWorkerAvailable        Code = "no_worker_available"
	// Rectification's (referral.go).
	CodeNotYourCorrection Code = "not_your_correction"
	// The care aggregate's (care.go).
	CodeAlreadyMissing    Code = "already_missing"
	CodeNotMissing        Code = "not_missing"
	CodeNoEpisode         Code = "no_episode"
	CodeAlreadyRecorded   Code = "already_recorded"
	CodeNotDue            Code = "not_due"
	CodeNoDateOfBirth     Code = "no_date_of_birth"
	CodeAssessedDOBStands Code = "assessed_date_of_birth_stands"
)

// Refusal is a decider's "no", worded for the social worker who sent the
// command. Field names the offending field of the command, if one is at fault.
type Refusal struct {
	Kind    Kind
	Code    Code
	Message string
	Field   string
}

func (r *Refusal) Error() string {
	if r.Field != "" {
		return fmt.Sprintf("%s (%s): %s", r.Code, r.Field, r.Message)
	}
	return string(r.Code) + ": " + r.Message
}

func invalid(field, format string, args ...any) *Refusal {
	return &Refusal{Kind: Invalid, Code: CodeInvalidValue, Field: field, Message: fmt.Sprintf(format, args...)}
}

func illegal(code Code, format string, args ...any) *Refusal {
	return &Refusal{Kind: Illegal, Code: code, Message: fmt.Sprintf(format, args...)}
}
