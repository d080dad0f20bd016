package aggregates

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
)

// The care aggregate's rules, all of them, in this file: the child's time
// in care after the transfer, one aggregate per referral (its id is the
// referral's). Missing episodes (statutory guidance on children who run
// away or go missing from home or care, DfE 2014: police told at once, a
// strategy discussion where there is risk of harm, an independent return
// interview offered within 72 hours of return) and the leaving-care
// milestones from the date of birth (16: the leaving-care team and a
// pathway plan; 17 and a half: triple planning; 18: a care leaver).
//
// What the rules weigh but the care aggregate does not own (the referral's
// status, authority and placement; the policy's times) the shell puts in
// the command, as the allocation does, so the decider stays pure.

// Care is the state a child's care events fold to.
type Care struct {
	ID        string
	Version   int
	Authority string
	Region    string
	Episodes  []Episode
	// The date of birth the milestones run from, and how it is known.
	DateOfBirth      string
	DOBBasis         string
	SixteenAt        time.Time
	TriplePlanningAt time.Time
	EighteenAt       time.Time
	LeaveToRemain    string // "" until recorded
	// The milestones recorded.
	LeavingCareInvolved bool
	PathwayPlanDueAt    time.Time
	TriplePlanned       bool
	CareLeaver          bool
	Accommodation       string
	Unreadable          []string
}

// Episode is one missing episode.
type Episode struct {
	N               int
	MissingAt       time.Time
	Early           bool
	StrategyDueAt   time.Time
	Notified        []string
	StrategyHeld    bool
	StrategyHeldAt  time.Time
	StrategyOverdue bool
	Returned        bool
	ReturnedAt      time.Time
	InterviewDueAt  time.Time
	InterviewWarnAt time.Time
	Offered         bool
	OfferedAt       time.Time
	OfferedInTime   bool
	Warned          bool
	Breached        bool
}

// Missing reports the open episode, if the child is missing now.
func (c Care) Missing() (Episode, bool) {
	if n := len(c.Episodes); n > 0 && !c.Episodes[n-1].Returned {
		return c.Episodes[n-1], true
	}
	return Episode{}, false
}

// Episode finds episode n (1-based); 0 is the latest.
func (c Care) Episode(n int) (Episode, bool) {
	if n == 0 {
		n = len(c.Episodes)
	}
	if n < 1 || n > len(c.Episodes) {
		return Episode{}, false
	}
	return c.Episodes[n-1], true
}

// ChildInCare is what the care rules read of the referral (the shell loads
// it): its status, receiving authority and region, and when the child was
// placed.
type ChildInCare struct {
	Status    Status
	Authority string
	Region    string
	PlacedAt  time.Time
}

// ChildOf gives the care rules' view of a referral.
func ChildOf(r Referral, region string) ChildInCare {
	return ChildInCare{Status: r.Status, Authority: r.ReceivingAuthority, Region: region, PlacedAt: r.PlacedAt}
}

// MissingRules are the safeguarding policy's times, as the rules weigh
// them (sagas/safeguarding's policy.json gives them).
type MissingRules struct {
	Policy          string
	EarlyWithinDays int
	StrategyWithin  time.Duration
	InterviewWithin time.Duration
	WarnBefore      time.Duration
}

// CareCommand is any of the care aggregate's commands.
type CareCommand interface {
	Command
	careCommand()
}

