package aggregates

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on what a command may carry. Lengths are in characters (Unicode
// code points), as docs/openapi.yaml says, never in bytes.
const (
	MaxReferenceLength = 64   // childReference
	MaxNameLength      = 200  // hotel, provider, notifiedBy
	MaxShortTextLength = 100  // nationality, a language
	MaxTextLength      = 2000 // reasons and details
	MaxNeedLength      = 500  // one need
	MaxListLength      = 50   // languages, needs, professions, placement types
	MaxOffers          = 1000 // offersFound in one search
)

// blank reports whether s has nothing a person could read: empty, spaces,
// or only invisible characters (NUL, zero-width spaces and the like).
func blank(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsGraphic(r) && !unicode.IsSpace(r) }) < 0
}

// textProblem says what is wrong with a piece of text, or "" if nothing:
// not valid UTF-8, spaces around it, a control or formatting character
// (NUL, ANSI escapes, bidirectional overrides, zero-width spaces; newlines
// and tabs only where multiline), or more than max characters.
func textProblem(s string, max int, multiline bool) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.TrimSpace(s) != s:
		return "has spaces before or after it"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		// Zero-width (non-)joiners are part of how some scripts spell names.
		if unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d') || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("holds the control character %U", r)
		}
	}
	return ""
}

// TextProblem says what is wrong with a one-line piece of text of at most
// max characters (for the shell's own fields, such as the person a header
// names), or "" if nothing.
func TextProblem(s string, max int) string {
	if blank(s) {
		return "has nothing readable in it"
	}
	return textProblem(s, max, false)
}

type textField struct {
	name      string
	value     string
	max       int
	multiline bool
}

// checkText refuses a command whose text is not clean (see textProblem) or
// whose lists are too long. Whether a field is required is the decider's
// business; text that is present must be clean.
func checkText(cmd Command) error {
	var fields []textField
	lists := map[string][]string{}
	switch c := cmd.(type) {
	case ReceiveReferral:
		fields = []textField{{"receivingAuthority", c.ReceivingAuthority, 9, false}, {"route", c.Route, 20, false},
			{"transferringAuthority", c.TransferringAuthority, 9, false}, {"hotel", c.Hotel, MaxNameLength, false},
			{"childReference", c.ChildReference, MaxReferenceLength, false}, {"dateOfBirth", c.DateOfBirth, 10, false},
			{"sex", c.Sex, 20, false}, {"nationality", c.Nationality, MaxShortTextLength, false}}
		for _, l := range c.Languages {
			fields = append(fields, textField{"languages", l, MaxShortTextLength, false})
		}
		for _, n := range c.Needs {
			fields = append(fields, textField{"needs", n, MaxNeedLength, false})
		}
		lists["languages"], lists["needs"] = c.Languages, c.Needs
	case NotifyProfessionals:
		fields = []textField{{"notifiedBy", c.NotifiedBy, MaxNameLength, false}}
		lists["professions"] = c.Professions
	case RecordPlacementSearch:
		lists["placementTypes"] = c.PlacementTypes
	case RequestAgeAssessment:
		fields = []textField{{"reason", c.Reason, MaxTextLength, true}}
	case Place:
		fields = []textField{{"provider", c.Provider, MaxNameLength, false}}
	case Withdraw:
		fields = []textField{{"detail", c.Detail, MaxTextLength, true}}
	}
	for name, l := range lists {
		if len(l) > MaxListLength {
			return invalid(name, "a list of at most %d", MaxListLength)
		}
	}
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if p := textProblem(f.value, f.max, f.multiline); p != "" {
			return invalid(f.name, "the %s %s", f.name, p)
		}
	}
	return nil
}
