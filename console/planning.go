package console

import (
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// Planning: the demand forecast behind a case for staff, the staff it
// implies in year one and year two, and the training places shared by NTS
// numbers. The figures are app's planning use cases, as GET
// /v1/planning/forecast and /v1/planning/training-places give them, and
// the CSV downloads are the API's files, written by the same writer.

type planningData struct {
	Scope       scope
	Heading     string
	Regions     []option
	Authorities []option
	Problem     string
	// Choose is true when no authority or region is chosen yet (auditors,
	// or everyone with sign-in off): the page offers the choice.
	Choose           bool
	SocialWorker     field
	PersonalAdviser  field
	Places, From, To field

	Forecast    *forecastView
	Shares      []shareRow
	SharesTotal shareRow
	PlacesWords string
	PlacesCSV   string
	Method      string
}

type forecastView struct {
	Chart                       template.HTML
	ChartTitle, ChartSummary    string
	Method, Range               string
	Rate, Share                 string
	YearOne, YearTwo            string
	LookedAfter, Threshold, Cap string
	Staff                       []staffRow
	Months                      []forecastMonthRow
	CSV                         string
}

type staffRow struct {
	Role, PerPost, YearOne, YearTwo, Caseload string
}

type forecastMonthRow struct {
	Month, Kind, Expected, Low, High, Note string
}

type shareRow struct {
	Code, Name, Children, Places string
	Own                          bool
}

// Default caseloads per post, as Stockport's business case put them; the
// page lets a planner change them.
const (
	defaultCasesPerSocialWorker    = "15"
	defaultCasesPerPersonalAdviser = "20"
	defaultTrainingPlaces          = "1000" // DfE's allocation
)

func (s *Server) planning(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	now := s.now()
	d, errs := s.planningForm(q, now)
	asked, problem := s.askedScope(r)
	d.Problem = problem
	sc := c.app().PageScope(asked, s.reg())
	d.Scope = scope(sc)
	d.Regions, d.Authorities = s.placeOptions(sc)
	if s.Views == nil {
		s.fail(w, c, http.StatusServiceUnavailable, "No planning here", "This instance serves no views.")
		return
	}
	title := "Planning"
	if len(errs) > 0 {
		title = "Error: Planning"
	}
	fq, ok := s.forecastQuery(sc, d)
	d.Choose = !ok
	switch {
	case !ok:
		d.Heading = "Choose a region or an authority"
	case sc.Authority != "":
		d.Heading = authorityName(s.reg(), sc.Authority)
	default:
		d.Heading = sc.Region + " region"
	}
	if ok && d.SocialWorker.Error == "" && d.PersonalAdviser.Error == "" {
		f, ok := s.forecast(w, c, fq, now)
		if !ok {
			return
		}
		d.Forecast = forecastPage(f, d.Heading, now)
		d.Forecast.CSV = "/console/planning/forecast.csv?" + forecastParams(fq, d).Encode()
	}
	if d.Places.Error == "" && d.From.Error == "" && d.To.Error == "" {
		places, _ := strconv.Atoi(d.Places.Value)
		shares, err := s.queries().TrainingPlaces(places, d.From.Value, d.To.Value, now)
		if err != nil {
			s.unavailable(w, c, err)
			return
		}
		d.Method = app.TrainingPlacesMethod
		d.PlacesWords = thousands(places) + " places, by referrals received from " + monthName(d.From.Value) + " to " + monthName(d.To.Value)
		d.PlacesCSV = "/console/planning/training-places.csv?" + url.Values{"places": {d.Places.Value}, "from": {d.From.Value}, "to": {d.To.Value}}.Encode()
		children, given := 0, 0
		for _, sh := range shares {
			d.Shares = append(d.Shares, shareRow{Code: sh.Authority, Name: sh.Name, Children: thousands(sh.Children), Places: thousands(sh.Places),
				Own: sh.Authority == sc.Authority || (sc.Authority == "" && sc.Region != "" && s.reg().RegionOf(sh.Authority) == sc.Region)})
			children += sh.Children
			given += sh.Places
		}
		d.SharesTotal = shareRow{Name: "All authorities", Children: thousands(children), Places: thousands(given)}
	}
	code := http.StatusOK
	if len(errs) > 0 {
		code = http.StatusBadRequest
	}
	s.render(w, code, "planning", page{Title: title, Nav: "planning", C: c, Errors: errs, Data: d})
}

// planningForm reads the page's choices (caseloads per post, the places
// to share and the months they are shared by), each with its default and
// its error in words.
func (s *Server) planningForm(q url.Values, now time.Time) (planningData, []fieldError) {
	var errs []fieldError
	val := func(name, def string) string {
		if v := strings.TrimSpace(q.Get(name)); v != "" {
			return v
		}
		return def
	}
	this := time.Date(now.In(calendar.London).Year(), now.In(calendar.London).Month(), 1, 0, 0, 0, 0, time.UTC)
	d := planningData{
		SocialWorker:    field{Name: "casesPerSocialWorker", Label: "Children per social worker", Hint: "The caseload each social worker carries, such as 15.", Widget: "number", Value: val("casesPerSocialWorker", defaultCasesPerSocialWorker)},
		PersonalAdviser: field{Name: "casesPerPersonalAdviser", Label: "Young people per personal adviser", Hint: "The caseload each personal adviser carries, such as 20.", Widget: "number", Value: val("casesPerPersonalAdviser", defaultCasesPerPersonalAdviser)},
		Places:          field{Name: "places", Label: "Training places to share", Hint: "DfE allocated 1,000.", Widget: "number", Value: val("places", defaultTrainingPlaces)},
		From:            field{Name: "from", Label: "By referrals received from", Hint: "A month as year and month, such as " + this.AddDate(0, -12, 0).Format("2006-01") + ".", Widget: "text", Value: val("from", this.AddDate(0, -12, 0).Format("2006-01"))},
		To:              field{Name: "to", Label: "To the end of", Hint: "A month as year and month, such as " + this.AddDate(0, -1, 0).Format("2006-01") + ".", Widget: "text", Value: val("to", this.AddDate(0, -1, 0).Format("2006-01"))},
	}
	for _, f := range []*field{&d.SocialWorker, &d.PersonalAdviser} {
		n, err := strconv.ParseFloat(f.Value, 64)
		if err != nil || math.IsNaN(n) || n <= 0 || n > 1000 {
			f.Error = "Enter the " + strings.ToLower(f.Label) + " as a number more than 0 and at most 1,000, such as " + map[string]string{"casesPerSocialWorker": "15", "casesPerPersonalAdviser": "20"}[f.Name]
			errs = append(errs, fieldError{Field: f.Name, Anchor: f.Name, Message: f.Error})
		}
	}
	if n, err := strconv.Atoi(strings.ReplaceAll(d.Places.Value, ",", "")); err != nil || n < 1 || n > app.MaxTrainingPlaces {
		d.Places.Error = "Enter the training places to share as a whole number from 1 to 1,000,000, such as 1000"
		errs = append(errs, fieldError{Field: "places", Anchor: "places", Message: d.Places.Error})
	} else {
		d.Places.Value = strconv.Itoa(n)
	}
	for _, f := range []*field{&d.From, &d.To} {
		if _, err := time.Parse("2006-01", f.Value); err != nil {
			f.Error = "Enter a month as year and month, such as 2025-06"
			errs = append(errs, fieldError{Field: f.Name, Anchor: f.Name, Message: f.Error})
		}
	}
	if d.From.Error == "" && d.To.Error == "" && d.From.Value > d.To.Value {
		d.To.Error = "The last month must be the same as or after the first month"
		errs = append(errs, fieldError{Field: "to", Anchor: "to", Message: d.To.Error})
	}
	return d, errs
}

// forecastQuery is the forecast the page's scope asks for; ok is false
// when none is chosen yet.
func (s *Server) forecastQuery(sc app.Scope, d planningData) (app.ForecastQuery, bool) {
	fq := app.ForecastQuery{Region: sc.Region, Authority: sc.Authority, Ratios: map[string]float64{}}
	if sc.Authority != "" {
		fq.Region = s.reg().RegionOf(sc.Authority)
	}
	if n, err := strconv.ParseFloat(d.SocialWorker.Value, 64); err == nil {
		fq.Ratios["social worker"] = n
	}
	if n, err := strconv.ParseFloat(d.PersonalAdviser.Value, 64); err == nil {
		fq.Ratios["personal adviser"] = n
	}
	return fq, fq.Region != ""
}

// forecastParams are the API's query for the same forecast: the console's
// download and GET /v1/planning/forecast take the same parameters.
func forecastParams(fq app.ForecastQuery, d planningData) url.Values {
	v := url.Values{"casesPerSocialWorker": {d.SocialWorker.Value}, "casesPerPersonalAdviser": {d.PersonalAdviser.Value}}
	if fq.Authority != "" {
		v.Set("authority", fq.Authority)
	} else {
		v.Set("region", refdata.Slug(fq.Region))
	}
	return v
}

// forecastPage puts a forecast in words and numbers as people read them:
// whole children for a year, one decimal for a month.
func forecastPage(f projections.Forecast, heading string, now time.Time) *forecastView {
	v := &forecastView{Method: f.Method, Rate: oneDecimal(f.Rate) + " a month", Share: percent(&f.Share),
		YearOne: wholeChildren(f.YearOne), YearTwo: wholeChildren(f.YearTwo), LookedAfter: wholeChildren(float64(f.LookedAfter))}
	if f.Threshold != nil {
		v.Threshold = wholeChildren(*f.Threshold)
	}
	for _, m := range f.Next {
		if m.Capped && v.Cap == "" {
			v.Cap = "From " + monthName(m.Month) + " the threshold, not demand, bounds the forecast: an authority at its threshold is not directed to take more."
		}
	}
	v.Range = "Each month's range is where 95 of 100 months would fall if the rate held: the month-to-month swing only. The rate itself is uncertain too, more so for a small authority, so read year one's " +
		v.YearOne + " as a middle figure, not a promise."
	this := now.In(calendar.London).Format("2006-01")
	for _, m := range f.History {
		row := forecastMonthRow{Month: monthName(m.Month), Kind: "Received", Expected: strconv.Itoa(int(m.Expected))}
		if m.Month == this {
			row.Kind = "Received so far"
		}
		v.Months = append(v.Months, row)
	}
	for _, m := range f.Next {
		row := forecastMonthRow{Month: monthName(m.Month), Kind: "Forecast", Expected: oneDecimal(m.Expected), Low: strconv.Itoa(m.Low), High: strconv.Itoa(m.High)}
		if m.Capped {
			row.Note = "Capped by the threshold"
		}
		v.Months = append(v.Months, row)
	}
	for _, st := range f.Staff {
		v.Staff = append(v.Staff, staffRow{Role: capital(st.Role) + "s", PerPost: oneDecimal(st.CasesPerPost), YearOne: strconv.Itoa(st.YearOnePosts),
			YearTwo: strconv.Itoa(st.YearTwoPosts), Caseload: wholeChildren(st.YearTwoCaseload)})
	}
	v.ChartTitle = "Referrals received each month and forecast for the next 24, " + heading
	v.ChartSummary = fmt.Sprintf("The region receives %s (the mean of the last 6 complete months), of which this share is %s. Expected: %s in the next 12 months and %s in the 12 after.",
		v.Rate, v.Share, v.YearOne, v.YearTwo)
	v.Chart = forecastChart("forecast-chart", v.ChartTitle, v.ChartSummary, f, this)
	return v
}

// wholeChildren is a count of children as people say it: 16.44 expected
// children are "16 children".
func wholeChildren(x float64) string {
	n := int(math.Round(x))
	return thousands(n) + map[bool]string{true: " child", false: " children"}[n == 1]
}

func oneDecimal(x float64) string { return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) }

