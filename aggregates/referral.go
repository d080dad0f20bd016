package aggregates

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// The referral's rules, all of them, in this file.

// Status of a referral.
type Status string

// Statuses. A referral starts open (received directly) or awaiting
// allocation (referred into the scheme), and ends placed (then, later, left
// care) or withdrawn.
const (
	StatusNone Status = ""
	// Referred into the scheme for a region; the partnership allocates it.
	StatusAwaitingAllocation Status = "awaiting-allocation"
	// Allocated to an authority, whose contact has not yet answered.
	StatusAwaitingAcceptance Status = "awaiting-acceptance"
	// Received (directly, or by accepting an allocation): in flight at the
	// receiving authority.
	StatusOpen      Status = "open"
	StatusPlaced    Status = "placed"
	StatusWithdrawn Status = "withdrawn"
	StatusLeftCare  Status = "left-care"
)

// Age assessment stages.
const (
	AgeNotDisputed = ""
	AgeRequested   = "requested"
	AgeChild       = "assessed-child"
	AgeAdult       = "assessed-adult"
)

// Referral is the state a referral's events fold to.
type Referral struct {
	ID                 string
	Version            int // number of events
	Status             Status
	ReceivingAuthority string
	Route              string
	ChildReference     string // the child's pseudonymous reference
	// What the referral says of the child, as last corrected (see
	// CorrectChildDetail): the fold shows the corrected value, the history
	// keeps both.
	DateOfBirth     string
	Sex             string
	Nationality     string
	Corrections     int       // how many corrections are on record
	ReceivedAt      time.Time // occurred-at of referral.received
	Professions     []string  // notified so far, in order
	Searches        int
	OffersFound     int
	AgeAssessment   string
	PlacedAt        time.Time
	PlacementType   string
	WithdrawnReason string
	LeftCareAt      time.Time
	// The deadline, as the deadline saga set it on receipt.
	DeadlinePolicy string
	DueAt          time.Time
	WarningAt      time.Time
	EscalateAt     time.Time
	Warned         bool
	Breached       bool
	EscalatedTo    string   // who must act on the breach now
	Unreadable     []string // types of events this build cannot read
	// Allocation, for a referral referred into the scheme.
	Region              string    // the region's slug
	AllocatedTo         string    // the authority whose answer is awaited
	AllocationPosition  int       // its place in the rota (1-based)
	AllocatedAt         time.Time // when it was allocated
	RespondBy           time.Time // when its contact must have answered
	AcceptedAt          time.Time // when the allocated authority accepted
	Declined            []string  // authorities that raised an exception for this child
	Reminded            bool      // the contact was reminded, for this allocation
	AllocationEscalated bool      // the response deadline passed, for this allocation
	referred            events.ReferralReferred
}

// Open reports whether the referral still runs against its deadline: from
// referral or receipt until placement or withdrawal.
func (r Referral) Open() bool { return r.Status.Running() }

// Running: the transfer clock runs (awaiting allocation or acceptance, or
// received and not yet placed or withdrawn).
func (s Status) Running() bool {
	return s == StatusAwaitingAllocation || s == StatusAwaitingAcceptance || s == StatusOpen
}

// Open: received, not yet placed or withdrawn; in flight at the receiving
// authority.
func (s Status) Open() bool { return s == StatusOpen }

// LookedAfter: placed and not left care; the authority looks after the
// child now, which counts against its threshold.
func (s Status) LookedAfter() bool { return s == StatusPlaced }

// NextStatus is the referral's status machine: its status after event e.
// Evolve and every view that keeps a referral's status use it, so the
// machine is written once. Moves the machine does not allow (which Decide
// never records) leave the status as it was.
func NextStatus(s Status, e events.Event) Status {
	switch e.Data.(type) {
	case events.ReferralReferred:
		if s == StatusNone {
			return StatusAwaitingAllocation
		}
	case events.ReferralAllocated:
		if s == StatusAwaitingAllocation {
			return StatusAwaitingAcceptance
		}
	case events.AllocationException:
		if s == StatusAwaitingAcceptance {
			return StatusAwaitingAllocation
		}
	case events.AllocationAccepted:
		// The referral.received in the same commit tells the views.
		if s == StatusAwaitingAcceptance {
			return StatusOpen
		}
	case events.ReferralReceived:
		if s == StatusNone {
			return StatusOpen
		}
	case events.ReferralPlaced:
		if s == StatusOpen {
			return StatusPlaced
		}
	case events.ReferralWithdrawn:
		if s.Running() {
			return StatusWithdrawn
		}
	case events.ChildLeftCare:
		if s == StatusPlaced {
			return StatusLeftCare
		}
	}
	return s
}

// Deadline states, as the referral's GET shows them.
const (
	StatePending  = "pending" // received; the saga has not set the deadline yet
	StateOnTrack  = "on-track"
	StateAtRisk   = "at-risk"
	StateBreached = "breached"
	StateMet      = "met"    // placed (placed-at) by the deadline
	StateMissed   = "missed" // placed after it
	StateClosed   = "closed" // withdrawn: no deadline runs
)

// DeadlineState is where the referral stands against its deadline at now.
func (r Referral) DeadlineState(now time.Time) string {
	switch {
	case r.Status == StatusWithdrawn:
		return StateClosed
	case r.DueAt.IsZero():
		return StatePending
	case r.Status == StatusPlaced || r.Status == StatusLeftCare:
		// Judged by when the child was placed, as the timeliness view and
		// the Home Office returns judge it: a placement made in time but
		// recorded late is met, though the breach the saga recorded while
		// no placement was on record stays in the history.
		if r.PlacedAt.After(r.DueAt) {
			return StateMissed
		}
		return StateMet
	case r.Breached || now.After(r.DueAt):
		return StateBreached
	case !now.Before(r.WarningAt):
		return StateAtRisk
	}
	return StateOnTrack
}

