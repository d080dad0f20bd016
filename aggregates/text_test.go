package aggregates

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/events"
)

// Issue 12, items 7-9: numbers are bounded, lengths are characters, text
// carries no control characters, and invisible text is no text.
func TestTextAndNumberBounds(t *testing.T) {
	open := []events.Event{gReceived}
	for _, c := range []struct {
		name  string
		given []events.Event
		when  Command
		field string // "" when accepted
	}{
		{"offersFound at the largest int", open, RecordPlacementSearch{Track: "in-house", OffersFound: intp(math.MaxInt)}, "offersFound"},
		{"offersFound at the bound", open, RecordPlacementSearch{Track: "in-house", OffersFound: intp(MaxOffers)}, ""},
		{"64 characters then spaces", nil, mod(func(c *ReceiveReferral) { c.ChildReference = strings.Repeat("x", 64) + strings.Repeat(" ", 1000) }), "childReference"},
		{"65 characters", nil, mod(func(c *ReceiveReferral) { c.ChildReference = strings.Repeat("x", 65) }), "childReference"},
		{"64 characters of two bytes each", nil, mod(func(c *ReceiveReferral) { c.ChildReference = strings.Repeat("é", 64) }), ""},
		{"a NUL in a reference", nil, mod(func(c *ReceiveReferral) { c.ChildReference = "HO\x001" }), "childReference"},
		{"an ANSI escape in a hotel", nil, mod(func(c *ReceiveReferral) { c.Hotel = "\x1b[31mHotel" }), "hotel"},
		{"a newline in a reference", nil, mod(func(c *ReceiveReferral) { c.ChildReference = "HO-1\nHO-2" }), "childReference"},
		{"a bidi override in a need", nil, mod(func(c *ReceiveReferral) { c.Needs = []string{"asthma\u202e"} }), "needs"},
		{"a reference of only NUL", nil, mod(func(c *ReceiveReferral) { c.ChildReference = "\x00" }), "childReference"},
		{"a reference of only a zero-width space", nil, mod(func(c *ReceiveReferral) { c.ChildReference = "\u200b" }), "childReference"},
		{"a hotel of only a zero-width space", nil, mod(func(c *ReceiveReferral) { c.Hotel = "\u200b" }), "hotel"},
		{"a name with a zero-width non-joiner", nil, mod(func(c *ReceiveReferral) { c.Hotel = "می\u200cخواهم" }), ""},
		{"too many languages", nil, mod(func(c *ReceiveReferral) { c.Languages = make([]string, 51) }), "languages"},
		{"notifiedBy of only a zero-width space", open, NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "\u200b"}, "notifiedBy"},
		{"a provider of only NUL", open, Place{PlacementType: "U1", Provider: "\x00", PlacedAt: placedAt}, "provider"},
		{"a withdrawal detail over two lines", open, Withdraw{Reason: "missing", Detail: "seen at the station\nnot since"}, ""},
		{"a withdrawal detail with a bell", open, Withdraw{Reason: "missing", Detail: "seen\a"}, "detail"},
	} {
		var r Referral
		for _, e := range c.given {
			r = Evolve(r, e)
		}
		_, err := Decide(r, c.when, now)
		var ref *Refusal
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field != "" && (!errors.As(err, &ref) || ref.Field != c.field || ref.Kind != Invalid):
			t.Errorf("%s: want an invalid %s, got %v", c.name, c.field, err)
		}
	}
}
