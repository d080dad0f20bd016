package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Everything a person reads: London dates and times, working days, words.

// londonDate is "9 June 2025".
func londonDate(t time.Time) string { return inLondon(t, "2 January 2006") }

// londonTime is "9 June 2025, 14:05" (London).
func londonTime(t time.Time) string { return inLondon(t, "2 January 2006, 15:04") }

// londonSeconds is "9 June 2025, 14:05:09" (London), where seconds matter.
func londonSeconds(t time.Time) string { return inLondon(t, "2 January 2006, 15:04:05") }

// inLondon writes t as London reads it; no time at all is left blank, not
// written as the year 1.
func inLondon(t time.Time, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(calendar.London).Format(layout)
}

// dueWords describes a deadline: its London date and time (a deadline at
// the end of a working day reads "end of 9 June 2025").
func dueWords(due time.Time) string {
	if due.IsZero() {
		return "not set yet"
	}
	l := due.In(calendar.London)
	if l.Hour() == 23 && l.Minute() == 59 {
		return "the end of " + l.Format("Monday 2 January 2006")
	}
	return l.Format("Monday 2 January 2006, 15:04:05")
}

// timeLeft says how long is left before a deadline, in working days:
// "2 working days left", "due today", "1 working day overdue".
func timeLeft(cal *calendar.Calendar, due, now time.Time) string {
	if due.IsZero() {
		return "no deadline yet"
	}
	today, dueDay := calendar.DateOf(now), calendar.DateOf(due)
	if now.After(due) {
		n := cal.WorkingDaysBetween(dueDay, today)
		if n == 0 {
			return "overdue"
		}
		return plural(n, "working day") + " overdue"
	}
	if dueDay == today {
		return "due today"
	}
	return plural(cal.WorkingDaysBetween(today, dueDay), "working day") + " left"
}

func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case what == "child":
		return thousands(n) + " children"
	case strings.HasSuffix(what, "ch"):
		return thousands(n) + " " + what + "es"
	}
	return thousands(n) + " " + what + "s"
}

// stateWords are the deadline states as people say them, with the tag
// colour each gets.
var stateWords = map[string][2]string{
	aggregates.StatePending:  {"Deadline not set yet", "grey"},
	aggregates.StateOnTrack:  {"On track", "blue"},
	aggregates.StateAtRisk:   {"At risk", "yellow"},
	aggregates.StateBreached: {"Deadline missed", "red"},
	aggregates.StateMet:      {"Placed in time", "green"},
	aggregates.StateMissed:   {"Placed late", "orange"},
	aggregates.StateClosed:   {"Closed", "grey"},
}

type tag struct{ State, Text, Colour string }

func stateTag(state string) tag {
	w, ok := stateWords[state]
	if !ok {
		return tag{state, state, "grey"}
	}
	return tag{state, w[0], w[1]}
}

var statusWords = map[aggregates.Status]string{
	aggregates.StatusAwaitingAllocation: "Awaiting allocation",
	aggregates.StatusAwaitingAcceptance: "Awaiting the authority's answer",
	aggregates.StatusOpen:               "Open",
	aggregates.StatusPlaced:             "Placed",
	aggregates.StatusWithdrawn:          "Withdrawn",
	aggregates.StatusLeftCare:           "Left care",
}

var routeWords = map[string]string{
	events.RouteHotel:          "Interim hotel",
	events.RouteEntryAuthority: "Entry authority",
}

// whoWords names who must act.
func whoWords(s string) string {
	switch s {
	case "":
		return ""
	case "team-leader":
		return "Team leader"
	case "director":
		return "Director of children's services"
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "-", " ")
}

// placementTypeWords names the SSDA903 placement types.
var placementTypeWords = map[string]string{
	"A3": "placed for adoption (consent)", "A4": "placed for adoption (consent, with foster carer)",
	"A5": "placed for adoption (placement order)", "A6": "placed for adoption (placement order, with foster carer)",
	"H5": "semi-independent living", "K1": "secure children's home", "K2": "children's home",
	"P1": "with parents", "P2": "independent living", "P3": "residential employment",
	"R1": "residential care home", "R2": "NHS or health trust", "R3": "family centre", "R5": "young offender institution",
	"S1": "residential school", "T0": "temporary placement", "T1": "temporary: short break", "T2": "temporary: holiday",
	"T3": "temporary: hospital", "T4": "temporary: other",
	"U1": "foster: relative or friend (long term)", "U2": "foster: relative or friend (FFA)", "U3": "foster: relative or friend (other)",
	"U4": "foster: other carer (long term)", "U5": "foster: other carer (FFA)", "U6": "foster: other carer (other)",
	"Z1": "other placement",
}

