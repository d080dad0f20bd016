package projections

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// Planning: what an authority and its region can expect, for the case
// Stockport made for staff (a forecast of demand for year one and year
// two), and the share of training places DfE allocated by each authority's
// NTS numbers. Plain functions over the timeliness and capacity reports.

// PlaceShare is one authority's share of training places.
type PlaceShare struct {
	Authority string `json:"authority"`
	Name      string `json:"name,omitempty"`
	Children  int    `json:"children"` // referrals received in the period
	Places    int    `json:"places"`
}

// TrainingPlaces shares places among authorities in proportion to the
// children each received (counts), by the largest-remainder method. Every
// authority that received a child gets at least one place when there are
// enough places for that: each first gets one, and the rest are shared in
// proportion. With fewer places than such authorities, the places go by
// the largest counts (ties by code). The result is ordered by code and its
// places add up to places (or to 0 when no authority received a child).
func TrainingPlaces(counts map[string]int, places int) []PlaceShare {
	var codes []string
	total := 0
	for code, n := range counts {
		if n > 0 {
			codes = append(codes, code)
			total += n
		}
	}
	sort.Strings(codes)
	out := make([]PlaceShare, len(codes))
	for i, c := range codes {
		out[i] = PlaceShare{Authority: c, Children: counts[c]}
	}
	if len(codes) == 0 || places <= 0 {
		return out
	}
	left := places
	if places >= len(codes) {
		for i := range out {
			out[i].Places = 1
		}
		left -= len(codes)
	} else {
		// Not enough for one each: the largest counts first.
		order := make([]int, len(out))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return out[order[a]].Children > out[order[b]].Children })
		for _, i := range order[:places] {
			out[i].Places = 1
		}
		return out
	}
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, len(out))
	given := 0
	for i := range out {
		quota := float64(left) * float64(out[i].Children) / float64(total)
		whole := int(math.Floor(quota))
		out[i].Places += whole
		given += whole
		rems[i] = rem{i, quota - float64(whole)}
	}
	sort.SliceStable(rems, func(a, b int) bool {
		if rems[a].frac != rems[b].frac {
			return rems[a].frac > rems[b].frac
		}
		return out[rems[a].i].Children > out[rems[b].i].Children
	})
	for k := 0; k < left-given; k++ {
		out[rems[k].i].Places++
	}
	return out
}

// ForecastMonth is one month's forecast of referrals received.
type ForecastMonth struct {
	Month    string  `json:"month"`
	Expected float64 `json:"expected"`
	// Low and High bound 95% of months under the model (a Poisson count
	// with the expected mean): the month-to-month swing alone, not the
	// uncertainty of the rate itself, which is larger.
	Low  int `json:"low"`
	High int `json:"high"`
	// Capped is true when the threshold, not demand, bounds the month.
	Capped bool `json:"capped,omitempty"`
}

// Forecast is an authority's or a region's demand, so far and ahead.
type Forecast struct {
	Scope       string          `json:"scope"` // an authority's code or a region's name
	Method      string          `json:"method"`
	History     []ForecastMonth `json:"history"` // received per month so far (Expected is the count)
	Rate        float64         `json:"regionMonthlyRate"`
	Share       float64         `json:"share"` // of the region's referrals
	Next        []ForecastMonth `json:"next"`
	YearOne     float64         `json:"yearOne"` // children expected in the next 12 months
	YearTwo     float64         `json:"yearTwo"` // in the 12 after
	Staff       []StaffNeed     `json:"staff,omitempty"`
	Threshold   *float64        `json:"threshold,omitempty"`
	LookedAfter int             `json:"lookedAfter"`
}

// StaffNeed is the staff a forecast implies at a caseload ratio.
type StaffNeed struct {
	Role            string  `json:"role"`
	CasesPerPost    float64 `json:"casesPerPost"`
	YearOnePosts    int     `json:"yearOnePosts"`
	YearTwoPosts    int     `json:"yearTwoPosts"`
	YearTwoCaseload float64 `json:"yearTwoCaseload"`
}