// Commands. Each is plain data, decoded from the API or issued by a saga.
type (
	// ReceiveReferral opens a referral.
	ReceiveReferral struct {
		ReferralID            string    `json:"-"`
		ReceivingAuthority    string    `json:"receivingAuthority" limit:"max=9"`
		Route                 string    `json:"route" limit:"max=20"`
		TransferringAuthority string    `json:"transferringAuthority,omitempty" limit:"max=9"`
		Hotel                 string    `json:"hotel,omitempty" limit:"max=200"`
		ChildReference        string    `json:"childReference" limit:"max=64"`
		ClaimedAge            *int      `json:"claimedAge,omitempty" limit:"min=0,max=17"`
		DateOfBirth           string    `json:"dateOfBirth,omitempty" limit:"max=10"`
		Sex                   string    `json:"sex,omitempty" limit:"max=20"`
		Nationality           string    `json:"nationality,omitempty" limit:"max=100"`
		Languages             []string  `json:"languages,omitempty" limit:"items=50,max=100"`
		Needs                 []string  `json:"needs,omitempty" limit:"items=50,max=500"`
		ReceivedAt            time.Time `json:"receivedAt"`
		// Region, instead of ReceivingAuthority, refers the child into the
		// scheme for that region's partnership to allocate (a slug, e.g.
		// "north-west"); ReceivedAt is then when the child was referred,
		// and the transfer clock runs from it.
		Region string `json:"region,omitempty" limit:"max=64"`
	}
	// AcceptAllocation: the allocated authority's contact accepts. The
	// shell names the accepting authority from the caller's role (empty:
	// the allocated one, where no roles are in force).
	AcceptAllocation struct {
		Authority string `json:"-"`
	}
	// RaiseAllocationException: the allocated authority's contact declines
	// this child, with a reason.
	RaiseAllocationException struct {
		Authority string `json:"-"`
		Reason    string `json:"reason" limit:"max=2000,multiline"`
	}
	// RecordAllocationReminder is issued by the allocation response saga.
	RecordAllocationReminder struct {
		RespondBy time.Time
	}
	// RecordAllocationEscalation is issued by the allocation response saga.
	RecordAllocationEscalation struct {
		RespondBy   time.Time
		EscalatedTo string
	}
	// NotifyProfessionals records that the referral form went out.
	NotifyProfessionals struct {
		Professions []string `json:"professions" limit:"items=50,max=50"`
		NotifiedBy  string   `json:"notifiedBy" limit:"max=200"`
	}
	// RecordPlacementSearch records one search step on one track.
	RecordPlacementSearch struct {
		Track          string   `json:"track" limit:"max=20"`
		OffersFound    *int     `json:"offersFound" limit:"min=0,max=1000"`
		PlacementTypes []string `json:"placementTypes,omitempty" limit:"items=50,max=10"`
	}
	// RequestAgeAssessment records that the child's age is disputed.
	RequestAgeAssessment struct {
		Method string `json:"method" limit:"max=30"`
		Reason string `json:"reason,omitempty" limit:"max=2000,multiline"`
	}
	// RecordAgeAssessment records the outcome of an age assessment.
	RecordAgeAssessment struct {
		Method              string `json:"method" limit:"max=30"`
		Outcome             string `json:"outcome" limit:"max=20"`
		AssessedDateOfBirth string `json:"assessedDateOfBirth,omitempty" limit:"max=10"`
	}
	// Place records that the child is in a placement.
	Place struct {
		PlacementType string    `json:"placementType" limit:"max=10"`
		Provider      string    `json:"provider" limit:"max=200"`
		PlacedAt      time.Time `json:"placedAt"`
	}
	// Withdraw ends the referral without a placement.
	Withdraw struct {
		Reason string `json:"reason" limit:"max=30"`
		Detail string `json:"detail,omitempty" limit:"max=2000,multiline"`
	}
	// RecordLeftCare records that a placed child has left care.
	RecordLeftCare struct {
		LeftAt time.Time `json:"leftAt"`
		Reason string    `json:"reason" limit:"max=30"`
	}
	// CorrectChildDetail corrects one fact recorded about the child
	// (rectification): which fields, and by whom, is Correctable's to say.
	// The shell names the corrector from the caller's role.
	CorrectChildDetail struct {
		Field     string `json:"field" limit:"max=30"`
		NewValue  string `json:"newValue" limit:"max=100"`
		Reason    string `json:"reason" limit:"max=2000,multiline"`
		Corrector string `json:"-"`
	}
	// RecordSubjectAccess records that everything held about the child was
	// exported for a subject access request. The shell counts the events.
	RecordSubjectAccess struct {
		Events int    `json:"-"`
		Reason string `json:"reason" limit:"max=500"`
	}
	// SetDeadline is issued by the deadline saga on receipt.
	SetDeadline struct {
		Deadline events.DeadlineSet
	}
	// RecordDeadlineEscalation is issued by the deadline saga.
	RecordDeadlineEscalation struct {
		Deadline           time.Time
		WorkingDaysElapsed int
		EscalatedTo        string
	}
	// RecordDeadlineWarning is issued by the deadline saga.
	RecordDeadlineWarning struct {
		Deadline           time.Time
		WorkingDaysElapsed int
		EscalatedTo        string
	}
	// RecordDeadlineBreach is issued by the deadline saga.
	RecordDeadlineBreach struct {
		Deadline           time.Time
		WorkingDaysElapsed int
		EscalatedTo        string
	}
)