func placementType(code string) string {
	if w, ok := placementTypeWords[code]; ok {
		return code + " (" + w + ")"
	}
	return code
}

var words = map[string]string{
	"in-house": "in-house", "commissioned": "commissioned",
	"merton-compliant": "Merton-compliant assessment by the authority", "naab": "National Age Assessment Board",
	"assessed-adult": "assessed as an adult", "missing": "the child is missing", "reallocated": "reallocated to another authority",
	"family-reunion": "family reunion", "error": "referred in error",
	"turned-18": "turned 18", "moved": "moved to another authority", "died": "died", "other": "another reason",
	"mash": "MASH", "commissioning": "commissioning", "placements": "placements", "fostering": "fostering",
	"health": "health", "education": "education", "police": "police",
	"female": "female", "male": "male", "unknown": "unknown",
}

func word(code string) string {
	if w, ok := words[code]; ok {
		return w
	}
	return code
}

func wordList(codes []string) string { return listWords(codes, word) }

// listWords says codes as a person lists them: "a", "a and b",
// "a, b and c", each code said by say.
func listWords(codes []string, say func(string) string) string {
	ws := make([]string, len(codes))
	for i, c := range codes {
		ws[i] = say(c)
	}
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " and " + ws[len(ws)-1]
}

func authorityName(reg *refdata.Registry, code string) string {
	if a, ok := reg.Lookup(code); ok {
		return a.Name
	}
	return code
}

// describe says what an event means, in the words a social worker uses.
func describe(reg *refdata.Registry, e events.Event) (title, detail string) {
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		from := "from " + d.Hotel
		if d.Route == events.RouteEntryAuthority {
			from = "from " + authorityName(reg, d.TransferringAuthority)
		}
		return "Referral received", fmt.Sprintf("%s received the referral %s (%s route).", authorityName(reg, d.ReceivingAuthority), from, strings.ToLower(routeWords[d.Route]))
	case events.ProfessionalsNotified:
		return "Referral form sent", fmt.Sprintf("%s sent the referral form to %s.", d.NotifiedBy, wordList(d.Professions))
	case events.PlacementSearched:
		s := fmt.Sprintf("%s search: %s found", capital(word(d.Track)), plural(d.OffersFound, "offer"))
		if len(d.PlacementTypes) > 0 {
			s += " (" + strings.Join(d.PlacementTypes, ", ") + ")"
		}
		return "Placement search recorded", s + "."
	case events.AgeAssessmentRequested:
		s := "Method: " + word(d.Method) + "."
		if d.Reason != "" {
			s += " Reason: " + d.Reason + "."
		}
		return "Age assessment requested", s
	case events.AgeAssessed:
		out := "a child"
		if d.Outcome == events.AgeOutcomeAdult {
			out = "an adult"
		}
		s := fmt.Sprintf("Assessed as %s (%s).", out, word(d.Method))
		if d.AssessedDateOfBirth != "" {
			s += " Assessed date of birth: " + d.AssessedDateOfBirth + "."
		}
		return "Age assessed", s
	case events.ReferralPlaced:
		return "Child placed", fmt.Sprintf("Placed with %s: %s.", d.Provider, placementType(d.PlacementType))
	case events.ReferralWithdrawn:
		s := "Reason: " + word(d.Reason) + "."
		if d.Detail != "" {
			s += " " + d.Detail
		}
		return "Referral withdrawn", s
	case events.ChildLeftCare:
		return "Left care", "Reason: " + word(d.Reason) + "."
	case events.DeadlineSet:
		span := "under policy " + d.Policy
		if d.WorkingDays > 0 {
			span = plural(d.WorkingDays, "working day") + ", " + span
		}
		return "Deadline set", fmt.Sprintf("The child should be placed by %s (%s).", dueWords(d.DueAt), span)
	case events.DeadlineWarning:
		s := "The deadline is near: " + dueWords(d.Deadline) + "."
		if d.EscalatedTo != "" {
			s += " " + whoWords(d.EscalatedTo) + " told."
		}
		return "Deadline warning", s
	case events.DeadlineBreached:
		return "Deadline missed", fmt.Sprintf("No placement by %s, after %s. %s must act.", dueWords(d.Deadline), plural(d.WorkingDaysElapsed, "working day"), whoWords(d.EscalatedTo))
	case events.DeadlineEscalated:
		return "Breach escalated", fmt.Sprintf("Still no placement: %s must act now.", whoWords(d.EscalatedTo))
	case events.ReferralReferred:
		from := "from " + d.Hotel
		if d.Route == events.RouteEntryAuthority {
			from = "from " + authorityName(reg, d.TransferringAuthority)
		}
		region, _ := refdata.RegionByName(d.Region)
		return "Referred into the scheme", fmt.Sprintf("Referred %s (%s route) for the %s partnership to allocate. The deadline runs from now.", from, strings.ToLower(routeWords[d.Route]), region)
	case events.ReferralAllocated:
		s := fmt.Sprintf("Allocated to %s by the rota (position %d); its contact must answer by %s.", authorityName(reg, d.Authority), d.Position, dueWords(d.RespondBy))
		if d.OverrideReason != "" {
			s = fmt.Sprintf("Allocated to %s by the partnership's choice: %s. Its contact must answer by %s.", authorityName(reg, d.Authority), d.OverrideReason, dueWords(d.RespondBy))
		}
		if len(d.Skipped) > 0 {
			var sk []string
			for _, x := range d.Skipped {
				sk = append(sk, authorityName(reg, x.Authority)+" ("+skipShort[x.Reason]+")")
			}
			s += " Passed over: " + strings.Join(sk, ", ") + "."
		}
		return "Allocated", s
	case events.AllocationAccepted:
		return "Allocation accepted", authorityName(reg, d.Authority) + " accepted the child."
	case events.AllocationException:
		return "Exception raised", fmt.Sprintf("%s declined this child: %s. The partnership allocates again.", authorityName(reg, d.Authority), d.Reason)
	case events.AllocationReminded:
		return "Answer reminded", fmt.Sprintf("%s's contact was reminded to answer by %s.", authorityName(reg, d.Authority), dueWords(d.RespondBy))
	case events.AllocationEscalated:
		return "Answer overdue", fmt.Sprintf("%s did not answer by %s: %s must act.", authorityName(reg, d.Authority), dueWords(d.RespondBy), whoWords(d.EscalatedTo))
	case events.ChildDetailCorrected:
		who := "the authority"
		if d.Corrector == aggregates.CorrectorDataProtection {
			who = "the data protection officer"
		}
		return "Child's details corrected", fmt.Sprintf("%s corrected to %s by %s. Reason: %s", capital(label(d.Field)), d.NewValue, who, d.Reason)
	case events.SubjectAccessExported:
		return "Record exported", fmt.Sprintf("Everything held about the child (%s) was exported for a subject access request. Reason: %s", plural(d.Events, "event"), d.Reason)
	case events.AuthorityPledgeSet:
		return "Pledge set", fmt.Sprintf("%s pledged %s.", authorityName(reg, d.Authority), plural(d.Pledge, "place"))
	}
	return "Recorded: " + e.Type, "This engine cannot read this kind of event; a newer engine can."
}

