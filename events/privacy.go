package events

// The events of a child's rights over their record (issue 24, items 4 and
// 5). They live on the referral's own subject, so the record's fold, its
// hash chain and a subject access export all meet them where the rest of
// the child's story is.
const (
	// TypeChildDetailCorrected: a fact recorded about the child was wrong
	// and is corrected (rectification). The earlier event stays as it was.
	TypeChildDetailCorrected = "child.detail-corrected"
	// TypeSubjectAccessExported: everything held about the child was
	// exported for a subject access request.
	TypeSubjectAccessExported = "privacy.subject-access-exported"
)

// ChildDetailCorrected corrects one field of what was recorded about the
// child. The old value is withheld: it is in the event that recorded it,
// and repeating it here would copy a wrong (perhaps harmful) fact into one
// more place. Who corrected it is the envelope's actor; Corrector says in
// which capacity (the authority, or the data protection officer on the
// child's request).
type ChildDetailCorrected struct {
	Field     string `json:"field"`
	NewValue  string `json:"newValue"`
	Reason    string `json:"reason"`
	Corrector string `json:"corrector"`
}

// SubjectAccessExported records that a subject access export was made:
// who made it and when are the envelope's, which child the aggregate's id.
// It carries no personal data, only how much was handed over and why.
type SubjectAccessExported struct {
	Events int    `json:"events"`
	Reason string `json:"reason"`
}

// EventType names the payload's event type.
func (ChildDetailCorrected) EventType() string { return TypeChildDetailCorrected }

// EventType names the payload's event type.
func (SubjectAccessExported) EventType() string { return TypeSubjectAccessExported }