type (
	// ReportMissing: the child went missing from the placement, and the
	// police were told (their reference).
	ReportMissing struct {
		MissingAt       time.Time    `json:"missingAt"`
		LastSeen        string       `json:"lastSeen" limit:"max=500"`
		PoliceReference string       `json:"policeReference" limit:"max=100"`
		Child           ChildInCare  `json:"-"`
		Rules           MissingRules `json:"-"`
	}
	// RecordReturn: the child came back, or was found.
	RecordReturn struct {
		ReturnedAt time.Time    `json:"returnedAt"`
		WhereFound string       `json:"whereFound" limit:"max=500"`
		Rules      MissingRules `json:"-"`
	}
	// NotifySafeguarding: the saga tells the parties at once.
	NotifySafeguarding struct {
		Episode int      `json:"episode" limit:"min=1,max=1000"`
		Parties []string `json:"parties" limit:"items=10,max=50"`
	}
	// RecordStrategyDiscussion: the strategy discussion was held (no
	// Episode: the latest).
	RecordStrategyDiscussion struct {
		Episode   *int      `json:"episode,omitempty" limit:"min=1,max=1000"`
		HeldAt    time.Time `json:"heldAt"`
		Attendees []string  `json:"attendees" limit:"items=20,max=100"`
	}
	// RecordReturnInterview: a return interview was offered (no Episode:
	// the latest).
	RecordReturnInterview struct {
		Episode   *int      `json:"episode,omitempty" limit:"min=1,max=1000"`
		OfferedAt time.Time `json:"offeredAt"`
		OfferedBy string    `json:"offeredBy" limit:"max=200"`
		Accepted  bool      `json:"accepted"`
	}
	// RecordStrategyOverdue, RecordInterviewWarning, RecordInterviewBreach:
	// the saga's records when a time passes.
	RecordStrategyOverdue  struct{ Episode int }
	RecordInterviewWarning struct{ Episode int }
	RecordInterviewBreach  struct{ Episode int }

	// SetDateOfBirth: the date of birth the leaving-care milestones run
	// from: "YYYY-MM-DD", or "YYYY" alone, which the Home Office records
	// as 1 January of that year. Basis is DOBRecorded or DOBAssessed (the
	// assessed date stands over a recorded one).
	SetDateOfBirth struct {
		DateOfBirth string      `json:"dateOfBirth" limit:"max=10"`
		Basis       string      `json:"-"`
		Child       ChildInCare `json:"-"`
	}
	// RecordLeaveToRemain: the child's immigration status as now known.
	RecordLeaveToRemain struct {
		Status string `json:"status" limit:"max=20"`
	}
	// InvolveLeavingCare (at 16), RecordTriplePlanning (at 17 and a half)
	// and BecomeCareLeaver (at 18): the saga's milestones.
	InvolveLeavingCare struct {
		Child             ChildInCare
		PathwayPlanWithin time.Duration
	}
	RecordTriplePlanning struct{ Child ChildInCare }
	BecomeCareLeaver     struct{ Child ChildInCare }
)

func (ReportMissing) CommandName() string            { return "report-missing" }
func (RecordReturn) CommandName() string             { return "record-return" }
func (NotifySafeguarding) CommandName() string       { return "notify-safeguarding" }
func (RecordStrategyDiscussion) CommandName() string { return "record-strategy-discussion" }
func (RecordReturnInterview) CommandName() string    { return "record-return-interview" }
func (RecordStrategyOverdue) CommandName() string    { return "record-strategy-overdue" }
func (RecordInterviewWarning) CommandName() string   { return "record-return-interview-warning" }
func (RecordInterviewBreach) CommandName() string    { return "record-return-interview-breach" }
func (SetDateOfBirth) CommandName() string           { return "set-date-of-birth" }
func (RecordLeaveToRemain) CommandName() string      { return "record-leave-to-remain" }
func (InvolveLeavingCare) CommandName() string       { return "involve-leaving-care" }
func (RecordTriplePlanning) CommandName() string     { return "record-triple-planning" }
func (BecomeCareLeaver) CommandName() string         { return "become-care-leaver" }
func (ReportMissing) careCommand()                   {}
func (RecordReturn) careCommand()                    {}
func (NotifySafeguarding) careCommand()              {}
func (RecordStrategyDiscussion) careCommand()        {}
func (RecordReturnInterview) careCommand()           {}
func (RecordStrategyOverdue) careCommand()           {}
func (RecordInterviewWarning) careCommand()          {}
func (RecordInterviewBreach) careCommand()           {}
func (SetDateOfBirth) careCommand()                  {}
func (RecordLeaveToRemain) careCommand()             {}
func (InvolveLeavingCare) careCommand()              {}
func (RecordTriplePlanning) careCommand()            {}
func (BecomeCareLeaver) careCommand()                {}