// label is a correctable field's name in words.
func label(field string) string {
	switch field {
	case aggregates.FieldDateOfBirth:
		return "date of birth"
	case aggregates.FieldNationality:
		return "nationality"
	}
	return field
}

var skipShort = map[string]string{
	events.SkipPaused: "paused", events.SkipDeclinedThisChild: "declined this child",
	events.SkipAtThreshold: "at its threshold", events.SkipPledgeMet: "pledge used up",
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// actorWords names who recorded an event.
func actorWords(a string) string {
	switch a {
	case "deadline-saga":
		return "the engine's deadline watch"
	case "allocation-saga":
		return "the engine's allocation watch"
	case "", "anonymous":
		return "not recorded"
	}
	return a
}

// formatPopulation writes 63903 as "63,903".
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// decimal writes a threshold without rounding it away (63.903 stays
// 63.903), to the thousandth a threshold is counted in, so a region's sum
// does not show floating-point dust.
func decimal(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64) }

// thresholdCount is a threshold as a count of children: the number at which an
// authority reaches it. At 28.845 that is the 29th child, so it rounds up,
// as the capacity view's headroom does; the exact figure (decimal) stays
// beside it where the rate itself is meant.
func thresholdCount(threshold float64) int { return int(math.Ceil(threshold - 1e-9)) }

// percent writes a share as a percentage with one decimal: 0.6764 is 67.6%.
func percent(f *float64) string {
	if f == nil {
		return "none placed"
	}
	return strconv.FormatFloat(*f*100, 'f', 1, 64) + "%"
}

func days(f *float64) string {
	if f == nil {
		return "none placed"
	}
	return plural(int(*f), "working day")
}
