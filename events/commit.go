package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Commit is what one command decided: its events, stored together as one
// message so they land all or nothing, with the idempotency key and request
// hash of the command that produced them, so that a retried command can be
// answered with its first outcome. See docs/design/atomic-appends.md.
type Commit struct {
	Command        string  `json:"command"`
	IdempotencyKey string  `json:"idempotencyKey,omitempty"`
	RequestHash    string  `json:"requestHash,omitempty"`
	Events         []Event `json:"-"`
}

type wireCommit struct {
	Command        string            `json:"command"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
	RequestHash    string            `json:"requestHash,omitempty"`
	Events         []json.RawMessage `json:"events"`
}

// wireCommitIn reads a commit and its envelopes in one strict pass (the
// payloads stay raw until their type is known): decoding is most of what a
// view's rebuild costs (docs/design/atomic-appends.md).
type wireCommitIn struct {
	Command        string      `json:"command"`
	IdempotencyKey string      `json:"idempotencyKey,omitempty"`
	RequestHash    string      `json:"requestHash,omitempty"`
	Events         []wireEvent `json:"events"`
}

// EncodeCommit writes a commit as one JSON document. A commit with no events
// is an error: there is nothing to record.
func EncodeCommit(c Commit) ([]byte, error) {
	if len(c.Events) == 0 {
		return nil, errors.New("encode commit: no events")
	}
	w := wireCommit{Command: c.Command, IdempotencyKey: c.IdempotencyKey, RequestHash: c.RequestHash}
	for i, e := range c.Events {
		b, err := Encode(e)
		if err != nil {
			return nil, fmt.Errorf("encode commit event %d: %w", i, err)
		}
		w.Events = append(w.Events, b)
	}
	return json.Marshal(w)
}

// DecodeCommit reads a stored commit. Events of unknown types decode with an
// Unknown payload and the returned error wraps ErrUnknownType; any other
// error means the commit could not be read at all.
func DecodeCommit(b []byte) (Commit, error) {
	if c, ok := decodeCommitFast(b); ok {
		return c, nil
	}
	return decodeCommitStored(b)
}

// decodeCommitStored is DecodeCommit without the fast path: whatever that
// gives up on, and the reference it is tested against.
func decodeCommitStored(b []byte) (Commit, error) {
	var w wireCommitIn
	if err := decodeStored(b, &w); err != nil {
		return Commit{}, fmt.Errorf("decode commit: %w", err)
	}
	if len(w.Events) == 0 {
		return Commit{}, errors.New("decode commit: no events")
	}
	c := Commit{Command: w.Command, IdempotencyKey: w.IdempotencyKey, RequestHash: w.RequestHash, Events: make([]Event, 0, len(w.Events))}
	var unknown error
	for i, we := range w.Events {
		e, err := fromWire(we)
		if errors.Is(err, ErrUnknownType) {
			unknown = err
		} else if err != nil {
			return Commit{}, fmt.Errorf("decode commit event %d: %w", i, err)
		}
		c.Events = append(c.Events, e)
	}
	return c, unknown
}

// Subjects. Each aggregate's events live on their own subject so the server
// can check the aggregate's version (its last sequence on that subject) and
// a load reads one subject only.
const (
	SubjectPrefix = "nts.events."
	// PublicSubjectPrefix is where the public contract is published, apart
	// from the internal log.
	PublicSubjectPrefix    = "nts.public."
	referralSubjectPrefix  = SubjectPrefix + "referral."
	authoritySubjectPrefix = SubjectPrefix + "authority."
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidID reports whether id can name an aggregate: it becomes a subject
// token, so no dots, wildcards or spaces.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// ReferralSubject is the subject of one referral's events.
func ReferralSubject(referralID string) string { return referralSubjectPrefix + referralID }

// AuthoritySubject is the subject of one authority's events.
func AuthoritySubject(onsCode string) string { return authoritySubjectPrefix + onsCode }