// sameChild refuses a command whose account of the child (which the shell
// loads from the referral) has no receiving authority or region, or names
// another authority than the one this child's care already records: the
// care record's identity is established once and never changes.
func (c Care) sameChild(cmd CareCommand) error {
	var ch ChildInCare
	needRegion := false
	switch x := cmd.(type) {
	case ReportMissing:
		// The episode is counted by region (the safeguarding view).
		ch, needRegion = x.Child, true
	case SetDateOfBirth:
		ch = x.Child
	case InvolveLeavingCare:
		ch = x.Child
	case RecordTriplePlanning:
		ch = x.Child
	case BecomeCareLeaver:
		ch = x.Child
	default:
		return nil
	}
	if ch.Status != StatusPlaced && ch.Status != StatusOpen {
		return nil // mustBeInCare refuses it, in words about the status
	}
	if !ValidAuthorityCode(ch.Authority) || needRegion && ch.Region == "" {
		return fmt.Errorf("care %s: the child's receiving authority (%q) or region (%q) is not known; the referral's state was not supplied", c.ID, ch.Authority, ch.Region)
	}
	if c.Authority != "" && ch.Authority != c.Authority {
		return illegal(CodeNotAllocatedToYou, "this child's care is recorded by %s, not %s", c.Authority, ch.Authority)
	}
	return nil
}

// mustBeInCare: the child is placed by the authority and has not left.
func mustBeInCare(ch ChildInCare, doing string) error {
	switch ch.Status {
	case StatusPlaced:
		return nil
	case StatusNone:
		return illegal(CodeNotFound, "there is no referral with this id")
	case StatusLeftCare:
		return illegal(CodeLeftCare, "cannot %s: the child has left care", doing)
	case StatusWithdrawn:
		return illegal(CodeWithdrawn, "cannot %s: the referral was withdrawn", doing)
	}
	return illegal(CodeNotPlaced, "cannot %s: the child is not yet placed (the referral is %s)", doing, ch.Status)
}

func moment(field string, t, after time.Time, afterWhat string, now time.Time) error {
	switch {
	case t.IsZero():
		return invalid(field, "say when (RFC 3339)")
	case t.After(now.Add(ClockSkew)):
		return invalid(field, "%s is in the future", t.Format(time.RFC3339))
	case t.Before(after):
		return invalid(field, "%s is before %s (%s)", t.Format(time.RFC3339), afterWhat, after.Format(time.RFC3339))
	}
	return nil
}

