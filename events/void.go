package events

// TypeSequenceVoided is an operator's void: the message at one stream
// sequence of the same aggregate's subject is not part of the aggregate's
// story (it cannot be read: it is not a commit at all, or holds an event
// this build does not know). The message stays in the log, since the log
// is never edited; folds pass over it because this event says so, and
// verify lists it with the reason.
const TypeSequenceVoided = "log.sequence-voided"

// SequenceVoided names the voided message. It lives on the voided
// message's own subject, after it: the aggregate's fold meets the void
// when it reads the subject, and the hash chain runs through it as through
// any event of the aggregate.
type SequenceVoided struct {
	// Sequence is the voided message's stream sequence (an int, not a
	// uint64, so the fast decoder reads it: sequences stay far below 2^63).
	Sequence int `json:"sequence"`
	// Reason is the operator's, in their words.
	Reason string `json:"reason"`
	// Problem is what the engine found wrong with the message when it was
	// voided ("does not decode: ...", "holds event type x").
	Problem string `json:"problem"`
	// Forced: the message held events a build with the chain key wrote
	// (a newer engine's, most likely) and the operator voided it anyway.
	Forced bool `json:"forced,omitempty"`
}

// EventType names the payload's event type.
func (SequenceVoided) EventType() string { return TypeSequenceVoided }

// Voids lists the sequences a commit's void events name.
func (c Commit) Voids() []uint64 {
	var out []uint64
	for _, e := range c.Events {
		if v, ok := e.Data.(SequenceVoided); ok {
			out = append(out, uint64(v.Sequence))
		}
	}
	return out
}
