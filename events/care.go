package events

import "time"

// The care aggregate's events: the child's time in care after the
// transfer, one aggregate per referral (subject nts.events.care.<referral
// id>, aggregate id the referral's id). Missing episodes and the
// safeguarding saga's steps; the leaving-care milestones from the date of
// birth.
const (
	TypeMissingReported         = "missing.reported"
	TypeMissingNotified         = "missing.notified"
	TypeMissingReturned         = "missing.returned"
	TypeStrategyDiscussionHeld  = "missing.strategy-discussion-held"
	TypeStrategyDiscussionLate  = "missing.strategy-discussion-overdue"
	TypeReturnInterviewOffered  = "missing.return-interview-offered"
	TypeReturnInterviewWarning  = "missing.return-interview-warning"
	TypeReturnInterviewBreached = "missing.return-interview-breached"
	TypeCareDateOfBirthSet      = "care.date-of-birth-set"
	TypeLeaveToRemainRecorded   = "care.leave-to-remain-recorded"
	TypeLeavingCareInvolved     = "care.leaving-care-involved"
	TypeTriplePlanningRecorded  = "care.triple-planning-recorded"
	TypeCareLeaver              = "care.care-leaver"
)

// Who the safeguarding saga notifies when a child goes missing.
const (
	PartyPolice          = "police"
	PartySafeguardingHub = "safeguarding-hub"
)

// Leave to remain: the three outcomes triple planning prepares for.
const (
	LeaveGranted = "granted"
	LeavePending = "pending"
	LeaveRefused = "refused"
)

// The care leaver's accommodation at 18.
const (
	// The 16-17 placement continues past 18 while leave to remain is
	// pending (Stockport's practice).
	AccommodationExtendedPlacement = "extended-placement"
	// Leave granted: the child moves on as the pathway plan sets out.
	AccommodationMoveOn = "move-on"
	// Leave refused: support continues while a human rights assessment is
	// made (Nationality, Immigration and Asylum Act 2002, schedule 3).
	AccommodationHumanRightsAssessment = "human-rights-assessment"
)

// How the date of birth the milestones run from was known.
const (
	DOBRecorded = "recorded" // on the referral
	DOBAssessed = "assessed" // by an age assessment; it stands over the recorded one
	DOBYearOnly = "year-only"
	// DOBCorrected: a rectification of the referral's date of birth, on
	// the authority's evidence. The latest of an assessment and a
	// correction stands: each is a later, better-founded finding.
	DOBCorrected = "corrected"
)

// MissingReported: the child went missing from the placement. LastSeen and
// PoliceReference stay inside the engine.
type MissingReported struct {
	Episode         int       `json:"episode"` // 1-based
	Authority       string    `json:"authority"`
	Region          string    `json:"region"`
	MissingAt       time.Time `json:"missingAt"`
	LastSeen        string    `json:"lastSeen"`
	PoliceReference string    `json:"policeReference"`
	// Early: missing within the policy's days of the placement (the
	// Home Office and DfE's named risk of re-trafficking).
	Early           bool      `json:"early"`
	DaysSincePlaced int       `json:"daysSincePlaced"`
	PlacedAt        time.Time `json:"placedAt"`
	StrategyDueAt   time.Time `json:"strategyDueAt"`
	Policy          string    `json:"policy"`
}

// MissingNotified: the safeguarding saga told a party (police, the
// safeguarding hub) at once.
type MissingNotified struct {
	Episode int    `json:"episode"`
	Party   string `json:"party"`
}

// MissingReturned: the child came back (or was found).
type MissingReturned struct {
	Episode         int       `json:"episode"`
	ReturnedAt      time.Time `json:"returnedAt"`
	WhereFound      string    `json:"whereFound"`
	InterviewDueAt  time.Time `json:"interviewDueAt"`
	InterviewWarnAt time.Time `json:"interviewWarnAt"`
}

