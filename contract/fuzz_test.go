package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// FuzzPublicEncode: whatever the personal data of a referral, the public
// message is valid JSON with the documented fields only, and carries none
// of it.
func FuzzPublicEncode(f *testing.F) {
	f.Add("HO-1", "Eritrean", "Tigrinya", "asthma", "2010-02-03", "Hotel A", "Provider X", "seen at the station", "U1")
	f.Add("", "", "", "", "", "", "", "", "")
	f.Add(`"},"x":1`, "\u2028", "\x00", "E08000007", "hotel", "placed", "received", "North West", "K2")
	f.Fuzz(func(t *testing.T, ref, nationality, language, need, dob, hotel, provider, detail, placement string) {
		at := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
		received := events.Event{ID: "e1", Type: events.TypeReferralReceived, AggregateID: "r1", OccurredAt: at, RecordedAt: at,
			Data: events.ReferralReceived{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "hotel", Hotel: hotel, ChildReference: ref, DateOfBirth: dob, Nationality: nationality, Languages: []string{language}, Needs: []string{need}}}
		ref0 := aggregates.Evolve(aggregates.Referral{}, received)
		personal := []string{ref, nationality, language, need, dob, hotel, provider, detail}
		for _, e := range []events.Event{
			received,
			{ID: "e2", Type: events.TypeReferralPlaced, AggregateID: "r1", OccurredAt: at, RecordedAt: at, Data: events.ReferralPlaced{PlacementType: placement, Provider: provider, PlacedAt: at}},
			{ID: "e3", Type: events.TypeReferralWithdrawn, AggregateID: "r1", OccurredAt: at, RecordedAt: at, Data: events.ReferralWithdrawn{Reason: "missing", Detail: detail}},
		} {
			m, ok, err := Encode(e, Context{Referral: ref0, Region: "North West"})
			if err != nil || !ok {
				t.Fatalf("%s: %v %v", e.Type, ok, err)
			}
			var p map[string]any
			if err := json.Unmarshal(m.Data, &p); err != nil {
				t.Fatalf("not JSON: %s", m.Data)
			}
			allowed := map[string]bool{"referralId": true, "authority": true, "region": true, "route": true, "transferringAuthority": true, "occurredAt": true, "recordedAt": true, "receivedAt": true, "placementType": true, "placedAt": true, "withdrawalReason": true, "deadline": true, "escalatedTo": true}
			for k := range p {
				if !allowed[k] {
					t.Fatalf("undocumented field %q", k)
				}
			}
			for _, v := range p {
				s, _ := v.(string)
				for _, secret := range personal {
					if len(secret) >= 4 && s != "" && strings.Contains(s, secret) && !strings.Contains("r1 E08000007 North West hotel missing "+placement+" 2025-06-02T10:00:00Z", secret) {
						t.Fatalf("%s: a personal value %q is in %q", e.Type, secret, s)
					}
				}
			}
		}
	})
}
