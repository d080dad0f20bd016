package projections

import (
	"sort"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Safeguarding is the safeguarding view's state: every missing episode
// (the care aggregate's events), with what the guidance times: the
// strategy discussion, the return, and the return interview offered within
// its time. Where the child was last seen, where found and the police
// reference stay in the care aggregate; the view never holds them.
type Safeguarding struct {
	Episodes map[string]*MissingEpisode `json:"episodes"` // "<referral id>#<episode>"
}

// MissingEpisode is one episode as the view keeps it.
type MissingEpisode struct {
	ReferralID      string    `json:"r"`
	N               int       `json:"n"`
	Authority       string    `json:"a"`
	Region          string    `json:"g"` // as the referral had it, if the registry no longer knows the authority
	MissingAt       time.Time `json:"m"`
	Early           bool      `json:"e,omitempty"`
	StrategyDueAt   time.Time `json:"sd"`
	StrategyHeld    bool      `json:"sh,omitempty"`
	StrategyOverdue bool      `json:"so,omitempty"`
	ReturnedAt      time.Time `json:"ra,omitzero"`
	InterviewDueAt  time.Time `json:"id,omitzero"`
	InterviewWarnAt time.Time `json:"iw,omitzero"`
	OfferedAt       time.Time `json:"oa,omitzero"`
	OfferedInTime   bool      `json:"oi,omitempty"`
	Breached        bool      `json:"ib,omitempty"`
}

// NewSafeguarding is the empty view.
func NewSafeguarding() *Safeguarding {
	return &Safeguarding{Episodes: map[string]*MissingEpisode{}}
}

func episodeKey(referral string, n int) string { return referral + "#" + strconv.Itoa(n) }

// ApplySafeguarding folds one event into the safeguarding view.
func ApplySafeguarding(v *Safeguarding, e events.Event) *Safeguarding {
	if d, ok := e.Data.(events.MissingReported); ok {
		v.Episodes[episodeKey(e.AggregateID, d.Episode)] = &MissingEpisode{ReferralID: e.AggregateID, N: d.Episode, Authority: d.Authority, Region: d.Region,
			MissingAt: d.MissingAt, Early: d.Early, StrategyDueAt: d.StrategyDueAt}
		return v
	}
	var n int
	switch d := e.Data.(type) {
	case events.MissingReturned:
		n = d.Episode
	case events.StrategyDiscussionHeld:
		n = d.Episode
	case events.StrategyDiscussionOverdue:
		n = d.Episode
	case events.ReturnInterviewOffered:
		n = d.Episode
	case events.ReturnInterviewBreached:
		n = d.Episode
	default:
		return v
	}
	ep := v.Episodes[episodeKey(e.AggregateID, n)]
	if ep == nil {
		return v
	}
	switch d := e.Data.(type) {
	case events.MissingReturned:
		ep.ReturnedAt, ep.InterviewDueAt, ep.InterviewWarnAt = d.ReturnedAt, d.InterviewDueAt, d.InterviewWarnAt
	case events.StrategyDiscussionHeld:
		ep.StrategyHeld = true
	case events.StrategyDiscussionOverdue:
		ep.StrategyOverdue = true
	case events.ReturnInterviewOffered:
		ep.OfferedAt, ep.OfferedInTime = d.OfferedAt, d.InTime
	case events.ReturnInterviewBreached:
		ep.Breached = true
	}
	return v
}

// Strategy discussion and return interview states, as the report gives
// them.
const (
	StrategyHeld    = "held"
	StrategyDue     = "due"
	StrategyOverdue = "overdue"

	InterviewOnTrack  = "on-track"
	InterviewAtRisk   = "at-risk"
	InterviewBreached = "breached"
)

// SafeguardingFilter narrows the report to a region or an authority.
type SafeguardingFilter struct {
	Region, Authority string
}

// MissingNow is a child missing now (an open episode).
type MissingNow struct {
	ReferralID   string    `json:"referralId"`
	Episode      int       `json:"episode"`
	Authority    string    `json:"authority"`
	Region       string    `json:"region"`
	MissingAt    time.Time `json:"missingAt"`
	HoursMissing float64   `json:"hoursMissing"`
	// OverAlert: missing longer than the policy's alert time.
	OverAlert          bool      `json:"overAlert"`
	Early              bool      `json:"early"`
	StrategyDiscussion string    `json:"strategyDiscussion"` // held, due or overdue
	StrategyDueAt      time.Time `json:"strategyDueAt"`
}

// InterviewDue is a child who returned and has not yet been offered a
// return interview.
type InterviewDue struct {
	ReferralID string    `json:"referralId"`
	Episode    int       `json:"episode"`
	Authority  string    `json:"authority"`
	Region     string    `json:"region"`
	ReturnedAt time.Time `json:"returnedAt"`
	DueAt      time.Time `json:"dueAt"`
	State      string    `json:"state"` // on-track, at-risk or breached
}

// SafeguardingRow is one group's figures over all its episodes.
type SafeguardingRow struct {
	Authority string `json:"authority,omitempty"`
	Name      string `json:"name,omitempty"`
	Region    string `json:"region,omitempty"`
	Episodes  int    `json:"episodes"`
	Early     int    `json:"early"`
	// MissingNow: open episodes; MissingOverAlert: those open longer than
	// the policy's alert time.
	MissingNow       int `json:"missingNow"`
	MissingOverAlert int `json:"missingOverAlert"`
	Returned         int `json:"returned"`
	// Hours from going missing to the return, over returned episodes
	// (whole hours, nearest rank); null when none returned.
	MedianHoursMissing *float64 `json:"medianHoursMissing"`
	MaxHoursMissing    *float64 `json:"maxHoursMissing"`
	StrategyOverdue    int      `json:"strategyDiscussionsOverdue"`
	// Return interviews: offered within the time, late (offered late, or
	// not offered and the time has passed), and still within the time.
	InterviewsInTime  int `json:"returnInterviewsInTime"`
	InterviewsLate    int `json:"returnInterviewsLate"`
	InterviewsPending int `json:"returnInterviewsPending"`
	// ShareInTime of the interviews whose time is decided; null when none.
	ShareInTime *float64 `json:"returnInterviewsShareInTime"`
	hours       map[int]int
}

// SafeguardingReport is the safeguarding view as people read it.
type SafeguardingReport struct {
	AlertAfterHours float64           `json:"alertAfterHours"`
	MissingNow      []MissingNow      `json:"missingNow"`
	InterviewsDue   []InterviewDue    `json:"returnInterviewsDue"`
	ByAuthority     []SafeguardingRow `json:"byAuthority"`
	ByRegion        []SafeguardingRow `json:"byRegion"`
	Total           SafeguardingRow   `json:"total"`
}

// regionOf is the episode's region as the registry has it now, else as
// the episode recorded it.
func (ep *MissingEpisode) regionOf(reg *refdata.Registry) string {
	if r := reg.RegionOf(ep.Authority); r != "" {
		return r
	}
	return ep.Region
}

// ReportSafeguarding reads the view at now; alertAfter is the policy's
// time after which a missing child is counted by the alert.
func ReportSafeguarding(v *Safeguarding, reg *refdata.Registry, f SafeguardingFilter, now time.Time, alertAfter time.Duration) SafeguardingReport {
	rep := SafeguardingReport{AlertAfterHours: alertAfter.Hours(), MissingNow: []MissingNow{}, InterviewsDue: []InterviewDue{}, ByAuthority: []SafeguardingRow{}, ByRegion: []SafeguardingRow{}}
	byAuthority, byRegion := map[string]*SafeguardingRow{}, map[string]*SafeguardingRow{}
	total := &SafeguardingRow{hours: map[int]int{}}
	for _, ep := range v.Episodes {
		region := ep.regionOf(reg)
		if (f.Authority != "" && ep.Authority != f.Authority) || (f.Region != "" && region != f.Region) {
			continue
		}
		a := byAuthority[ep.Authority]
		if a == nil {
			name := ""
			if au, ok := reg.Lookup(ep.Authority); ok {
				name = au.Name
			}
			a = &SafeguardingRow{Authority: ep.Authority, Name: name, Region: region, hours: map[int]int{}}
			byAuthority[ep.Authority] = a
		}
		r := byRegion[region]
		if r == nil {
			r = &SafeguardingRow{Region: region, hours: map[int]int{}}
			byRegion[region] = r
		}
		for _, row := range []*SafeguardingRow{a, r, total} {
			row.count(ep, now, alertAfter)
		}
		switch {
		case ep.ReturnedAt.IsZero():
			st := StrategyDue
			switch {
			case ep.StrategyHeld:
				st = StrategyHeld
			case ep.StrategyOverdue || now.After(ep.StrategyDueAt):
				st = StrategyOverdue
			}
			gone := now.Sub(ep.MissingAt)
			rep.MissingNow = append(rep.MissingNow, MissingNow{ReferralID: ep.ReferralID, Episode: ep.N, Authority: ep.Authority, Region: region, MissingAt: ep.MissingAt,
				HoursMissing: float64(gone.Truncate(time.Minute)) / float64(time.Hour), OverAlert: overAlert(ep, now, alertAfter), Early: ep.Early, StrategyDiscussion: st, StrategyDueAt: ep.StrategyDueAt})
		case ep.OfferedAt.IsZero():
			rep.InterviewsDue = append(rep.InterviewsDue, InterviewDue{ReferralID: ep.ReferralID, Episode: ep.N, Authority: ep.Authority, Region: region,
				ReturnedAt: ep.ReturnedAt, DueAt: ep.InterviewDueAt, State: ep.interviewState(now)})
		}
	}
	for _, a := range byAuthority {
		rep.ByAuthority = append(rep.ByAuthority, a.finish())
	}
	for _, r := range byRegion {
		rep.ByRegion = append(rep.ByRegion, r.finish())
	}
	rep.Total = total.finish()
	sort.Slice(rep.ByAuthority, func(i, j int) bool {
		a, b := rep.ByAuthority[i], rep.ByAuthority[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return a.Authority < b.Authority
	})
	sort.Slice(rep.ByRegion, func(i, j int) bool { return rep.ByRegion[i].Region < rep.ByRegion[j].Region })
	// Longest missing first; the interview due soonest first.
	sort.Slice(rep.MissingNow, func(i, j int) bool {
		a, b := rep.MissingNow[i], rep.MissingNow[j]
		if !a.MissingAt.Equal(b.MissingAt) {
			return a.MissingAt.Before(b.MissingAt)
		}
		return a.ReferralID < b.ReferralID
	})
	sort.Slice(rep.InterviewsDue, func(i, j int) bool {
		a, b := rep.InterviewsDue[i], rep.InterviewsDue[j]
		if !a.DueAt.Equal(b.DueAt) {
			return a.DueAt.Before(b.DueAt)
		}
		return a.ReferralID < b.ReferralID
	})
	return rep
}

// MissingOverAlert counts, by region, the children missing now for longer
// than alertAfter (the metric the alert watches).
func MissingOverAlert(v *Safeguarding, reg *refdata.Registry, now time.Time, alertAfter time.Duration) (missing, over map[string]int) {
	missing, over = map[string]int{}, map[string]int{}
	for _, ep := range v.Episodes {
		if !ep.ReturnedAt.IsZero() {
			continue
		}
		region := ep.regionOf(reg)
		missing[region]++
		if overAlert(ep, now, alertAfter) {
			over[region]++
		}
	}
	return missing, over
}

func overAlert(ep *MissingEpisode, now time.Time, alertAfter time.Duration) bool {
	return ep.ReturnedAt.IsZero() && now.Sub(ep.MissingAt) > alertAfter
}

// interviewState is a returned episode's return interview, not yet
// offered, at now.
func (ep *MissingEpisode) interviewState(now time.Time) string {
	switch {
	case ep.Breached || now.After(ep.InterviewDueAt):
		return InterviewBreached
	case !now.Before(ep.InterviewWarnAt):
		return InterviewAtRisk
	}
	return InterviewOnTrack
}

func (r *SafeguardingRow) count(ep *MissingEpisode, now time.Time, alertAfter time.Duration) {
	r.Episodes++
	if ep.Early {
		r.Early++
	}
	if ep.StrategyOverdue {
		r.StrategyOverdue++
	}
	if ep.ReturnedAt.IsZero() {
		r.MissingNow++
		if overAlert(ep, now, alertAfter) {
			r.MissingOverAlert++
		}
		return
	}
	r.Returned++
	r.hours[int(ep.ReturnedAt.Sub(ep.MissingAt)/time.Hour)]++
	switch {
	case !ep.OfferedAt.IsZero() && ep.OfferedInTime:
		r.InterviewsInTime++
	case !ep.OfferedAt.IsZero() || ep.interviewState(now) == InterviewBreached:
		r.InterviewsLate++
	default:
		r.InterviewsPending++
	}
}

func (r *SafeguardingRow) finish() SafeguardingRow {
	if n := r.InterviewsInTime + r.InterviewsLate; n > 0 {
		share := float64(r.InterviewsInTime) / float64(n)
		r.ShareInTime = &share
	}
	r.MedianHoursMissing = quantile(r.hours, 0.5)
	r.MaxHoursMissing = quantile(r.hours, 1)
	return *r
}