// StrategyDiscussionHeld: the strategy discussion (police, children's
// social care, others) took place.
type StrategyDiscussionHeld struct {
	Episode   int       `json:"episode"`
	HeldAt    time.Time `json:"heldAt"`
	Attendees []string  `json:"attendees"` // professions
}

// StrategyDiscussionOverdue: none was recorded by the policy's time.
type StrategyDiscussionOverdue struct {
	Episode int       `json:"episode"`
	DueAt   time.Time `json:"dueAt"`
}

// ReturnInterviewOffered: an independent return interview was offered.
type ReturnInterviewOffered struct {
	Episode   int       `json:"episode"`
	OfferedAt time.Time `json:"offeredAt"`
	OfferedBy string    `json:"offeredBy"`
	Accepted  bool      `json:"accepted"`
	DueAt     time.Time `json:"dueAt"`
	InTime    bool      `json:"inTime"`
}

// ReturnInterviewWarning / ReturnInterviewBreached: the interview is due
// soon, or was not offered within the time.
type ReturnInterviewWarning struct {
	Episode int       `json:"episode"`
	DueAt   time.Time `json:"dueAt"`
}

// ReturnInterviewBreached: see ReturnInterviewWarning.
type ReturnInterviewBreached struct {
	Episode int       `json:"episode"`
	DueAt   time.Time `json:"dueAt"`
}

// CareDateOfBirthSet: the date of birth the leaving-care milestones run
// from, and the milestones (midnight, London, of each anniversary).
type CareDateOfBirthSet struct {
	Authority        string    `json:"authority"`
	DateOfBirth      string    `json:"dateOfBirth"` // YYYY-MM-DD
	Basis            string    `json:"basis"`
	SixteenAt        time.Time `json:"sixteenAt"`
	TriplePlanningAt time.Time `json:"triplePlanningAt"` // 17 and a half
	EighteenAt       time.Time `json:"eighteenAt"`
}

// LeaveToRemainRecorded: the child's immigration status as now known.
type LeaveToRemainRecorded struct {
	Status string `json:"status"`
}

// LeavingCareInvolved: at 16 the leaving-care team is involved and a
// pathway plan is due.
type LeavingCareInvolved struct {
	PathwayPlanDueAt time.Time `json:"pathwayPlanDueAt"`
}

// TriplePlanningRecorded: at 17 and a half, plans for each outcome of the
// claim, with the status known now.
type TriplePlanningRecorded struct {
	LeaveToRemain string   `json:"leaveToRemain"`
	Plans         []string `json:"plans"`
}

// CareLeaver: at 18 the child is a care leaver, with an accommodation
// status.
type CareLeaver struct {
	LeaveToRemain string `json:"leaveToRemain"`
	Accommodation string `json:"accommodation"`
}

func (MissingReported) EventType() string           { return TypeMissingReported }
func (MissingNotified) EventType() string           { return TypeMissingNotified }
func (MissingReturned) EventType() string           { return TypeMissingReturned }
func (StrategyDiscussionHeld) EventType() string    { return TypeStrategyDiscussionHeld }
func (StrategyDiscussionOverdue) EventType() string { return TypeStrategyDiscussionLate }
func (ReturnInterviewOffered) EventType() string    { return TypeReturnInterviewOffered }
func (ReturnInterviewWarning) EventType() string    { return TypeReturnInterviewWarning }
func (ReturnInterviewBreached) EventType() string   { return TypeReturnInterviewBreached }
func (CareDateOfBirthSet) EventType() string        { return TypeCareDateOfBirthSet }
func (LeaveToRemainRecorded) EventType() string     { return TypeLeaveToRemainRecorded }
func (LeavingCareInvolved) EventType() string       { return TypeLeavingCareInvolved }
func (TriplePlanningRecorded) EventType() string    { return TypeTriplePlanningRecorded }
func (CareLeaver) EventType() string                { return TypeCareLeaver }

const careSubjectPrefix = SubjectPrefix + "care."

// CareSubject is the subject of one child's care events (the referral id).
func CareSubject(referralID string) string { return careSubjectPrefix + referralID }
