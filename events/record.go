package events

import "time"

// The record aggregate's events (issue 24): the child's record as
// information kept for a time and then disposed of, one aggregate per
// referral (subject nts.events.record.<referral id>, aggregate id the
// referral's id). None carries the child's personal data, so they outlive
// the child's key and say, for ever, what was disposed of, when and why.
const (
	TypeLegalHoldPlaced   = "record.legal-hold-placed"
	TypeLegalHoldReleased = "record.legal-hold-released"
	TypeRecordDisposed    = "record.disposed"
)

// LegalHoldPlaced: the record must not be disposed of until the hold is
// released (an inquiry, litigation, a complaint). The reason names the
// matter, not the child.
type LegalHoldPlaced struct {
	Reason string `json:"reason"`
}

// LegalHoldReleased: the hold is lifted; disposal resumes when due.
type LegalHoldReleased struct {
	Reason string `json:"reason"`
}

// RecordDisposed: the child's data key was (or is being) destroyed, so
// their personal fields in every event can never be read again. It names
// the retention policy's version, the rule that applied and the instant
// the record was kept until.
type RecordDisposed struct {
	ReferralID    string    `json:"referralId"`
	Policy        string    `json:"policy"`
	Rule          string    `json:"rule"`
	RetainedUntil time.Time `json:"retainedUntil"`
}

func (LegalHoldPlaced) EventType() string   { return TypeLegalHoldPlaced }
func (LegalHoldReleased) EventType() string { return TypeLegalHoldReleased }
func (RecordDisposed) EventType() string    { return TypeRecordDisposed }

var recordSubjectPrefix = SubjectPrefix + "record."

// RecordSubject is the subject of one child's record events.
func RecordSubject(referralID string) string { return recordSubjectPrefix + referralID }