// DecideCare answers a care command.
func DecideCare(c Care, cmd CareCommand, now time.Time) ([]events.Event, error) {
	if len(c.Unreadable) > 0 {
		return nil, illegal(CodeUnreadableHistory, "this child's care history holds events this build cannot read (%v); upgrade before changing it", c.Unreadable)
	}
	if err := c.sameChild(cmd); err != nil {
		return nil, err
	}
	switch x := cmd.(type) {
	case ReportMissing:
		if err := mustBeInCare(x.Child, "report the child missing"); err != nil {
			return nil, err
		}
		if ep, on := c.Missing(); on {
			return nil, illegal(CodeAlreadyMissing, "the child is already missing (episode %d, since %s); record the return first", ep.N, ep.MissingAt.Format(time.RFC3339))
		}
		after, what := x.Child.PlacedAt, "the placement began"
		if n := len(c.Episodes); n > 0 {
			after, what = c.Episodes[n-1].ReturnedAt, "the return from the last episode"
		}
		if err := moment("missingAt", x.MissingAt, after, what, now); err != nil {
			return nil, err
		}
		if !present(x.LastSeen) {
			return nil, invalid("lastSeen", "say where and when the child was last seen")
		}
		if !present(x.PoliceReference) {
			return nil, invalid("policeReference", "the police are told at once: give their reference")
		}
		days := int(x.MissingAt.Sub(x.Child.PlacedAt) / (24 * time.Hour))
		return []events.Event{events.New(x.MissingAt, events.MissingReported{
			Episode: len(c.Episodes) + 1, Authority: x.Child.Authority, Region: x.Child.Region,
			MissingAt: x.MissingAt, LastSeen: x.LastSeen, PoliceReference: x.PoliceReference,
			Early: days < x.Rules.EarlyWithinDays, DaysSincePlaced: days, PlacedAt: x.Child.PlacedAt,
			StrategyDueAt: x.MissingAt.Add(x.Rules.StrategyWithin).UTC(), Policy: x.Rules.Policy,
		})}, nil
	case RecordReturn:
		ep, on := c.Missing()
		if !on {
			return nil, illegal(CodeNotMissing, "the child is not recorded as missing")
		}
		if err := moment("returnedAt", x.ReturnedAt, ep.MissingAt, "the child went missing", now); err != nil {
			return nil, err
		}
		if !present(x.WhereFound) {
			return nil, invalid("whereFound", "say where the child was found or returned to")
		}
		due := x.ReturnedAt.Add(x.Rules.InterviewWithin).UTC()
		return []events.Event{events.New(x.ReturnedAt, events.MissingReturned{Episode: ep.N, ReturnedAt: x.ReturnedAt, WhereFound: x.WhereFound,
			InterviewDueAt: due, InterviewWarnAt: due.Add(-x.Rules.WarnBefore)})}, nil
	case NotifySafeguarding:
		ep, ok := c.Episode(x.Episode)
		if !ok || x.Episode == 0 {
			return nil, illegal(CodeNoEpisode, "no missing episode %d", x.Episode)
		}
		var out []events.Event
		for _, p := range x.Parties {
			if !slices.Contains(ep.Notified, p) {
				out = append(out, events.New(now, events.MissingNotified{Episode: ep.N, Party: p}))
			}
		}
		if len(out) == 0 {
			return nil, illegal(CodeAlreadyRecorded, "episode %d: %v already notified", ep.N, ep.Notified)
		}
		return out, nil
	case RecordStrategyDiscussion:
		ep, ok := c.Episode(latest(x.Episode))
		if !ok {
			return nil, illegal(CodeNoEpisode, "no missing episode %s", episodeName(latest(x.Episode)))
		}
		if ep.StrategyHeld {
			return nil, illegal(CodeAlreadyRecorded, "episode %d's strategy discussion was held at %s", ep.N, ep.StrategyHeldAt.Format(time.RFC3339))
		}
		if err := moment("heldAt", x.HeldAt, ep.MissingAt, "the child went missing", now); err != nil {
			return nil, err
		}
		if len(x.Attendees) == 0 {
			return nil, invalid("attendees", "name the professions at the discussion (police, social-care, health ...)")
		}
		return []events.Event{events.New(x.HeldAt, events.StrategyDiscussionHeld{Episode: ep.N, HeldAt: x.HeldAt, Attendees: x.Attendees})}, nil
	case RecordReturnInterview:
		ep, ok := c.Episode(latest(x.Episode))
		if !ok {
			return nil, illegal(CodeNoEpisode, "no missing episode %s", episodeName(latest(x.Episode)))
		}
		if !ep.Returned {
			return nil, illegal(CodeNotMissing, "episode %d: the child has not returned; a return interview follows the return", ep.N)
		}
		if ep.Offered {
			return nil, illegal(CodeAlreadyRecorded, "episode %d's return interview was offered at %s", ep.N, ep.OfferedAt.Format(time.RFC3339))
		}
		if err := moment("offeredAt", x.OfferedAt, ep.ReturnedAt, "the child returned", now); err != nil {
			return nil, err
		}
		if !present(x.OfferedBy) {
			return nil, invalid("offeredBy", "say who offered the interview (an independent person, the guidance asks)")
		}
		return []events.Event{events.New(x.OfferedAt, events.ReturnInterviewOffered{Episode: ep.N, OfferedAt: x.OfferedAt, OfferedBy: x.OfferedBy, Accepted: x.Accepted,
			DueAt: ep.InterviewDueAt, InTime: !x.OfferedAt.After(ep.InterviewDueAt)})}, nil
	case RecordStrategyOverdue:
		ep, ok := c.Episode(x.Episode)
		switch {
		case !ok || x.Episode == 0:
			return nil, illegal(CodeNoEpisode, "no missing episode %d", x.Episode)
		case ep.StrategyHeld || ep.StrategyOverdue:
			return nil, illegal(CodeAlreadyRecorded, "episode %d: the strategy discussion is held or already overdue", ep.N)
		case !now.After(ep.StrategyDueAt):
			return nil, illegal(CodeNotDue, "episode %d: the strategy discussion is due by %s", ep.N, ep.StrategyDueAt.Format(time.RFC3339))
		}
		return one(now, events.StrategyDiscussionOverdue{Episode: ep.N, DueAt: ep.StrategyDueAt}), nil
	case RecordInterviewWarning, RecordInterviewBreach:
		n, breach := 0, false
		if b, ok := x.(RecordInterviewBreach); ok {
			n, breach = b.Episode, true
		} else {
			n = x.(RecordInterviewWarning).Episode
		}
		ep, ok := c.Episode(n)
		switch {
		case !ok || n == 0:
			return nil, illegal(CodeNoEpisode, "no missing episode %d", n)
		case !ep.Returned:
			return nil, illegal(CodeNotMissing, "episode %d: the child has not returned", ep.N)
		case ep.Offered || ep.Breached || (!breach && ep.Warned):
			return nil, illegal(CodeAlreadyRecorded, "episode %d: the return interview was offered, or this is already recorded", ep.N)
		case breach && !now.After(ep.InterviewDueAt):
			return nil, illegal(CodeNotDue, "episode %d: the return interview is due by %s", ep.N, ep.InterviewDueAt.Format(time.RFC3339))
		case !breach && now.Before(ep.InterviewWarnAt):
			return nil, illegal(CodeNotDue, "episode %d: the warning is at %s", ep.N, ep.InterviewWarnAt.Format(time.RFC3339))
		}
		if breach {
			return one(now, events.ReturnInterviewBreached{Episode: ep.N, DueAt: ep.InterviewDueAt}), nil
		}
		return one(now, events.ReturnInterviewWarning{Episode: ep.N, DueAt: ep.InterviewDueAt}), nil
	case SetDateOfBirth:
		// Recorded from receipt (the Home Office's record may come before
		// the placement); the milestones fire only for a child in care.
		if x.Child.Status != StatusOpen {
			if err := mustBeInCare(x.Child, "set the date of birth"); err != nil {
				return nil, err
			}
		}
		dob, basis, err := ParseDateOfBirth(x.DateOfBirth, x.Basis, now)
		if err != nil {
			return nil, err
		}
		if stands(c.DOBBasis) && !stands(basis) {
			return nil, illegal(CodeAssessedDOBStands, "the %s date of birth (%s) stands", standsWords[c.DOBBasis], c.DateOfBirth)
		}
		date := dob.Format(time.DateOnly)
		if date == c.DateOfBirth && basis == c.DOBBasis {
			return nil, illegal(CodeAlreadyRecorded, "the date of birth is already %s (%s)", date, basis)
		}
		sixteen, triple, eighteen := Milestones(dob)
		return one(now, events.CareDateOfBirthSet{Authority: x.Child.Authority, DateOfBirth: date, Basis: basis, SixteenAt: sixteen, TriplePlanningAt: triple, EighteenAt: eighteen}), nil
	case RecordLeaveToRemain:
		if !slices.Contains([]string{events.LeaveGranted, events.LeavePending, events.LeaveRefused}, x.Status) {
			return nil, invalid("status", "leave to remain is granted, pending or refused")
		}
		if x.Status == c.LeaveToRemain {
			return nil, illegal(CodeAlreadyRecorded, "leave to remain is already recorded as %s", x.Status)
		}
		return one(now, events.LeaveToRemainRecorded{Status: x.Status}), nil
	case InvolveLeavingCare:
		if err := c.milestoneDue(x.Child, c.SixteenAt, c.LeavingCareInvolved, "involve the leaving-care team", "16", now); err != nil {
			return nil, err
		}
		return one(now, events.LeavingCareInvolved{PathwayPlanDueAt: c.SixteenAt.Add(x.PathwayPlanWithin).UTC()}), nil
	case RecordTriplePlanning:
		if err := c.milestoneDue(x.Child, c.TriplePlanningAt, c.TriplePlanned, "record triple planning", "17 and a half", now); err != nil {
			return nil, err
		}
		return one(now, events.TriplePlanningRecorded{LeaveToRemain: c.leave(), Plans: []string{events.LeaveGranted, events.LeavePending, events.LeaveRefused}}), nil
	case BecomeCareLeaver:
		if err := c.milestoneDue(x.Child, c.EighteenAt, c.CareLeaver, "record the child as a care leaver", "18", now); err != nil {
			return nil, err
		}
		return one(now, events.CareLeaver{LeaveToRemain: c.leave(), Accommodation: AccommodationAt18(c.leave())}), nil
	}
	return nil, fmt.Errorf("care: unknown command %T", cmd)
}