// ForecastMethod says how the forecast is made, in words the report
// carries.
const ForecastMethod = "Expected referrals a month = the region's mean monthly referrals over the last 6 complete months × the authority's share of the region's referrals over the last 12 (1 for a region). An authority's forecast stops adding children once those looked after now plus those forecast reach its threshold (0.1% of its child population), since an authority at its threshold is not directed to take more. Low and high are the 2.5th and 97.5th percentiles of a Poisson month with that mean. Staff = children expected in care at the end of each year (looked after now plus forecast, no one leaving) ÷ the caseload per post given, rounded up."

// MakeForecast forecasts 24 months after now from monthly received counts:
// scope's own (by "YYYY-MM") and its region's. threshold is nil for a
// region or when no population is known.
func MakeForecast(scope string, own, region map[string]int, now time.Time, lookedAfter int, threshold *float64, ratios map[string]float64) Forecast {
	f := Forecast{Scope: scope, Method: ForecastMethod, LookedAfter: lookedAfter, Threshold: threshold, History: []ForecastMonth{}, Next: []ForecastMonth{}}
	first := now.AddDate(-2, 0, 0)
	for m := monthStart(first); !m.After(now); m = m.AddDate(0, 1, 0) {
		k := m.Format("2006-01")
		f.History = append(f.History, ForecastMonth{Month: k, Expected: float64(own[k]), Low: own[k], High: own[k]})
	}
	this := monthStart(now)
	sum6 := 0
	for i := 1; i <= 6; i++ {
		sum6 += region[this.AddDate(0, -i, 0).Format("2006-01")]
	}
	f.Rate = float64(sum6) / 6
	ownN, regionN := 0, 0
	for i := 1; i <= 12; i++ {
		k := this.AddDate(0, -i, 0).Format("2006-01")
		ownN += own[k]
		regionN += region[k]
	}
	if regionN > 0 {
		f.Share = float64(ownN) / float64(regionN)
	}
	room := math.Inf(1)
	if threshold != nil {
		room = math.Max(0, *threshold-float64(lookedAfter))
	}
	expected := f.Rate * f.Share
	for i := 1; i <= 24; i++ {
		mean := expected
		capped := false
		if mean > room {
			mean, capped = room, true
		}
		room -= mean
		low, high := poissonInterval(mean)
		f.Next = append(f.Next, ForecastMonth{Month: this.AddDate(0, i, 0).Format("2006-01"), Expected: round2(mean), Low: low, High: high, Capped: capped})
		if i <= 12 {
			f.YearOne += mean
		} else {
			f.YearTwo += mean
		}
	}
	f.YearOne, f.YearTwo = round2(f.YearOne), round2(f.YearTwo)
	for _, role := range slices.Sorted(maps.Keys(ratios)) {
		per := ratios[role]
		if per <= 0 {
			continue
		}
		y1 := float64(lookedAfter) + f.YearOne
		y2 := y1 + f.YearTwo
		f.Staff = append(f.Staff, StaffNeed{Role: role, CasesPerPost: per, YearOnePosts: int(math.Ceil(y1 / per)), YearTwoPosts: int(math.Ceil(y2 / per)), YearTwoCaseload: round2(y2)})
	}
	return f
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// poissonInterval is the central 95% range of a Poisson count of mean m.
func poissonInterval(m float64) (low, high int) {
	if m <= 0 {
		return 0, 0
	}
	cdf, p := 0.0, math.Exp(-m)
	low = -1
	for k := 0; k < 10000; k++ {
		if k > 0 {
			p *= m / float64(k)
		}
		cdf += p
		if low < 0 && cdf >= 0.025 {
			low = k
		}
		if cdf >= 0.975 {
			return low, k
		}
	}
	return low, 10000
}
