package aggregates

import (
	"regexp"
	"sort"
)

// The code sets a referral's commands are checked against. Each names its
// source; an operator who needs another code changes it here, in one place.

// PlacementTypes are the DfE SSDA903 "placement type" (PLACE) codes of the
// children looked after return (DfE, "Children looked after by local
// authorities in England: technical specification", code set "Placement
// type"). Adoption placements (A3-A6) are kept: the code set is the
// return's, not ours to trim.
var PlacementTypes = set(
	"A3", "A4", "A5", "A6", // placed for adoption
	"H5",       // semi-independent living accommodation not subject to children's homes regulations
	"K1", "K2", // secure children's home; children's home
	"P1", "P2", "P3", // with parents; independent living; residential employment
	"R1", "R2", "R3", "R5", // residential care home; NHS/health trust; family centre; young offender institution
	"S1",                         // residential school
	"T0", "T1", "T2", "T3", "T4", // temporary placements
	"U1", "U2", "U3", "U4", "U5", "U6", // foster placements
	"Z1", // other placements
)

// Professions that receive the single referral form (DOMAIN.md: Stockport's
// practice sends one form to all of them at once).
var Professions = set("commissioning", "placements", "fostering", "health", "education", "mash", "police")

// SearchTracks: placement search runs on twin tracks.
var SearchTracks = set("in-house", "commissioned")

// AgeAssessmentMethods: a Merton-compliant assessment by the authority, or
// the National Age Assessment Board.
var AgeAssessmentMethods = set("merton-compliant", "naab")

// WithdrawalReasons: why a referral ends without a placement.
var WithdrawalReasons = set("assessed-adult", "missing", "reallocated", "family-reunion", "error")

// LeftCareReasons: why a placed child is no longer looked after here.
// LeftCareDied is also a fact the retention policy weighs (a death before
// 18 sets the period: sagas/retention).
var LeftCareReasons = set("turned-18", "moved", LeftCareDied, "other")

// LeftCareDied: the child died.
const LeftCareDied = "died"

// Sexes as recorded on the referral form.
var Sexes = set("female", "male", "unknown")

// onsAuthority matches the ONS codes of English authorities with children's
// services: unitary (E06), metropolitan district (E08), London borough (E09)
// and county (E10). Whether the code names a real authority is checked
// against the reference data by the shell, which knows it.
var onsAuthority = regexp.MustCompile(`^E(06|08|09|10)[0-9]{6}$`)

// ValidAuthorityCode reports whether code has the shape of an ONS code of
// an English authority with children's services.
func ValidAuthorityCode(code string) bool { return onsAuthority.MatchString(code) }

// CodeSet is a fixed set of codes: made once here, read everywhere, changed
// by no one at run time.
type CodeSet struct{ codes map[string]bool }

func set(codes ...string) CodeSet {
	s := CodeSet{codes: map[string]bool{}}
	for _, c := range codes {
		s.codes[c] = true
	}
	return s
}

// Has reports whether code is in the set.
func (s CodeSet) Has(code string) bool { return s.codes[code] }

// List returns the codes in order, for error messages and documentation.
func (s CodeSet) List() []string {
	out := make([]string, 0, len(s.codes))
	for c := range s.codes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