// latest reads an episode a person named: absent is the latest (0). A
// pointer, so that "episode": 0 is told apart from no episode and refused.
func latest(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

func episodeName(n int) string {
	if n == 0 {
		return "(none recorded)"
	}
	return strconv.Itoa(n)
}

func (c Care) leave() string {
	if c.LeaveToRemain == "" {
		return events.LeavePending
	}
	return c.LeaveToRemain
}

func (c Care) milestoneDue(ch ChildInCare, at time.Time, done bool, doing, age string, now time.Time) error {
	switch {
	case c.DateOfBirth == "":
		return illegal(CodeNoDateOfBirth, "cannot %s: no date of birth is recorded", doing)
	case done:
		return illegal(CodeAlreadyRecorded, "already recorded")
	case now.Before(at):
		return illegal(CodeNotDue, "cannot %s before the child is %s (%s)", doing, age, at.Format(time.DateOnly))
	}
	return mustBeInCare(ch, doing)
}

// AccommodationAt18 is the care leaver's accommodation by the status of
// the claim: the placement is extended past 18 while leave to remain is
// pending (Stockport's practice); with leave, the child moves on as the
// pathway plan sets out; refused, support continues while a human rights
// assessment is made.
func AccommodationAt18(leave string) string {
	switch leave {
	case events.LeaveGranted:
		return events.AccommodationMoveOn
	case events.LeaveRefused:
		return events.AccommodationHumanRightsAssessment
	}
	return events.AccommodationExtendedPlacement
}

// stands is true of a date of birth found after the referral's own (an
// age assessment, a correction): the referral's own never replaces it,
// and the later of the two findings replaces the earlier.
func stands(basis string) bool { return basis == events.DOBAssessed || basis == events.DOBCorrected }

var standsWords = map[string]string{events.DOBAssessed: "age assessment's", events.DOBCorrected: "corrected"}

// ParseDateOfBirth reads "YYYY-MM-DD" or "YYYY" (the Home Office's
// convention for a birth date known only by its year is 1 January of that
// year), with the basis it is known on.
func ParseDateOfBirth(s, basis string, now time.Time) (time.Time, string, error) {
	if basis == "" {
		basis = events.DOBRecorded
	}
	if len(s) == 4 {
		y, err := strconv.Atoi(s)
		if err != nil {
			return time.Time{}, "", invalid("dateOfBirth", "%q is not a date (YYYY-MM-DD) nor a year (YYYY)", s)
		}
		s = fmt.Sprintf("%04d-01-01", y)
		if basis == events.DOBRecorded {
			basis = events.DOBYearOnly
		}
	}
	d, err := pastDate(s, now)
	if err != nil {
		return time.Time{}, "", invalid("dateOfBirth", "%v", err)
	}
	return d, basis, nil
}

// Milestones are the child's 16th birthday, 17 and a half, and 18th
// birthday, each at midnight in London. A child born on 29 February comes
// of age on 1 March in a year with no 29 February (time.AddDate's
// normalisation, as the law reads it).
func Milestones(dob time.Time) (sixteen, triple, eighteen time.Time) {
	at := func(y, m int) time.Time {
		d := dob.AddDate(y, m, 0)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, calendar.London).UTC()
	}
	return at(16, 0), at(17, 6), at(18, 0)
}