func (ReceiveReferral) CommandName() string          { return "receive-referral" }
func (NotifyProfessionals) CommandName() string      { return "notify-professionals" }
func (RecordPlacementSearch) CommandName() string    { return "record-placement-search" }
func (RequestAgeAssessment) CommandName() string     { return "request-age-assessment" }
func (RecordAgeAssessment) CommandName() string      { return "record-age-assessment" }
func (Place) CommandName() string                    { return "place" }
func (AcceptAllocation) CommandName() string         { return "accept-allocation" }
func (RaiseAllocationException) CommandName() string { return "raise-allocation-exception" }
func (RecordAllocationReminder) CommandName() string { return "record-allocation-reminder" }
func (RecordAllocationEscalation) CommandName() string {
	return "record-allocation-escalation"
}
func (Withdraw) CommandName() string                 { return "withdraw" }
func (RecordLeftCare) CommandName() string           { return "record-left-care" }
func (SetDeadline) CommandName() string              { return "set-deadline" }
func (CorrectChildDetail) CommandName() string       { return "correct-child-detail" }
func (RecordSubjectAccess) CommandName() string      { return "record-subject-access" }
func (RecordDeadlineWarning) CommandName() string    { return "record-deadline-warning" }
func (RecordDeadlineEscalation) CommandName() string { return "record-deadline-escalation" }
func (RecordDeadlineBreach) CommandName() string     { return "record-deadline-breach" }

// ClockSkew is how far into the future a reported time may lie, to allow for
// clocks that disagree a little.
const ClockSkew = 5 * time.Minute

// SchemeStart is the first day of the National Transfer Scheme (1 July
// 2016): no referral in it can have been received before.
var SchemeStart = time.Date(2016, 7, 1, 0, 0, 0, 0, time.UTC)