// forecastChart draws the months received (dark) and forecast (light, with
// the range of each as a line), scaled to the highest. The table below it
// carries every figure, for everyone.
func forecastChart(id, title, summary string, f projections.Forecast, this string) template.HTML {
	type col struct {
		month         string
		value, lo, hi float64
		forecast      bool
	}
	var cols []col
	for _, m := range f.History {
		cols = append(cols, col{month: m.Month, value: m.Expected})
	}
	for _, m := range f.Next {
		cols = append(cols, col{month: m.Month, value: m.Expected, lo: float64(m.Low), hi: float64(m.High), forecast: true})
	}
	top := 1.0
	for _, c := range cols {
		top = math.Max(top, math.Max(c.value, c.hi))
	}
	top = math.Ceil(top)
	const left, width, plotH, top0 = 40, 720, 200, 10
	h := top0 + plotH + 70
	step := float64(width) / float64(len(cols))
	y := func(v float64) float64 { return top0 + plotH - v/top*plotH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-labelledby="%s-title %s-desc" viewBox="0 0 %d %d" xmlns="http://www.w3.org/2000/svg">`, id, id, left+width+10, h)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, html.EscapeString(title), id, html.EscapeString(summary))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#0b0c0c"></line>`, left, top0+plotH, left+width, top0+plotH)
	for _, tick := range []float64{0, top / 2, top} {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="14" fill="#0b0c0c" text-anchor="end">%s</text>`, left-6, y(tick)+5, oneDecimal(tick))
	}
	for i, c := range cols {
		x := float64(left) + float64(i)*step
		fill := "#1d70b8"
		if c.forecast {
			fill = "#8eb8dc"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"></rect>`, x+1, y(c.value), step-2, y(0)-y(c.value), fill)
		if c.forecast && c.hi > 0 {
			mid := x + step/2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#0b0c0c" stroke-width="2"></line>`, mid, y(c.lo), mid, y(c.hi))
		}
		if strings.HasSuffix(c.month, "-01") {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="14" fill="#0b0c0c" text-anchor="middle">%s</text>`, x+step/2, top0+plotH+20, html.EscapeString(monthName(c.month)))
		}
	}
	ly := top0 + plotH + 45
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="16" height="16" fill="#1d70b8"></rect><text x="%d" y="%d" font-size="14" fill="#0b0c0c">received</text>`, left, ly, left+22, ly+13)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="16" height="16" fill="#8eb8dc"></rect><text x="%d" y="%d" font-size="14" fill="#0b0c0c">forecast</text>`, left+120, ly, left+142, ly+13)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#0b0c0c" stroke-width="2"></line><text x="%d" y="%d" font-size="14" fill="#0b0c0c">95%% range of a month</text>`, left+248, ly, left+248, ly+16, left+258, ly+13)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// placeOptions are the regions, and the authorities within the scope's
// region (all, without one), that a page's filters offer.
func (s *Server) placeOptions(sc app.Scope) (regions, authorities []option) {
	for _, name := range refdata.Regions {
		regions = append(regions, option{name, name})
	}
	for _, a := range s.reg().Authorities() {
		if sc.Region == "" || a.Region == sc.Region {
			authorities = append(authorities, option{a.Code, a.Name})
		}
	}
	return regions, authorities
}

