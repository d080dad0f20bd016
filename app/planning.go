package app

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/projections"
)

// Planning: an authority's or a region's forecast of demand and the staff
// it implies, and training places shared by NTS numbers. Counts only, no
// referral's data: read from the timeliness and capacity views.

// ForecastQuery is what a forecast is asked for: an authority (its current
// code, and its region's name) or a region (Authority "").
type ForecastQuery struct {
	Region, Authority string
	// Ratios are the caseloads per post, by post ("social worker",
	// "personal adviser"), that the staff needed is worked out with.
	Ratios map[string]float64
}

// Forecast forecasts the demand on an authority or a region: auditors
// read any forecast, a region its own, an authority its own.
func (q Queries) Forecast(c Caller, fq ForecastQuery, now time.Time) (projections.Forecast, error) {
	if !c.ReadsForecast(fq.Region, fq.Authority) {
		return projections.Forecast{}, c.forbidden("read this forecast; ask for your own authority or region", "")
	}
	if q.Views == nil {
		return projections.Forecast{}, ErrNoViews
	}
	reg, code, region := q.Views.Registry, fq.Authority, fq.Region
	regionCounts, own := map[string]int{}, map[string]int{}
	for a, months := range q.receivedByAuthorityMonth(now) {
		if reg.RegionOf(a) != region {
			continue
		}
		for m, n := range months {
			regionCounts[m] += n
			if code == "" || a == code {
				own[m] += n
			}
		}
	}
	var lookedAfter int
	var threshold *float64
	q.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
		rep := projections.ReportCapacity(v, reg)
		rows := rep.Regions
		if code != "" {
			rows = rep.Authorities
		}
		for _, row := range rows {
			if (code != "" && row.Code == code) || (code == "" && row.Name == region) {
				lookedAfter = row.LookedAfter
				if code != "" {
					threshold = row.Threshold
				}
			}
		}
	})
	scope := code
	if scope == "" {
		scope = region
	}
	return projections.MakeForecast(scope, own, regionCounts, now.In(calendar.London), lookedAfter, threshold, fq.Ratios), nil
}

// TrainingPlaces shares places among the authorities by the referrals each
// received in the months from to to (YYYY-MM, inclusive). Counts by
// authority, published as DfE's own allocation is: every role reads them.
func (q Queries) TrainingPlaces(places int, from, to string, now time.Time) ([]projections.PlaceShare, error) {
	if q.Views == nil {
		return nil, ErrNoViews
	}
	counts := map[string]int{}
	for code, months := range q.receivedByAuthorityMonth(now) {
		for m, n := range months {
			if m >= from && m <= to {
				counts[code] += n
			}
		}
	}
	shares := projections.TrainingPlaces(counts, places)
	for i := range shares {
		a, _ := q.Views.Registry.Lookup(shares[i].Authority)
		shares[i].Name = a.Name
	}
	return shares, nil
}

// receivedByAuthorityMonth is the timeliness view's received counts, by
// authority and month.
func (q Queries) receivedByAuthorityMonth(now time.Time) map[string]map[string]int {
	out := map[string]map[string]int{}
	q.Views.Timeliness.Read(func(v *projections.Timeliness, _ uint64) {
		for _, row := range projections.ReportTimeliness(v, q.Views.Registry, projections.TimelinessFilter{}, now).ByAuthorityMonth {
			if out[row.Authority] == nil {
				out[row.Authority] = map[string]int{}
			}
			out[row.Authority][row.Month] += row.Received
		}
	})
	return out
}

// National reads the national equity report for a year (YYYY): how the
// children are spread across the country against the thresholds, and how
// timely their placements were. Figures by authority and region only, so
// every role reads it. Its sequence is the capacity view's.
func (q Queries) National(year string, now time.Time) (Read[projections.NationalEquity], error) {
	if q.Views == nil {
		return Read[projections.NationalEquity]{}, ErrNoViews
	}
	reg := q.Views.Registry
	var capRep projections.CapacityReport
	var seq uint64
	q.Views.Capacity.Read(func(v *projections.Capacity, at uint64) {
		capRep, seq = projections.ReportCapacity(v, reg), at
	})
	var tl projections.TimelinessReport
	q.Views.Timeliness.Read(func(v *projections.Timeliness, _ uint64) {
		tl = projections.ReportTimeliness(v, reg, projections.TimelinessFilter{From: year + "-01", To: year + "-12"}, now)
	})
	return Read[projections.NationalEquity]{View: "national", Sequence: seq, Result: projections.ReportNational(capRep, tl, year)}, nil
}

// The forecast and the training places as CSV, as the API and the console
// both give them for download: one writer, so the files cannot differ.

// ForecastFilename is the name a forecast's CSV is downloaded as.
func ForecastFilename(f projections.Forecast) string { return "forecast-" + f.Scope + ".csv" }

// WriteForecastCSV writes the months received so far and the months
// forecast, each with its range and whether the threshold caps it.
func WriteForecastCSV(w io.Writer, f projections.Forecast) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"scope", "month", "kind", "expected", "low", "high", "capped_by_threshold"})
	for _, m := range f.History {
		cw.Write([]string{f.Scope, m.Month, "received", strconv.FormatFloat(m.Expected, 'f', -1, 64), "", "", ""})
	}
	for _, m := range f.Next {
		cw.Write([]string{f.Scope, m.Month, "forecast", strconv.FormatFloat(m.Expected, 'f', 2, 64), strconv.Itoa(m.Low), strconv.Itoa(m.High), strconv.FormatBool(m.Capped)})
	}
	cw.Flush()
	return cw.Error()
}

// TrainingPlacesFilename is the name the training places' CSV is
// downloaded as.
func TrainingPlacesFilename(places int, from, to string) string {
	return "training-places-" + strconv.Itoa(places) + "-" + from + "-to-" + to + ".csv"
}

// WriteTrainingPlacesCSV writes each authority's share of the places.
func WriteTrainingPlacesCSV(w io.Writer, shares []projections.PlaceShare) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"authority", "name", "children", "places"})
	for _, sh := range shares {
		cw.Write([]string{sh.Authority, sh.Name, strconv.Itoa(sh.Children), strconv.Itoa(sh.Places)})
	}
	cw.Flush()
	return cw.Error()
}

// TrainingPlacesMethod says how the places are shared, in words the
// report carries.
const TrainingPlacesMethod = "Shared in proportion to referrals received in the period by the largest-remainder method, after one place for each authority that received a child (when there are enough places)."

// MaxTrainingPlaces is the most places a sharing is asked for.
const MaxTrainingPlaces = 1_000_000
