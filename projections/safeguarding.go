package projections

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Safeguarding is the safeguarding view's state: every missing episode
// (the care aggregate's events), with what the guidance times: the
// strategy discussion, the return, and the return interview offered within
// its time. Where the child was last seen, where found and the police
// reference stay in the care aggregate; the view never holds them.
type Safeguarding struct {
	syms     symbols
	episodes table[episode] // by "<referral id>#<episode>"
}

// MissingEpisode is one episode as the reports read it.
type MissingEpisode struct {
	ReferralID      string
	N               int
	Authority       string
	Region          string // as the referral had it, if the registry no longer knows the authority
	MissingAt       time.Time
	Early           bool
	StrategyDueAt   time.Time
	StrategyHeld    bool
	StrategyOverdue bool
	ReturnedAt      time.Time
	InterviewDueAt  time.Time
	InterviewWarnAt time.Time
	OfferedAt       time.Time
	OfferedInTime   bool
	Breached        bool
}

// episode is a MissingEpisode as the view keeps it (see compact.go).
type episode struct {
	missingAt, strategyDueAt, returnedAt       moment
	interviewDueAt, interviewWarnAt, offeredAt moment
	n                                          int32
	authority, region                          sym
	early, strategyHeld, strategyOverdue       bool
	offeredInTime, breached                    bool
}

// NewSafeguarding is the empty view.
func NewSafeguarding() *Safeguarding { return &Safeguarding{} }

func episodeKey(referral string, n int) string { return referral + "#" + strconv.Itoa(n) }

// episode i as the reports read it.
func (v *Safeguarding) episode(i int) MissingEpisode {
	ep, key := v.episodes.get(i), v.episodes.id(i)
	return MissingEpisode{ReferralID: key[:strings.LastIndexByte(key, '#')], N: int(ep.n), Authority: v.syms.name(ep.authority), Region: v.syms.name(ep.region),
		MissingAt: ep.missingAt.time(), Early: ep.early, StrategyDueAt: ep.strategyDueAt.time(), StrategyHeld: ep.strategyHeld, StrategyOverdue: ep.strategyOverdue,
		ReturnedAt: ep.returnedAt.time(), InterviewDueAt: ep.interviewDueAt.time(), InterviewWarnAt: ep.interviewWarnAt.time(),
		OfferedAt: ep.offeredAt.time(), OfferedInTime: ep.offeredInTime, Breached: ep.breached}
}

// ApplySafeguarding folds one event into the safeguarding view.
func ApplySafeguarding(v *Safeguarding, e events.Event) *Safeguarding {
	if d, ok := e.Data.(events.MissingReported); ok {
		ep := episode{n: int32(d.Episode), authority: v.syms.of(d.Authority), region: v.syms.of(d.Region), missingAt: momentOf(d.MissingAt), early: d.Early, strategyDueAt: momentOf(d.StrategyDueAt)}
		key := episodeKey(e.AggregateID, d.Episode)
		if i, ok := v.episodes.find(key); ok {
			*v.episodes.mut(i) = ep
		} else {
			*v.episodes.add(key) = ep
		}
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
	i, ok := v.episodes.find(episodeKey(e.AggregateID, n))
	if !ok {
		return v
	}
	ep := v.episodes.mut(i)
	switch d := e.Data.(type) {
	case events.MissingReturned:
		ep.returnedAt, ep.interviewDueAt, ep.interviewWarnAt = momentOf(d.ReturnedAt), momentOf(d.InterviewDueAt), momentOf(d.InterviewWarnAt)
	case events.StrategyDiscussionHeld:
		ep.strategyHeld = true
	case events.StrategyDiscussionOverdue:
		ep.strategyOverdue = true
	case events.ReturnInterviewOffered:
		ep.offeredAt, ep.offeredInTime = momentOf(d.OfferedAt), d.InTime
	case events.ReturnInterviewBreached:
		ep.breached = true
	}
	return v
}

// MarshalJSON is the view as its snapshot holds it.
func (v *Safeguarding) MarshalJSON() ([]byte, error) { return marshal(v.writer(false)) }

func (v *Safeguarding) writer(freeze bool) func(*snapEncoder) {
	names, eps := v.syms.list(), v.episodes.take(freeze)
	return func(w *snapEncoder) {
		w.openWithSymbols(names)
		w.name("episodes")
		writeTable(w, eps, func(ep *episode) {
			w.num(int64(ep.n))
			w.sym(ep.authority)
			w.sym(ep.region)
			for _, f := range []bool{ep.early, ep.strategyHeld, ep.strategyOverdue, ep.offeredInTime, ep.breached} {
				w.flag(f)
			}
			for _, m := range []moment{ep.missingAt, ep.strategyDueAt, ep.returnedAt, ep.interviewDueAt, ep.interviewWarnAt, ep.offeredAt} {
				w.at(m)
			}
		})
		w.endObject()
	}
}

// loadSafeguarding reads the view from its snapshot.
func loadSafeguarding(dec *jsontext.Decoder) (*Safeguarding, error) {
	v, r := NewSafeguarding(), &snapDecoder{dec: dec}
	r.openWithSymbols(&v.syms)
	r.name("episodes")
	readTableChecked(r, &v.episodes, "episode", func() episode {
		ep := episode{n: int32(r.num()), authority: r.sym(), region: r.sym(), early: r.flag(), strategyHeld: r.flag(), strategyOverdue: r.flag(), offeredInTime: r.flag(), breached: r.flag()}
		ep.missingAt, ep.strategyDueAt, ep.returnedAt, ep.interviewDueAt, ep.interviewWarnAt, ep.offeredAt = r.at(), r.at(), r.at(), r.at(), r.at(), r.at()
		return ep
	}, func(key string) error {
		if !strings.Contains(key, "#") {
			return fmt.Errorf("episode key %q without its number", key)
		}
		return nil
	})
	r.endObject()
	return v, r.err
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
	for i := range v.episodes.len() {
		e := v.episode(i)
		ep := &e
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
	for i := range v.episodes.len() {
		if !v.episodes.get(i).returnedAt.isZero() {
			continue
		}
		e := v.episode(i)
		ep := &e
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