// Decide answers a command against the referral's state, at time now: the
// events it causes, or a Refusal. Decide never changes state; Evolve does.
func Decide(r Referral, cmd Command, now time.Time) ([]events.Event, error) {
	if _, isReceive := cmd.(ReceiveReferral); !isReceive {
		if r.Status == StatusNone {
			return nil, illegal(CodeNotFound, "there is no referral with this id")
		}
		if len(r.Unreadable) > 0 {
			return nil, illegal(CodeUnreadableHistory, "this referral has events this engine cannot read (%s); upgrade the engine before changing it", strings.Join(r.Unreadable, ", "))
		}
	}
	if err := CheckInput(cmd); err != nil {
		return nil, err
	}
	switch c := cmd.(type) {
	case ReceiveReferral:
		return receive(r, c, now)
	case NotifyProfessionals:
		if err := mustBeOpen(r, "notify professionals"); err != nil {
			return nil, err
		}
		if len(c.Professions) == 0 {
			return nil, invalid("professions", "name at least one profession to notify (%s)", strings.Join(Professions.List(), ", "))
		}
		var fresh []string
		for _, p := range c.Professions {
			if !Professions.Has(p) {
				return nil, invalid("professions", "%q is not a profession we notify (%s)", p, strings.Join(Professions.List(), ", "))
			}
			if !slices.Contains(r.Professions, p) && !slices.Contains(fresh, p) {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) == 0 {
			return nil, illegal(CodeAlreadyNotified, "every profession named has already been notified")
		}
		if blank(c.NotifiedBy) {
			return nil, invalid("notifiedBy", "say who sent the referral form")
		}
		return one(now, events.ProfessionalsNotified{Professions: fresh, NotifiedBy: c.NotifiedBy}), nil
	case RecordPlacementSearch:
		if err := mustBeOpen(r, "record a placement search"); err != nil {
			return nil, err
		}
		if !SearchTracks.Has(c.Track) {
			return nil, invalid("track", "the search track must be one of %s", strings.Join(SearchTracks.List(), ", "))
		}
		if c.OffersFound == nil || *c.OffersFound < 0 || *c.OffersFound > MaxOffers {
			return nil, invalid("offersFound", "give the number of offers found (0 to %d)", MaxOffers)
		}
		if *c.OffersFound == 0 && len(c.PlacementTypes) > 0 {
			return nil, invalid("placementTypes", "no offers were found, so no placement types can have been offered")
		}
		for _, p := range c.PlacementTypes {
			if !PlacementTypes.Has(p) {
				return nil, invalid("placementTypes", "%q is not an SSDA903 placement type code", p)
			}
		}
		return one(now, events.PlacementSearched{Track: c.Track, OffersFound: *c.OffersFound, PlacementTypes: c.PlacementTypes}), nil
	case RequestAgeAssessment:
		if err := mustBeOpen(r, "request an age assessment"); err != nil {
			return nil, err
		}
		if !AgeAssessmentMethods.Has(c.Method) {
			return nil, invalid("method", "the assessment method must be one of %s", strings.Join(AgeAssessmentMethods.List(), ", "))
		}
		if r.AgeAssessment == AgeRequested {
			return nil, illegal(CodeAgeAssessmentPending, "an age assessment is already in progress")
		}
		return one(now, events.AgeAssessmentRequested{Method: c.Method, Reason: c.Reason}), nil
	case RecordAgeAssessment:
		if err := mustBeOpen(r, "record an age assessment"); err != nil {
			return nil, err
		}
		if !AgeAssessmentMethods.Has(c.Method) {
			return nil, invalid("method", "the assessment method must be one of %s", strings.Join(AgeAssessmentMethods.List(), ", "))
		}
		if c.Outcome != events.AgeOutcomeChild && c.Outcome != events.AgeOutcomeAdult {
			return nil, invalid("outcome", "the outcome must be %q or %q", events.AgeOutcomeChild, events.AgeOutcomeAdult)
		}
		if c.AssessedDateOfBirth != "" {
			if _, err := pastDate(c.AssessedDateOfBirth, now); err != nil {
				return nil, invalid("assessedDateOfBirth", "%v", err)
			}
		}
		if r.AgeAssessment != AgeRequested {
			return nil, illegal(CodeNoAgeAssessmentRequested, "no age assessment was requested for this referral")
		}
		evs := one(now, events.AgeAssessed{Method: c.Method, Outcome: c.Outcome, AssessedDateOfBirth: c.AssessedDateOfBirth})
		if c.Outcome == events.AgeOutcomeAdult {
			// Assessed as an adult: the child leaves the children's scheme,
			// in the same commit, so no reader ever sees one without the other.
			evs = append(evs, one(now, events.ReferralWithdrawn{Reason: "assessed-adult", Detail: "assessed as an adult by " + c.Method})...)
		}
		return evs, nil
	case Place:
		if r.Status == StatusPlaced || r.Status == StatusLeftCare {
			return nil, illegal(CodeAlreadyPlaced, "the child was already placed on %s", r.PlacedAt.Format(time.DateOnly))
		}
		if err := mustBeOpen(r, "place the child"); err != nil {
			return nil, err
		}
		if !PlacementTypes.Has(c.PlacementType) {
			return nil, invalid("placementType", "%q is not an SSDA903 placement type code (for example U1-U6 foster, K2 children's home, H5 semi-independent)", c.PlacementType)
		}
		if blank(c.Provider) {
			return nil, invalid("provider", "name the placement provider")
		}
		if c.PlacedAt.IsZero() {
			return nil, invalid("placedAt", "say when the child was placed")
		}
		if c.PlacedAt.Before(r.ReceivedAt) {
			return nil, invalid("placedAt", "the placement (%s) cannot be before the referral was received (%s, London time)", londonMinute(c.PlacedAt), londonMinute(r.ReceivedAt))
		}
		if c.PlacedAt.After(now.Add(ClockSkew)) {
			return nil, invalid("placedAt", "the placement time is in the future")
		}
		return []events.Event{{Type: events.TypeReferralPlaced, OccurredAt: c.PlacedAt, Data: events.ReferralPlaced{PlacementType: c.PlacementType, Provider: c.Provider, PlacedAt: c.PlacedAt}}}, nil
	case AcceptAllocation:
		if err := mustAwaitAnswer(r, c.Authority, "accept"); err != nil {
			return nil, err
		}
		d := r.referred
		received := events.ReferralReceived{
			ReferralID: d.ReferralID, ReceivingAuthority: r.AllocatedTo, Route: d.Route,
			TransferringAuthority: d.TransferringAuthority, Hotel: d.Hotel, ChildReference: d.ChildReference,
			ClaimedAge: d.ClaimedAge, DateOfBirth: d.DateOfBirth, Sex: d.Sex, Nationality: d.Nationality,
			Languages: d.Languages, Needs: d.Needs,
		}
		// Received, for every reader downstream, as of the referral into
		// the scheme: the transfer clock ran from then.
		return []events.Event{events.New(now, events.AllocationAccepted{Authority: r.AllocatedTo}), events.New(r.ReceivedAt, received)}, nil
	case RaiseAllocationException:
		if err := mustAwaitAnswer(r, c.Authority, "raise an exception to"); err != nil {
			return nil, err
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "say why this authority cannot take this child, so the partnership can allocate well")
		}
		return one(now, events.AllocationException{Authority: r.AllocatedTo, Reason: c.Reason}), nil
	case RecordAllocationReminder:
		if r.Status != StatusAwaitingAcceptance || !c.RespondBy.Equal(r.RespondBy) {
			return nil, illegal(CodeNotAwaitingAcceptance, "no answer is awaited for this allocation")
		}
		if r.Reminded {
			return nil, illegal(CodeAlreadyReminded, "the contact was already reminded")
		}
		return one(now, events.AllocationReminded{Authority: r.AllocatedTo, RespondBy: r.RespondBy}), nil
	case RecordAllocationEscalation:
		if r.Status != StatusAwaitingAcceptance || !c.RespondBy.Equal(r.RespondBy) {
			return nil, illegal(CodeNotAwaitingAcceptance, "no answer is awaited for this allocation")
		}
		if r.AllocationEscalated {
			return nil, illegal(CodeAlreadyEscalated, "the missed response is already escalated")
		}
		if c.EscalatedTo == "" {
			return nil, invalid("escalatedTo", "an escalation names who must now act")
		}
		return one(now, events.AllocationEscalated{Authority: r.AllocatedTo, RespondBy: r.RespondBy, EscalatedTo: c.EscalatedTo}), nil
	case Withdraw:
		if r.Status == StatusPlaced {
			return nil, illegal(CodeAlreadyPlaced, "the child is placed; record that they left care instead of withdrawing the referral")
		}
		if err := mustBeRunning(r, "withdraw the referral"); err != nil {
			return nil, err
		}
		if !WithdrawalReasons.Has(c.Reason) {
			return nil, invalid("reason", "the reason must be one of %s", strings.Join(WithdrawalReasons.List(), ", "))
		}
		return one(now, events.ReferralWithdrawn{Reason: c.Reason, Detail: c.Detail}), nil
	case RecordLeftCare:
		if r.Status != StatusPlaced {
			return nil, illegal(CodeNotPlaced, "only a placed child can leave care; this referral is %s", r.Status)
		}
		if !LeftCareReasons.Has(c.Reason) {
			return nil, invalid("reason", "the reason must be one of %s", strings.Join(LeftCareReasons.List(), ", "))
		}
		if c.LeftAt.IsZero() || c.LeftAt.Before(r.PlacedAt) {
			return nil, invalid("leftAt", "the child cannot leave care before the placement began (%s, London time)", londonMinute(r.PlacedAt))
		}
		if c.LeftAt.After(now.Add(ClockSkew)) {
			return nil, invalid("leftAt", "the date of leaving care is in the future")
		}
		return []events.Event{{Type: events.TypeChildLeftCare, OccurredAt: c.LeftAt, Data: events.ChildLeftCare{LeftAt: c.LeftAt, Reason: c.Reason}}}, nil
	case CorrectChildDetail:
		return correct(r, c, now)
	case RecordSubjectAccess:
		if c.Events < 1 {
			return nil, invalid("events", "a subject access export holds at least the referral's first event")
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "say why the record is exported (the request it answers)")
		}
		return one(now, events.SubjectAccessExported{Events: c.Events, Reason: c.Reason}), nil
	case SetDeadline:
		if !r.DueAt.IsZero() {
			return nil, illegal(CodeDeadlineAlreadySet, "the deadline was already set (due %s)", r.DueAt.Format(time.RFC3339))
		}
		d := c.Deadline
		if d.DueAt.IsZero() || d.WarningAt.IsZero() || d.Policy == "" {
			return nil, invalid("deadline", "a deadline needs a due time, a warning time and the policy that set them")
		}
		if d.DueAt.Before(r.ReceivedAt) {
			return nil, invalid("deadline", "the deadline cannot be before the referral was received")
		}
		return one(now, d), nil
	case RecordDeadlineEscalation:
		if !r.Open() {
			return nil, illegal(CodeClosed, "the referral is %s: no deadline runs", r.Status)
		}
		if !r.Breached {
			return nil, illegal(CodeNotBreached, "only a breached deadline is escalated")
		}
		if r.EscalatedTo == c.EscalatedTo {
			return nil, illegal(CodeAlreadyEscalated, "the breach is already escalated to %s", c.EscalatedTo)
		}
		return one(now, events.DeadlineEscalated{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	case RecordDeadlineWarning:
		if !r.Open() {
			return nil, illegal(CodeClosed, "the referral is %s: no deadline runs", r.Status)
		}
		if r.Warned || r.Breached {
			return nil, illegal(CodeAlreadyWarned, "the deadline warning is already on record")
		}
		return one(now, events.DeadlineWarning{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	case RecordDeadlineBreach:
		if !r.Open() {
			return nil, illegal(CodeClosed, "the referral is %s: no deadline runs", r.Status)
		}
		if r.Breached {
			return nil, illegal(CodeAlreadyBreached, "the breach is already on record")
		}
		if c.EscalatedTo == "" {
			return nil, invalid("escalatedTo", "a breach must name who must now act")
		}
		return one(now, events.DeadlineBreached{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	}
	return nil, fmt.Errorf("referral: unknown command %T", cmd)
}

func receive(r Referral, c ReceiveReferral, now time.Time) ([]events.Event, error) {
	if r.Status != StatusNone {
		return nil, illegal(CodeAlreadyReceived, "this referral was already received on %s", r.ReceivedAt.Format(time.DateOnly))
	}
	if !events.ValidID(c.ReferralID) {
		return nil, invalid("referralId", "a referral id is 1 to 64 letters, digits, '-' or '_'")
	}
	referred := c.Region != ""
	switch {
	case referred && c.ReceivingAuthority != "":
		return nil, invalid("region", "give receivingAuthority (a referral already received) or region (a referral into the scheme for its partnership to allocate), not both")
	case referred:
		if reg, ok := refdata.RegionByName(c.Region); !ok || refdata.Slug(reg) != c.Region {
			return nil, invalid("region", "%q is not a region's slug (%s)", c.Region, strings.Join(regionSlugs(), ", "))
		}
	case !ValidAuthorityCode(c.ReceivingAuthority):
		return nil, invalid("receivingAuthority", "%q is not the ONS code of an English authority with children's services (E06, E08, E09 or E10 and six digits)", c.ReceivingAuthority)
	}
	switch c.Route {
	case events.RouteHotel:
		if blank(c.Hotel) {
			return nil, invalid("hotel", "a referral on the hotel route names the hotel")
		}
		if c.TransferringAuthority != "" {
			return nil, invalid("transferringAuthority", "a referral on the hotel route comes from a hotel, not an authority")
		}
	case events.RouteEntryAuthority:
		if !ValidAuthorityCode(c.TransferringAuthority) {
			return nil, invalid("transferringAuthority", "a referral on the entry-authority route names the transferring authority's ONS code")
		}
		if c.TransferringAuthority == c.ReceivingAuthority {
			return nil, invalid("transferringAuthority", "an authority cannot transfer a child to itself")
		}
		if c.Hotel != "" {
			return nil, invalid("hotel", "a referral on the entry-authority route comes from an authority, not a hotel")
		}
	default:
		return nil, invalid("route", "the route must be %q or %q", events.RouteHotel, events.RouteEntryAuthority)
	}
	if blank(c.ChildReference) {
		return nil, invalid("childReference", "give the child's pseudonymous reference (1 to 64 characters)")
	}
	if c.ReceivedAt.IsZero() {
		return nil, invalid("receivedAt", "say when the referral was received")
	}
	if c.ReceivedAt.Before(SchemeStart) {
		return nil, invalid("receivedAt", "%s is before the National Transfer Scheme began (1 July 2016)", c.ReceivedAt.Format(time.DateOnly))
	}
	if c.ReceivedAt.After(now.Add(ClockSkew)) {
		return nil, invalid("receivedAt", "the time of receipt is in the future")
	}
	if c.ClaimedAge != nil && (*c.ClaimedAge < 0 || *c.ClaimedAge > 17) {
		return nil, invalid("claimedAge", "the scheme is for children: a claimed age is 0 to 17")
	}
	if c.DateOfBirth != "" {
		dob, err := pastDate(c.DateOfBirth, now)
		if err != nil {
			return nil, invalid("dateOfBirth", "%v", err)
		}
		if !dob.AddDate(18, 0, 0).After(c.ReceivedAt) {
			return nil, invalid("dateOfBirth", "by this date of birth the young person was 18 or over when referred: not a referral for the children's scheme")
		}
	}
	if c.Sex != "" && !Sexes.Has(c.Sex) {
		return nil, invalid("sex", "sex must be one of %s", strings.Join(Sexes.List(), ", "))
	}
	if referred {
		d := events.ReferralReferred{
			ReferralID: c.ReferralID, Region: c.Region, Route: c.Route, ReferringParty: c.TransferringAuthority,
			TransferringAuthority: c.TransferringAuthority, Hotel: c.Hotel, ChildReference: c.ChildReference,
			DateOfBirth: c.DateOfBirth, Sex: c.Sex, Nationality: c.Nationality, Languages: c.Languages, Needs: c.Needs,
		}
		if c.Route == events.RouteHotel {
			d.ReferringParty = events.ReferringPartyHomeOffice
		}
		if c.ClaimedAge != nil {
			d.ClaimedAge = *c.ClaimedAge
		}
		return []events.Event{events.New(c.ReceivedAt, d)}, nil
	}
	d := events.ReferralReceived{
		ReferralID: c.ReferralID, ReceivingAuthority: c.ReceivingAuthority, Route: c.Route,
		TransferringAuthority: c.TransferringAuthority, Hotel: c.Hotel, ChildReference: c.ChildReference,
		DateOfBirth: c.DateOfBirth, Sex: c.Sex, Nationality: c.Nationality, Languages: c.Languages, Needs: c.Needs,
	}
	if c.ClaimedAge != nil {
		d.ClaimedAge = *c.ClaimedAge
	}
	return []events.Event{events.New(c.ReceivedAt, d)}, nil
}

// DeadlineRule is the deadline of a referral received (or referred into
// the scheme) at receivedAt on route: package sagas/deadline's policy,
// passed in as a function so that this package does not depend on it.
type DeadlineRule func(route string, receivedAt time.Time) (events.DeadlineSet, error)

// ReferralsSettingDeadlines is the referral decider that also records the
// deadline in the commit that starts the transfer clock (the receipt, or
// the referral into the scheme). The rule is pure and known at receipt, so
// the deadline needs no commit of its own: the deadline saga finds it set
// and only arms its timer (it still sets deadlines the receipt did not
// carry, such as those of referrals recorded before this).
func ReferralsSettingDeadlines(rule DeadlineRule) Decider[Referral, Command] {
	d := Referrals
	d.Decide = func(r Referral, cmd Command, now time.Time) ([]events.Event, error) {
		evs, err := Decide(r, cmd, now)
		c, receipt := cmd.(ReceiveReferral)
		if err != nil || !receipt || rule == nil {
			return evs, err
		}
		dl, err := rule(c.Route, c.ReceivedAt)
		if err != nil {
			// The route was checked above, so the policy lacks a rule the
			// scheme has: a configuration fault, not the caller's.
			return nil, fmt.Errorf("the deadline policy cannot set this referral's deadline: %w", err)
		}
		return append(evs, events.New(now, dl)), nil
	}
	return d
}

// Resolve checks the referral's authority codes against the reference
// data: a code no authority with children's services has is refused, and
// an authority's earlier code (before a boundary change) becomes its
// current one. Codes of the wrong shape are left for Decide to refuse.
func (c ReceiveReferral) Resolve(reg *refdata.Registry) (ReceiveReferral, error) {
	for _, f := range []struct {
		name string
		code *string
	}{{"receivingAuthority", &c.ReceivingAuthority}, {"transferringAuthority", &c.TransferringAuthority}} {
		if !ValidAuthorityCode(*f.code) {
			continue
		}
		cur, ok := reg.Canonical(*f.code)
		if !ok {
			return c, &Refusal{Kind: Invalid, Code: CodeUnknownAuthority, Field: f.name,
				Message: fmt.Sprintf("%s is not an authority with children's services in the reference data", *f.code)}
		}
		*f.code = cur
	}
	return c, nil
}

func mustBeOpen(r Referral, doing string) error {
	switch r.Status {
	case StatusOpen:
		return nil
	case StatusAwaitingAllocation, StatusAwaitingAcceptance:
		return illegal(CodeNotReceived, "cannot %s: the referral is %s; an authority must accept it first", doing, r.Status)
	case StatusWithdrawn:
		return illegal(CodeWithdrawn, "cannot %s: the referral was withdrawn (%s)", doing, r.WithdrawnReason)
	case StatusPlaced:
		return illegal(CodeAlreadyPlaced, "cannot %s: the child was placed on %s", doing, r.PlacedAt.Format(time.DateOnly))
	case StatusLeftCare:
		return illegal(CodeLeftCare, "cannot %s: the child has left care", doing)
	}
	return illegal(CodeNotFound, "there is no referral with this id")
}

func regionSlugs() []string {
	out := make([]string, len(refdata.Regions))
	for i, r := range refdata.Regions {
		out[i] = refdata.Slug(r)
	}
	return out
}

// mustBeRunning: the transfer clock runs (the referral may await
// allocation or acceptance).
func mustBeRunning(r Referral, doing string) error {
	if r.Status.Running() {
		return nil
	}
	return mustBeOpen(r, doing)
}

// mustAwaitAnswer: the referral is allocated, and (when the shell names
// one) to the answering authority. Only an allocation awaiting its answer
// can be answered: a referral already received (by acceptance, or directly)
// has nothing to accept, and answering it again would record a second
// receipt carrying no referral of its own.
func mustAwaitAnswer(r Referral, authority, doing string) error {
	switch r.Status {
	case StatusAwaitingAcceptance:
		if authority != "" && authority != r.AllocatedTo {
			return illegal(CodeNotAllocatedToYou, "cannot %s the allocation: the referral is allocated to %s", doing, r.AllocatedTo)
		}
		return nil
	case StatusAwaitingAllocation:
		return illegal(CodeNotAwaitingAcceptance, "cannot %s the allocation: the referral awaits allocation", doing)
	case StatusOpen:
		if r.referred.ReferralID == "" {
			return illegal(CodeNotAwaitingAcceptance, "cannot %s an allocation: %s received this referral directly; it was never allocated", doing, r.ReceivingAuthority)
		}
		return illegal(CodeNotAwaitingAcceptance, "cannot %s the allocation: %s already accepted it on %s", doing, r.ReceivingAuthority, calendar.DateOf(r.AcceptedAt))
	}
	return mustBeOpen(r, doing+" the allocation")
}

// present reports whether s has any visible text.
func present(s string) bool {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) != ""
}

func pastDate(s string, now time.Time) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	if d.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the future", s)
	}
	if d.Year() < 1990 {
		return time.Time{}, fmt.Errorf("%s is too far in the past for a child in the scheme", s)
	}
	return d, nil
}

func one(now time.Time, p events.Payload) []events.Event {
	return []events.Event{events.New(now, p)}
}

// Evolve folds one event into the state. It never fails: an event is a fact.
// Events this build cannot read are remembered, so Decide can refuse to act
// on a history it does not fully understand.
func Evolve(r Referral, e events.Event) Referral {
	r.Version++
	r.Status = NextStatus(r.Status, e)
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		if r.ReceivingAuthority != "" {
			// A referral is received once. Before issue 21 a repeated
			// acceptance recorded a second, empty receipt: the fold keeps
			// the identity the first one established.
			break
		}
		r.ID = d.ReferralID
		r.ReceivingAuthority = d.ReceivingAuthority
		r.Route = d.Route
		r.ChildReference = d.ChildReference
		r.ReceivedAt = e.OccurredAt
		r.AllocatedTo = ""
		if r.Corrections == 0 {
			// An acceptance's receipt repeats the referral into the
			// scheme; a correction made while it awaited allocation stands.
			r.DateOfBirth, r.Sex, r.Nationality = d.DateOfBirth, d.Sex, d.Nationality
		}
	case events.ProfessionalsNotified:
		r.Professions = append(slices.Clip(r.Professions), d.Professions...)
	case events.PlacementSearched:
		r.Searches++
		r.OffersFound += d.OffersFound
	case events.AgeAssessmentRequested:
		r.AgeAssessment = AgeRequested
	case events.AgeAssessed:
		if d.Outcome == events.AgeOutcomeAdult {
			r.AgeAssessment = AgeAdult
		} else {
			r.AgeAssessment = AgeChild
		}
	case events.ReferralPlaced:
		r.PlacedAt = d.PlacedAt
		r.PlacementType = d.PlacementType
	case events.ReferralWithdrawn:
		r.WithdrawnReason = d.Reason
	case events.ChildLeftCare:
		r.LeftCareAt = d.LeftAt
	case events.DeadlineSet:
		r.DeadlinePolicy = d.Policy
		r.DueAt = d.DueAt
		r.WarningAt = d.WarningAt
		r.EscalateAt = d.EscalateAt
	case events.DeadlineWarning:
		r.Warned = true
	case events.DeadlineBreached:
		r.Breached = true
		r.EscalatedTo = d.EscalatedTo
	case events.DeadlineEscalated:
		r.EscalatedTo = d.EscalatedTo
	case events.ReferralReferred:
		r.ID = d.ReferralID
		r.Region = d.Region
		r.Route = d.Route
		r.ChildReference = d.ChildReference
		r.ReceivedAt = e.OccurredAt
		r.referred = d
		r.DateOfBirth, r.Sex, r.Nationality = d.DateOfBirth, d.Sex, d.Nationality
	case events.ChildDetailCorrected:
		r.Corrections++
		switch d.Field {
		case FieldDateOfBirth:
			r.DateOfBirth = d.NewValue
			r.referred.DateOfBirth = d.NewValue
		case FieldSex:
			r.Sex = d.NewValue
			r.referred.Sex = d.NewValue
		case FieldNationality:
			r.Nationality = d.NewValue
			r.referred.Nationality = d.NewValue
		}
	case events.ReferralAllocated:
		r.AllocatedTo, r.AllocationPosition, r.RespondBy, r.AllocatedAt = d.Authority, d.Position, d.RespondBy, e.OccurredAt
		r.Reminded, r.AllocationEscalated = false, false
	case events.AllocationException:
		r.Declined = append(slices.Clip(r.Declined), d.Authority)
		r.AllocatedTo, r.RespondBy = "", time.Time{}
	case events.AllocationAccepted:
		if r.AcceptedAt.IsZero() {
			r.RespondBy = time.Time{}
			r.AcceptedAt = e.OccurredAt
		}
	case events.AllocationReminded:
		r.Reminded = true
	case events.AllocationEscalated:
		r.AllocationEscalated = true
	case events.Unknown:
		r.Unreadable = append(slices.Clip(r.Unreadable), e.Type)
	}
	return r
}

// Fold replays a referral's events into its state.
func Fold(evs []events.Event) Referral { return Referrals.Fold(evs) }

func checkReferralID(id string) error {
	if !events.ValidID(id) {
		return invalid("id", "a referral id is 1 to 64 letters, digits, '-' or '_'")
	}
	return nil
}

// Rectification: which facts about the child may be corrected, and by whom.

// The fields a correction may name.
const (
	FieldDateOfBirth = "dateOfBirth"
	FieldSex         = "sex"
	FieldNationality = "nationality"
)

// Who corrects, as the shell names the caller's capacity.
const (
	// CorrectorAuthority: the authority that holds the referral (or the
	// partnership, while the referral awaits allocation): the people who
	// know the child.
	CorrectorAuthority = "authority"
	// CorrectorDataProtection: the data protection officer, acting on the
	// child's (or their representative's) request to rectify.
	CorrectorDataProtection = "data-protection"
)

// Correctable says which fields may be corrected and who may correct each.
// The child's reference is not among them: it is how the Home Office and
// both authorities name the child, and an aggregate never changes the
// identity it established (issue 21: a referral that lost its child
// reference lost its child). A wrong reference is a referral withdrawn as
// an error and received again. The date of birth is the authority's alone:
// it moves the leaving-care milestones and the age the scheme judges by,
// so it is corrected on the evidence the social worker holds, not on a
// request alone.
var Correctable = map[string][]string{
	FieldDateOfBirth: {CorrectorAuthority},
	FieldSex:         {CorrectorAuthority, CorrectorDataProtection},
	FieldNationality: {CorrectorAuthority, CorrectorDataProtection},
}

// CorrectableFields lists Correctable's fields, in a fixed order.
func CorrectableFields() []string { return []string{FieldDateOfBirth, FieldSex, FieldNationality} }

func correct(r Referral, c CorrectChildDetail, now time.Time) ([]events.Event, error) {
	who, ok := Correctable[c.Field]
	if !ok {
		return nil, invalid("field", "%q cannot be corrected; the fields that can are %s (the child's reference is how everyone names the child, so a wrong one means withdrawing the referral as an error)", c.Field, strings.Join(CorrectableFields(), ", "))
	}
	if !slices.Contains(who, c.Corrector) {
		return nil, illegal(CodeNotYourCorrection, "the %s is corrected by %s only", fieldWords[c.Field], correctorWords(who))
	}
	if !present(c.Reason) {
		return nil, invalid("reason", "say why the %s is wrong and where the right one comes from", fieldWords[c.Field])
	}
	v := c.NewValue
	switch c.Field {
	case FieldDateOfBirth:
		if r.AgeAssessment == AgeRequested {
			return nil, illegal(CodeAgeAssessmentPending, "an age assessment is in progress: its outcome decides the date of birth")
		}
		dob, err := pastDate(v, now)
		if err != nil {
			return nil, invalid("newValue", "%v", err)
		}
		if !dob.AddDate(18, 0, 0).After(r.ReceivedAt) {
			return nil, invalid("newValue", "by this date of birth the young person was 18 or over when referred; if so, record an age assessment instead")
		}
	case FieldSex:
		if !Sexes.Has(v) {
			return nil, invalid("newValue", "sex must be one of %s", strings.Join(Sexes.List(), ", "))
		}
	case FieldNationality:
		if p := TextProblem(v, 100); p != "" {
			return nil, invalid("newValue", "the nationality %s (at most 100 characters)", p)
		}
	}
	if v == r.detail(c.Field) {
		return nil, illegal(CodeAlreadyRecorded, "the %s on record is already %q", fieldWords[c.Field], v)
	}
	return one(now, events.ChildDetailCorrected{Field: c.Field, NewValue: v, Reason: c.Reason, Corrector: c.Corrector}), nil
}

var fieldWords = map[string]string{FieldDateOfBirth: "date of birth", FieldSex: "sex", FieldNationality: "nationality"}

func correctorWords(who []string) string {
	var out []string
	for _, w := range who {
		out = append(out, map[string]string{CorrectorAuthority: "the authority that holds the referral", CorrectorDataProtection: "the data protection officer"}[w])
	}
	return strings.Join(out, " or ")
}

// detail is the referral's current value of a correctable field.
func (r Referral) detail(field string) string {
	switch field {
	case FieldDateOfBirth:
		return r.DateOfBirth
	case FieldSex:
		return r.Sex
	case FieldNationality:
		return r.Nationality
	}
	return ""
}

// londonMinute is a moment as the person who sent the command reads it: a
// refusal is shown on a form as well as in the API's detail.
func londonMinute(t time.Time) string { return t.In(calendar.London).Format("2 January 2006, 15:04") }
