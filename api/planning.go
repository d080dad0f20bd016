package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/refdata"
)

// Planning: an authority's or a region's forecast of demand and the staff
// it implies, and training places shared by NTS numbers. Counts only: no
// referral-level data.

// trainingPlaces: GET /v1/planning/training-places?places=N&from=YYYY-MM&to=YYYY-MM.
func (s *Server) trainingPlaces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	places, err := strconv.Atoi(q.Get("places"))
	if err != nil || places < 1 || places > app.MaxTrainingPlaces {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "places", "places is the number of training places to share, 1 to 1000000"))
		return
	}
	format, ok := planningFormat(w, q.Get("format"))
	if !ok {
		return
	}
	from, to := q.Get("from"), q.Get("to")
	for name, m := range map[string]string{"from": from, "to": to} {
		if _, err := time.Parse("2006-01", m); err != nil {
			writeError(w, apiError(http.StatusBadRequest, "invalid_query", name, "%s is a month, YYYY-MM (inclusive)", name))
			return
		}
	}
	shares, err := s.queries().TrainingPlaces(places, from, to, s.now())
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	if format == "csv" {
		csvHeaders(w, app.TrainingPlacesFilename(places, from, to))
		app.WriteTrainingPlacesCSV(w, shares)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"places": places, "from": from, "to": to,
		"method":      app.TrainingPlacesMethod,
		"authorities": shares})
}

// forecast: GET /v1/planning/forecast?authority=CODE|region=SLUG
// [&casesPerSocialWorker=N&casesPerPersonalAdviser=N][&format=csv].
func (s *Server) forecast(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code, slug := q.Get("authority"), q.Get("region")
	format, ok := planningFormat(w, q.Get("format"))
	if !ok {
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
	f, err := s.queries().Forecast(caller(r), app.ForecastQuery{Region: region, Authority: code, Ratios: ratios}, s.now())
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	if format == "csv" {
		csvHeaders(w, app.ForecastFilename(f))
		app.WriteForecastCSV(w, f)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// planningFormat reads ?format=; ok is false when it was refused.
func planningFormat(w http.ResponseWriter, format string) (string, bool) {
	if format != "" && format != "json" && format != "csv" {
		// Answering JSON to a client that asked for something else would
		// look like what it asked for: refuse, and say what there is.
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "format", "format is json (the default) or csv, not %q", format))
		return "", false
	}
	return format, true
}

func csvHeaders(w http.ResponseWriter, filename string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
}
