// Package events owns the vocabulary of ntsflow: the envelope every event
// carries, the referral event catalogue, the subjects they live on, and the
// codec that reads and writes them (strictly on input, and upcasting old
// schema versions on read so the log is never rewritten).
//
// It imports nothing else of ours: every other package speaks its language.
package events

import (
	"encoding/json"
	"reflect"
	"time"
)

// Event types. Past tense, one meaning each, never edited after release: a
// change of meaning is a new type, a change of shape is a new schema version.
const (
	TypeReferralReceived       = "referral.received"
	TypeProfessionalsNotified  = "referral.professionals-notified"
	TypePlacementSearched      = "placement.searched"
	TypeAgeAssessmentRequested = "age.assessment-requested"
	TypeAgeAssessed            = "age.assessed"
	TypeReferralPlaced         = "referral.placed"
	TypeReferralWithdrawn      = "referral.withdrawn"
	TypeChildLeftCare          = "child.left-care"
	TypeDeadlineSet            = "deadline.set"
	TypeDeadlineWarning        = "deadline.warning"
	TypeDeadlineBreached       = "deadline.breached"
	TypeDeadlineEscalated      = "deadline.escalated"
	TypeAuthorityPledgeSet     = "authority.pledge-set"
)

// Event is the envelope. Data holds one of the payload types of this package
// (a value, not a pointer), chosen by Type.
type Event struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schemaVersion"`
	AggregateID   string `json:"aggregateId"`
	// OccurredAt is when it happened in the world; it may be earlier than
	// RecordedAt (a social worker records a referral received yesterday).
	OccurredAt time.Time `json:"occurredAt"`
	RecordedAt time.Time `json:"recordedAt"`
	Actor      string    `json:"actor"`
	// Person is who, within the Actor's identity, says they acted (the
	// X-Actor header, bounded): the caller's word, kept apart from the
	// identity the token proves.
	Person        string `json:"person,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
	Data          any    `json:"data"`
	// PrevHash and Hash chain the events of one aggregate: Hash is an
	// HMAC-SHA256 of this event's stored bytes, which include PrevHash, the
	// Hash of the aggregate's previous event (see chain.go).
	PrevHash string `json:"prevHash,omitempty"`
	Hash     string `json:"hash,omitempty"`
	// Sealed holds the child's personal fields of Data encrypted, as
	// stored (personal.go); Data keeps them in the clear in memory.
	Sealed string `json:"-"`
	// Disposed names the personal fields that are empty in Data because
	// the child's key was destroyed: a reader shows "disposed of" there.
	Disposed []string `json:"disposed,omitempty"`
}

// ActorPersonSeparator joins the identity that made a call and the person
// within it who says they acted when the two are shown together
// ("Stockport placements team / Jane Smith"). Events record them apart
// (Actor, Person); token names cannot hold the separator, so what is shown
// is never ambiguous.
const ActorPersonSeparator = " / "

// Who says who acted, for people: the identity, and the person within it
// when one was named ("Stockport placements team / Jane Smith").
func (e Event) Who() string {
	if e.Person == "" {
		return e.Actor
	}
	return e.Actor + ActorPersonSeparator + e.Person
}

// Routes into the scheme. The route sets the deadline (DOMAIN.md).
const (
	RouteHotel          = "hotel"
	RouteEntryAuthority = "entry-authority"
)

// ReferralReceived: the receiving authority has a referral. It is the only
// event that carries personal data about the child; that data never leaves
// the internal stream (the public contract carries none of it).
type ReferralReceived struct {
	ReferralID            string   `json:"referralId"`
	ReceivingAuthority    string   `json:"receivingAuthority"`
	Route                 string   `json:"route"`
	TransferringAuthority string   `json:"transferringAuthority,omitempty"`
	Hotel                 string   `json:"hotel,omitempty"`
	ChildReference        string   `json:"childReference"`
	ClaimedAge            int      `json:"claimedAge,omitempty"`
	DateOfBirth           string   `json:"dateOfBirth,omitempty"`
	Sex                   string   `json:"sex,omitempty"`
	Nationality           string   `json:"nationality,omitempty"`
	Languages             []string `json:"languages,omitempty"`
	Needs                 []string `json:"needs,omitempty"`
}

// ProfessionalsNotified: the single referral form went out to these
// professions at once (Stockport's practice).
type ProfessionalsNotified struct {
	Professions []string `json:"professions"`
	NotifiedBy  string   `json:"notifiedBy"`
}

// PlacementSearched: one search step on one track, and what it found.
type PlacementSearched struct {
	Track          string   `json:"track"`
	OffersFound    int      `json:"offersFound"`
	PlacementTypes []string `json:"placementTypes,omitempty"`
}

// AgeAssessmentRequested: the child's age is disputed.
type AgeAssessmentRequested struct {
	Method string `json:"method"`
	Reason string `json:"reason,omitempty"`
}

// Age assessment outcomes.
const (
	AgeOutcomeChild = "child"
	AgeOutcomeAdult = "adult"
)

// AgeAssessed: the outcome of an age assessment.
type AgeAssessed struct {
	Method              string `json:"method"`
	Outcome             string `json:"outcome"`
	AssessedDateOfBirth string `json:"assessedDateOfBirth,omitempty"`
}

// ReferralPlaced: the child is in a placement; the deadline stops.
type ReferralPlaced struct {
	PlacementType string    `json:"placementType"`
	Provider      string    `json:"provider"`
	PlacedAt      time.Time `json:"placedAt"`
}

// ReferralWithdrawn: the referral ends without a placement.
type ReferralWithdrawn struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ChildLeftCare: a placed child is no longer looked after here.
type ChildLeftCare struct {
	LeftAt time.Time `json:"leftAt"`
	Reason string    `json:"reason"`
}

// DeadlineSet is recorded by the deadline saga when a referral is received:
// the deadline as the policy in force computed it, with the policy's
// version, so a later change of protocol never rewrites an old deadline.
type DeadlineSet struct {
	Route       string    `json:"route"`
	Policy      string    `json:"policy"`
	WorkingDays int       `json:"workingDays,omitempty"`
	DueAt       time.Time `json:"dueAt"`
	WarningAt   time.Time `json:"warningAt"`
	EscalateAt  time.Time `json:"escalateAt,omitzero"`
}

// DeadlineEscalated is recorded by the deadline saga when a breach stays
// open long enough to go up the escalation ladder.
type DeadlineEscalated struct {
	Deadline           time.Time `json:"deadline"`
	WorkingDaysElapsed int       `json:"workingDaysElapsed"`
	EscalatedTo        string    `json:"escalatedTo"`
}

// DeadlineWarning is recorded by the deadline saga before the deadline.
type DeadlineWarning struct {
	Deadline           time.Time `json:"deadline"`
	WorkingDaysElapsed int       `json:"workingDaysElapsed"`
	EscalatedTo        string    `json:"escalatedTo,omitempty"`
}

// DeadlineBreached is recorded by the deadline saga when the deadline passes
// with the referral still open.
type DeadlineBreached struct {
	Deadline           time.Time `json:"deadline"`
	WorkingDaysElapsed int       `json:"workingDaysElapsed"`
	EscalatedTo        string    `json:"escalatedTo"`
}

// AuthorityPledgeSet: an authority's voluntary pledge of places.
type AuthorityPledgeSet struct {
	Authority string `json:"authority"`
	Pledge    int    `json:"pledge"`
}

// Payload is an event's data. Each payload type names its own event type,
// so an event's type and its data cannot disagree: make events with New.
type Payload interface{ EventType() string }

// New is an event of p's type that happened at occurredAt; the shell fills
// in the rest of the envelope when it records it.
func New(occurredAt time.Time, p Payload) Event {
	return Event{Type: p.EventType(), OccurredAt: occurredAt, Data: p}
}

func (ReferralReceived) EventType() string       { return TypeReferralReceived }
func (ProfessionalsNotified) EventType() string  { return TypeProfessionalsNotified }
func (PlacementSearched) EventType() string      { return TypePlacementSearched }
func (AgeAssessmentRequested) EventType() string { return TypeAgeAssessmentRequested }
func (AgeAssessed) EventType() string            { return TypeAgeAssessed }
func (ReferralPlaced) EventType() string         { return TypeReferralPlaced }
func (ReferralWithdrawn) EventType() string      { return TypeReferralWithdrawn }
func (ChildLeftCare) EventType() string          { return TypeChildLeftCare }
func (DeadlineSet) EventType() string            { return TypeDeadlineSet }
func (DeadlineWarning) EventType() string        { return TypeDeadlineWarning }
func (DeadlineBreached) EventType() string       { return TypeDeadlineBreached }
func (DeadlineEscalated) EventType() string      { return TypeDeadlineEscalated }
func (AuthorityPledgeSet) EventType() string     { return TypeAuthorityPledgeSet }

// payloadType describes how one event type is decoded: its current schema
// version, a zero payload, and the upcasters that lift older versions.
type payloadType struct {
	name    string // the type, as in the catalogue's key
	version int
	codec   interface {
		decode(raw json.RawMessage) (any, error)
		goType() reflect.Type
	}
	fast *fastPlan // nil: read by codec alone
	// upcast[v] turns schema version v's JSON into version v+1's.
	upcast map[int]func(json.RawMessage) (json.RawMessage, error)
}
