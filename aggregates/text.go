package aggregates

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxOffers bounds offersFound in one search (as its limit tag does; the
// decider names it in its refusal). Every other bound on what a command may
// carry is its field's limit tag (limits.go). Lengths are in characters
// (Unicode code points), as docs/openapi.yaml says, never in bytes.
const MaxOffers = 1000

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
	for i, r := range s {
		// Browsers send a text area's line breaks as CRLF: a CR is a line
		// break only just before a LF.
		if multiline && (r == '\n' || r == '\t' || (r == '\r' && strings.HasPrefix(s[i+1:], "\n"))) {
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
