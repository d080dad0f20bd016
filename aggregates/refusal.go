// Package aggregates holds the deciders: pure functions from a command and
// the current state to new events, or a refusal that says why. No I/O, no
// clock (the time of decision comes in as an argument), no JetStream.
//
// A decider is three things: an initial state (the zero value), Decide and
// Evolve. Loading an aggregate is a fold of its events with Evolve.
package aggregates

import "fmt"

// Refusal kinds: Invalid means the command itself is wrong whatever the
// state (a missing field, an unknown code); Illegal means the command is
// well formed but not allowed now (placing a withdrawn referral).
const (
	Invalid = "invalid"
	Illegal = "illegal"
)

// Refusal is a decider's "no", worded for the social worker who sent the
// command. Field names the offending field of the command, if one is at fault.
type Refusal struct {
	Kind    string
	Code    string
	Message string
	Field   string
}

func (r *Refusal) Error() string {
	if r.Field != "" {
		return fmt.Sprintf("%s (%s): %s", r.Code, r.Field, r.Message)
	}
	return r.Code + ": " + r.Message
}

func invalid(field, format string, args ...any) *Refusal {
	return &Refusal{Kind: Invalid, Code: "invalid_value", Field: field, Message: fmt.Sprintf(format, args...)}
}

func illegal(code, format string, args ...any) *Refusal {
	return &Refusal{Kind: Illegal, Code: code, Message: fmt.Sprintf(format, args...)}
}
