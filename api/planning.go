package api

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// Planning: an authority's or a region's forecast of demand and the staff
// it implies, and training places shared by NTS numbers. Counts only: no
// referral-level data.

// receivedByAuthorityMonth reads the timeliness view's received counts.
func (s *Server) receivedByAuthorityMonth() map[string]map[string]int {
	out := map[string]map[string]int{}
	s.Views.Timeliness.Read(func(v *projections.Timeliness, _ uint64) {
		for _, row := range projections.ReportTimeliness(v, s.Views.Registry, projections.TimelinessFilter{}, s.now()).ByAuthorityMonth {
			if out[row.Authority] == nil {
				out[row.Authority] = map[string]int{}
			}
			out[row.Authority][row.Month] += row.Received
		}
	})
	return out
}

// trainingPlaces: GET /v1/planning/training-places?places=N&from=YYYY-MM&to=YYYY-MM.
func (s *Server) trainingPlaces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	places, err := strconv.Atoi(q.Get("places"))
	if err != nil || places < 1 || places > 1_000_000 {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "places", "places is the number of training places to share, 1 to 1000000"))
		return
	}
	from, to := q.Get("from"), q.Get("to")
	for name, m := range map[string]string{"from": from, "to": to} {
		if _, err := time.Parse("2006-01", m); err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", name, "%s is a month, YYYY-MM (inclusive)", name))
			return
		}
	}
	counts := map[string]int{}
	for code, months := range s.receivedByAuthorityMonth() {
		for m, n := range months {
			if m >= from && m <= to {
				counts[code] += n
			}
		}
	}
	shares := projections.TrainingPlaces(counts, places)
	for i := range shares {
		a, _ := s.Views.Registry.Lookup(shares[i].Authority)
		shares[i].Name = a.Name
	}
	writeJSON(w, http.StatusOK, map[string]any{"places": places, "from": from, "to": to,
		"method":      "Shared in proportion to referrals received in the period by the largest-remainder method, after one place for each authority that received a child (when there are enough places).",
		"authorities": shares})
}

// forecast: GET /v1/planning/forecast?authority=CODE|region=SLUG
// [&casesPerSocialWorker=N&casesPerPersonalAdviser=N][&format=csv].
func (s *Server) forecast(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code, slug := q.Get("authority"), q.Get("region")
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		// Answering JSON to a client that asked for something else would
		// look like what it asked for: refuse, and say what there is.
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "format", "format is json (the default) or csv, not %q", format))
		return
	}
	ratios := map[string]float64{}
	for param, role := range map[string]string{"casesPerSocialWorker": "social worker", "casesPerPersonalAdviser": "personal adviser"} {
		if v := q.Get(param); v != "" {
			// ParseFloat reads "NaN" and "Inf" as numbers, and no comparison
			// refuses NaN: say what is wanted instead.
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(n) || n <= 0 || n > 1000 {
				writeError(w, apiError(http.StatusBadRequest, "invalid_query", param, "%s is the caseload per post, a number more than 0 and at most 1000 (got %q)", param, v))
				return
			}
			ratios[role] = n
		}
	}
	if (code == "") == (slug == "") {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "authority", "give authority (an ONS code) or region (a slug), one of them"))
		return
	}
	reg := s.Views.Registry
	var region string
	if code != "" {
		a, ok := reg.Lookup(code)
		if !ok {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "authority", "%s is not an authority with children's services", code))
			return
		}
		code, region = a.Code, a.Region
	} else {
		name, ok := refdata.RegionByName(slug)
		if !ok {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", "region", "no region %q; regions are named by slug, e.g. north-west", slug))
			return
		}
		region = name
	}
	if p, on := principal(r); on && !app.As(p).ReadsForecast(region, code) {
		writeError(w, forbidden(p, "read this forecast; ask for your own authority or region"))
		return
	}
	received := s.receivedByAuthorityMonth()
	regionCounts, own := map[string]int{}, map[string]int{}
	for c, months := range received {
		if reg.RegionOf(c) != region {
			continue
		}
		for m, n := range months {
			regionCounts[m] += n
			if code == "" || c == code {
				own[m] += n
			}
		}
	}
	var lookedAfter int
	var threshold *float64
	s.Views.Capacity.Read(func(v *projections.Capacity, _ uint64) {
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
	f := projections.MakeForecast(scope, own, regionCounts, s.now().In(calendar.London), lookedAfter, threshold, ratios)
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "forecast-"+scope+".csv"))
		cw := csv.NewWriter(w)
		cw.Write([]string{"scope", "month", "kind", "expected", "low", "high", "capped_by_threshold"})
		for _, m := range f.History {
			cw.Write([]string{scope, m.Month, "received", strconv.FormatFloat(m.Expected, 'f', -1, 64), "", "", ""})
		}
		for _, m := range f.Next {
			cw.Write([]string{scope, m.Month, "forecast", strconv.FormatFloat(m.Expected, 'f', 2, 64), strconv.Itoa(m.Low), strconv.Itoa(m.High), strconv.FormatBool(m.Capped)})
		}
		cw.Flush()
		return
	}
	writeJSON(w, http.StatusOK, f)
}