// EvolveCare folds one event into a child's care state.
func EvolveCare(c Care, e events.Event) Care {
	c.Version++
	if c.ID == "" {
		c.ID = e.AggregateID
	}
	upd := func(n int, f func(*Episode)) {
		if n >= 1 && n <= len(c.Episodes) {
			eps := slices.Clone(c.Episodes)
			f(&eps[n-1])
			c.Episodes = eps
		}
	}
	switch d := e.Data.(type) {
	case events.MissingReported:
		c.Authority, c.Region = d.Authority, d.Region
		c.Episodes = append(slices.Clip(c.Episodes), Episode{N: d.Episode, MissingAt: d.MissingAt, Early: d.Early, StrategyDueAt: d.StrategyDueAt})
	case events.MissingNotified:
		upd(d.Episode, func(ep *Episode) { ep.Notified = append(slices.Clip(ep.Notified), d.Party) })
	case events.MissingReturned:
		upd(d.Episode, func(ep *Episode) {
			ep.Returned, ep.ReturnedAt, ep.InterviewDueAt, ep.InterviewWarnAt = true, d.ReturnedAt, d.InterviewDueAt, d.InterviewWarnAt
		})
	case events.StrategyDiscussionHeld:
		upd(d.Episode, func(ep *Episode) { ep.StrategyHeld, ep.StrategyHeldAt = true, d.HeldAt })
	case events.StrategyDiscussionOverdue:
		upd(d.Episode, func(ep *Episode) { ep.StrategyOverdue = true })
	case events.ReturnInterviewOffered:
		upd(d.Episode, func(ep *Episode) { ep.Offered, ep.OfferedAt, ep.OfferedInTime = true, d.OfferedAt, d.InTime })
	case events.ReturnInterviewWarning:
		upd(d.Episode, func(ep *Episode) { ep.Warned = true })
	case events.ReturnInterviewBreached:
		upd(d.Episode, func(ep *Episode) { ep.Breached = true })
	case events.CareDateOfBirthSet:
		if d.Authority != "" {
			c.Authority = d.Authority
		}
		c.DateOfBirth, c.DOBBasis, c.SixteenAt, c.TriplePlanningAt, c.EighteenAt = d.DateOfBirth, d.Basis, d.SixteenAt, d.TriplePlanningAt, d.EighteenAt
	case events.LeaveToRemainRecorded:
		c.LeaveToRemain = d.Status
	case events.LeavingCareInvolved:
		c.LeavingCareInvolved, c.PathwayPlanDueAt = true, d.PathwayPlanDueAt
	case events.TriplePlanningRecorded:
		c.TriplePlanned = true
	case events.CareLeaver:
		c.CareLeaver, c.Accommodation = true, d.Accommodation
	case events.Unknown:
		c.Unreadable = append(slices.Clip(c.Unreadable), e.Type)
	}
	return c
}
