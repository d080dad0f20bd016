package aggregates

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The referral's rules, all of them, in this file.

// Status of a referral.
type Status string

// Statuses. A referral starts open and ends placed (then, later, left care)
// or withdrawn.
const (
	StatusNone      Status = ""
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
	ReceivedAt         time.Time // occurred-at of referral.received
	Professions        []string  // notified so far, in order
	Searches           int
	OffersFound        int
	AgeAssessment      string
	PlacedAt           time.Time
	PlacementType      string
	WithdrawnReason    string
	LeftCareAt         time.Time
	// The deadline, as the deadline saga set it on receipt.
	DeadlinePolicy string
	DueAt          time.Time
	WarningAt      time.Time
	EscalateAt     time.Time
	Warned         bool
	Breached       bool
	EscalatedTo    string   // who must act on the breach now
	Unreadable     []string // types of events this build cannot read
}

// Open reports whether the referral still runs against its deadline.
func (r Referral) Open() bool { return r.Status == StatusOpen }

// Commands. Each is plain data, decoded from the API or issued by a saga.
type (
	// ReceiveReferral opens a referral.
	ReceiveReferral struct {
		ReferralID            string    `json:"-"`
		ReceivingAuthority    string    `json:"receivingAuthority"`
		Route                 string    `json:"route"`
		TransferringAuthority string    `json:"transferringAuthority,omitempty"`
		Hotel                 string    `json:"hotel,omitempty"`
		ChildReference        string    `json:"childReference"`
		ClaimedAge            *int      `json:"claimedAge,omitempty"`
		DateOfBirth           string    `json:"dateOfBirth,omitempty"`
		Sex                   string    `json:"sex,omitempty"`
		Nationality           string    `json:"nationality,omitempty"`
		Languages             []string  `json:"languages,omitempty"`
		Needs                 []string  `json:"needs,omitempty"`
		ReceivedAt            time.Time `json:"receivedAt"`
	}
	// NotifyProfessionals records that the referral form went out.
	NotifyProfessionals struct {
		Professions []string `json:"professions"`
		NotifiedBy  string   `json:"notifiedBy"`
	}
	// RecordPlacementSearch records one search step on one track.
	RecordPlacementSearch struct {
		Track          string   `json:"track"`
		OffersFound    *int     `json:"offersFound"`
		PlacementTypes []string `json:"placementTypes,omitempty"`
	}
	// RequestAgeAssessment records that the child's age is disputed.
	RequestAgeAssessment struct {
		Method string `json:"method"`
		Reason string `json:"reason,omitempty"`
	}
	// RecordAgeAssessment records the outcome of an age assessment.
	RecordAgeAssessment struct {
		Method              string `json:"method"`
		Outcome             string `json:"outcome"`
		AssessedDateOfBirth string `json:"assessedDateOfBirth,omitempty"`
	}
	// Place records that the child is in a placement.
	Place struct {
		PlacementType string    `json:"placementType"`
		Provider      string    `json:"provider"`
		PlacedAt      time.Time `json:"placedAt"`
	}
	// Withdraw ends the referral without a placement.
	Withdraw struct {
		Reason string `json:"reason"`
		Detail string `json:"detail,omitempty"`
	}
	// RecordLeftCare records that a placed child has left care.
	RecordLeftCare struct {
		LeftAt time.Time `json:"leftAt"`
		Reason string    `json:"reason"`
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

// Command is any of the referral's commands.
type Command interface{ CommandName() string }

func (ReceiveReferral) CommandName() string          { return "receive-referral" }
func (NotifyProfessionals) CommandName() string      { return "notify-professionals" }
func (RecordPlacementSearch) CommandName() string    { return "record-placement-search" }
func (RequestAgeAssessment) CommandName() string     { return "request-age-assessment" }
func (RecordAgeAssessment) CommandName() string      { return "record-age-assessment" }
func (Place) CommandName() string                    { return "place" }
func (Withdraw) CommandName() string                 { return "withdraw" }
func (RecordLeftCare) CommandName() string           { return "record-left-care" }
func (SetDeadline) CommandName() string              { return "set-deadline" }
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
			return nil, illegal("not_found", "there is no referral with this id")
		}
		if len(r.Unreadable) > 0 {
			return nil, illegal("unreadable_history", "this referral has events this engine cannot read (%s); upgrade the engine before changing it", strings.Join(r.Unreadable, ", "))
		}
	}
	if err := checkText(cmd); err != nil {
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
			if !Professions[p] {
				return nil, invalid("professions", "%q is not a profession we notify (%s)", p, strings.Join(Professions.List(), ", "))
			}
			if !slices.Contains(r.Professions, p) && !slices.Contains(fresh, p) {
				fresh = append(fresh, p)
			}
		}
		if len(fresh) == 0 {
			return nil, illegal("already_notified", "every profession named has already been notified")
		}
		if blank(c.NotifiedBy) {
			return nil, invalid("notifiedBy", "say who sent the referral form")
		}
		return one(events.TypeProfessionalsNotified, now, events.ProfessionalsNotified{Professions: fresh, NotifiedBy: c.NotifiedBy}), nil
	case RecordPlacementSearch:
		if err := mustBeOpen(r, "record a placement search"); err != nil {
			return nil, err
		}
		if !SearchTracks[c.Track] {
			return nil, invalid("track", "the search track must be one of %s", strings.Join(SearchTracks.List(), ", "))
		}
		if c.OffersFound == nil || *c.OffersFound < 0 || *c.OffersFound > MaxOffers {
			return nil, invalid("offersFound", "give the number of offers found (0 to %d)", MaxOffers)
		}
		if *c.OffersFound == 0 && len(c.PlacementTypes) > 0 {
			return nil, invalid("placementTypes", "no offers were found, so no placement types can have been offered")
		}
		for _, p := range c.PlacementTypes {
			if !PlacementTypes[p] {
				return nil, invalid("placementTypes", "%q is not an SSDA903 placement type code", p)
			}
		}
		return one(events.TypePlacementSearched, now, events.PlacementSearched{Track: c.Track, OffersFound: *c.OffersFound, PlacementTypes: c.PlacementTypes}), nil
	case RequestAgeAssessment:
		if err := mustBeOpen(r, "request an age assessment"); err != nil {
			return nil, err
		}
		if !AgeAssessmentMethods[c.Method] {
			return nil, invalid("method", "the assessment method must be one of %s", strings.Join(AgeAssessmentMethods.List(), ", "))
		}
		if r.AgeAssessment == AgeRequested {
			return nil, illegal("age_assessment_pending", "an age assessment is already in progress")
		}
		return one(events.TypeAgeAssessmentRequested, now, events.AgeAssessmentRequested{Method: c.Method, Reason: c.Reason}), nil
	case RecordAgeAssessment:
		if err := mustBeOpen(r, "record an age assessment"); err != nil {
			return nil, err
		}
		if !AgeAssessmentMethods[c.Method] {
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
			return nil, illegal("no_age_assessment_requested", "no age assessment was requested for this referral")
		}
		evs := one(events.TypeAgeAssessed, now, events.AgeAssessed{Method: c.Method, Outcome: c.Outcome, AssessedDateOfBirth: c.AssessedDateOfBirth})
		if c.Outcome == events.AgeOutcomeAdult {
			// Assessed as an adult: the child leaves the children's scheme,
			// in the same commit, so no reader ever sees one without the other.
			evs = append(evs, one(events.TypeReferralWithdrawn, now, events.ReferralWithdrawn{Reason: "assessed-adult", Detail: "assessed as an adult by " + c.Method})...)
		}
		return evs, nil
	case Place:
		if r.Status == StatusPlaced || r.Status == StatusLeftCare {
			return nil, illegal("already_placed", "the child was already placed on %s", r.PlacedAt.Format(time.DateOnly))
		}
		if err := mustBeOpen(r, "place the child"); err != nil {
			return nil, err
		}
		if !PlacementTypes[c.PlacementType] {
			return nil, invalid("placementType", "%q is not an SSDA903 placement type code (for example U1-U6 foster, K2 children's home, H5 semi-independent)", c.PlacementType)
		}
		if blank(c.Provider) {
			return nil, invalid("provider", "name the placement provider")
		}
		if c.PlacedAt.IsZero() {
			return nil, invalid("placedAt", "say when the child was placed")
		}
		if c.PlacedAt.Before(r.ReceivedAt) {
			return nil, invalid("placedAt", "the placement (%s) cannot be before the referral was received (%s)", c.PlacedAt.Format(time.RFC3339), r.ReceivedAt.Format(time.RFC3339))
		}
		if c.PlacedAt.After(now.Add(ClockSkew)) {
			return nil, invalid("placedAt", "the placement time is in the future")
		}
		return []events.Event{{Type: events.TypeReferralPlaced, OccurredAt: c.PlacedAt, Data: events.ReferralPlaced{PlacementType: c.PlacementType, Provider: c.Provider, PlacedAt: c.PlacedAt}}}, nil
	case Withdraw:
		if r.Status == StatusPlaced {
			return nil, illegal("already_placed", "the child is placed; record that they left care instead of withdrawing the referral")
		}
		if err := mustBeOpen(r, "withdraw the referral"); err != nil {
			return nil, err
		}
		if !WithdrawalReasons[c.Reason] {
			return nil, invalid("reason", "the reason must be one of %s", strings.Join(WithdrawalReasons.List(), ", "))
		}
		return one(events.TypeReferralWithdrawn, now, events.ReferralWithdrawn{Reason: c.Reason, Detail: c.Detail}), nil
	case RecordLeftCare:
		if r.Status != StatusPlaced {
			return nil, illegal("not_placed", "only a placed child can leave care; this referral is %s", r.Status)
		}
		if !LeftCareReasons[c.Reason] {
			return nil, invalid("reason", "the reason must be one of %s", strings.Join(LeftCareReasons.List(), ", "))
		}
		if c.LeftAt.IsZero() || c.LeftAt.Before(r.PlacedAt) {
			return nil, invalid("leftAt", "the child cannot leave care before the placement began (%s)", r.PlacedAt.Format(time.RFC3339))
		}
		if c.LeftAt.After(now.Add(ClockSkew)) {
			return nil, invalid("leftAt", "the date of leaving care is in the future")
		}
		return []events.Event{{Type: events.TypeChildLeftCare, OccurredAt: c.LeftAt, Data: events.ChildLeftCare{LeftAt: c.LeftAt, Reason: c.Reason}}}, nil
	case SetDeadline:
		if !r.DueAt.IsZero() {
			return nil, illegal("deadline_already_set", "the deadline was already set (due %s)", r.DueAt.Format(time.RFC3339))
		}
		d := c.Deadline
		if d.DueAt.IsZero() || d.WarningAt.IsZero() || d.Policy == "" {
			return nil, invalid("deadline", "a deadline needs a due time, a warning time and the policy that set them")
		}
		if d.DueAt.Before(r.ReceivedAt) {
			return nil, invalid("deadline", "the deadline cannot be before the referral was received")
		}
		return one(events.TypeDeadlineSet, now, d), nil
	case RecordDeadlineEscalation:
		if !r.Open() {
			return nil, illegal("closed", "the referral is %s: no deadline runs", r.Status)
		}
		if !r.Breached {
			return nil, illegal("not_breached", "only a breached deadline is escalated")
		}
		if r.EscalatedTo == c.EscalatedTo {
			return nil, illegal("already_escalated", "the breach is already escalated to %s", c.EscalatedTo)
		}
		return one(events.TypeDeadlineEscalated, now, events.DeadlineEscalated{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	case RecordDeadlineWarning:
		if !r.Open() {
			return nil, illegal("closed", "the referral is %s: no deadline runs", r.Status)
		}
		if r.Warned || r.Breached {
			return nil, illegal("already_warned", "the deadline warning is already on record")
		}
		return one(events.TypeDeadlineWarning, now, events.DeadlineWarning{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	case RecordDeadlineBreach:
		if !r.Open() {
			return nil, illegal("closed", "the referral is %s: no deadline runs", r.Status)
		}
		if r.Breached {
			return nil, illegal("already_breached", "the breach is already on record")
		}
		if c.EscalatedTo == "" {
			return nil, invalid("escalatedTo", "a breach must name who must now act")
		}
		return one(events.TypeDeadlineBreached, now, events.DeadlineBreached{Deadline: c.Deadline, WorkingDaysElapsed: c.WorkingDaysElapsed, EscalatedTo: c.EscalatedTo}), nil
	}
	return nil, fmt.Errorf("referral: unknown command %T", cmd)
}

func receive(r Referral, c ReceiveReferral, now time.Time) ([]events.Event, error) {
	if r.Status != StatusNone {
		return nil, illegal("already_received", "this referral was already received on %s", r.ReceivedAt.Format(time.DateOnly))
	}
	if !events.ValidID(c.ReferralID) {
		return nil, invalid("referralId", "a referral id is 1 to 64 letters, digits, '-' or '_'")
	}
	if !ValidAuthorityCode(c.ReceivingAuthority) {
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
	if c.Sex != "" && !Sexes[c.Sex] {
		return nil, invalid("sex", "sex must be one of %s", strings.Join(Sexes.List(), ", "))
	}
	d := events.ReferralReceived{
		ReferralID: c.ReferralID, ReceivingAuthority: c.ReceivingAuthority, Route: c.Route,
		TransferringAuthority: c.TransferringAuthority, Hotel: c.Hotel, ChildReference: c.ChildReference,
		DateOfBirth: c.DateOfBirth, Sex: c.Sex, Nationality: c.Nationality, Languages: c.Languages, Needs: c.Needs,
	}
	if c.ClaimedAge != nil {
		d.ClaimedAge = *c.ClaimedAge
	}
	return []events.Event{{Type: events.TypeReferralReceived, OccurredAt: c.ReceivedAt, Data: d}}, nil
}

func mustBeOpen(r Referral, doing string) error {
	switch r.Status {
	case StatusOpen:
		return nil
	case StatusWithdrawn:
		return illegal("withdrawn", "cannot %s: the referral was withdrawn (%s)", doing, r.WithdrawnReason)
	case StatusPlaced:
		return illegal("already_placed", "cannot %s: the child was placed on %s", doing, r.PlacedAt.Format(time.DateOnly))
	case StatusLeftCare:
		return illegal("left_care", "cannot %s: the child has left care", doing)
	}
	return illegal("not_found", "there is no referral with this id")
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

func one(eventType string, now time.Time, data any) []events.Event {
	return []events.Event{{Type: eventType, OccurredAt: now, Data: data}}
}

// Evolve folds one event into the state. It never fails: an event is a fact.
// Events this build cannot read are remembered, so Decide can refuse to act
// on a history it does not fully understand.
func Evolve(r Referral, e events.Event) Referral {
	r.Version++
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		r.ID = d.ReferralID
		r.Status = StatusOpen
		r.ReceivingAuthority = d.ReceivingAuthority
		r.Route = d.Route
		r.ReceivedAt = e.OccurredAt
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
		r.Status = StatusPlaced
		r.PlacedAt = d.PlacedAt
		r.PlacementType = d.PlacementType
	case events.ReferralWithdrawn:
		r.Status = StatusWithdrawn
		r.WithdrawnReason = d.Reason
	case events.ChildLeftCare:
		r.Status = StatusLeftCare
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
	case events.Unknown:
		r.Unreadable = append(slices.Clip(r.Unreadable), e.Type)
	}
	return r
}

// Fold replays events into a state.
func Fold(evs []events.Event) Referral {
	var r Referral
	for _, e := range evs {
		r = Evolve(r, e)
	}
	return r
}