// forecast reads the forecast the page asks for; ok is false when the
// answer (a refusal, an unavailable store) has been written instead.
func (s *Server) forecast(w http.ResponseWriter, c *call, fq app.ForecastQuery, now time.Time) (projections.Forecast, bool) {
	f, err := s.queries().Forecast(c.app(), fq, now)
	var denied *app.Forbidden
	switch {
	case errors.As(err, &denied):
		s.forbidden(w, c, "read this forecast")
		return f, false
	case err != nil:
		s.unavailable(w, c, err)
		return f, false
	}
	return f, true
}

// forecastCSV downloads the forecast the page shows, as the API's
// ?format=csv gives it.
func (s *Server) forecastCSV(w http.ResponseWriter, r *http.Request, c *call) {
	d, _ := s.planningForm(r.URL.Query(), s.now())
	asked, problem := s.askedScope(r)
	fq, ok := s.forecastQuery(c.app().PageScope(asked, s.reg()), d)
	if problem != "" || !ok || d.SocialWorker.Error != "" || d.PersonalAdviser.Error != "" {
		s.fail(w, c, http.StatusBadRequest, "There is no forecast to download for this address", "Go to the planning page, choose a region or an authority and the caseloads, and use its download link.")
		return
	}
	if s.Views == nil {
		s.fail(w, c, http.StatusServiceUnavailable, "No planning here", "This instance serves no views.")
		return
	}
	f, ok := s.forecast(w, c, fq, s.now())
	if !ok {
		return
	}
	downloadHeaders(w, app.ForecastFilename(f))
	app.WriteForecastCSV(w, f)
}

// trainingPlacesCSV downloads the training places the page shows, as the
// API's ?format=csv gives them.
func (s *Server) trainingPlacesCSV(w http.ResponseWriter, r *http.Request, c *call) {
	d, _ := s.planningForm(r.URL.Query(), s.now())
	if d.Places.Error != "" || d.From.Error != "" || d.To.Error != "" {
		s.fail(w, c, http.StatusBadRequest, "There are no training places to download for this address", "Go to the planning page, choose the places and the months, and use its download link.")
		return
	}
	if s.Views == nil {
		s.fail(w, c, http.StatusServiceUnavailable, "No planning here", "This instance serves no views.")
		return
	}
	places, _ := strconv.Atoi(d.Places.Value)
	shares, err := s.queries().TrainingPlaces(places, d.From.Value, d.To.Value, s.now())
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	downloadHeaders(w, app.TrainingPlacesFilename(places, d.From.Value, d.To.Value))
	app.WriteTrainingPlacesCSV(w, shares)
}

func downloadHeaders(w http.ResponseWriter, filename string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
}
