package api

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/ntsflow/ntsflow/aggregates"
)

// FuzzDecodeCommand: any body, for any command, gets either a decoded
// command or a 4xx error with a code; never a panic or a 5xx.
func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{
		`{"receivingAuthority":"E08000007","route":"hotel","hotel":"Hotel A","childReference":"HO-123","claimedAge":15,"receivedAt":"2025-06-02T10:00:00Z","languages":["Pashto"]}`,
		`{"professions":["health","police"],"notifiedBy":"team leader"}`,
		`{"track":"in-house","offersFound":2,"placementTypes":["U1"]}`,
		`{"placementType":"U1","provider":"p","placedAt":"2025-06-03T09:00:00Z"}`,
		`{"reason":"missing"}`, `{"pledge":4}`, `{"episode":0,"attendees":["police","\u0000"]}`, `{"sequence":0}`, `{"name":"a\nb","caseloadCap":101}`, `[[[[[[]]]]]]`, `{"a":"\ud800"}`, "{\"hotel\":\"\xff\"}", `{"claimedAge":1e400}`,
	} {
		for kind := range byte(24) {
			f.Add(kind, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		targets := []any{&aggregates.ReceiveReferral{}, &aggregates.NotifyProfessionals{}, &aggregates.RecordPlacementSearch{}, &aggregates.RequestAgeAssessment{},
			&aggregates.RecordAgeAssessment{}, &aggregates.Place{}, &aggregates.Withdraw{}, &aggregates.RecordLeftCare{}, &aggregates.SetPledge{},
			&aggregates.Allocate{}, &aggregates.RaiseAllocationException{}, &aggregates.SetRota{}, &aggregates.PauseAuthority{}, &aggregates.SetContact{},
			&aggregates.SetWorker{}, &aggregates.MarkWorkerAway{}, &aggregates.AllocateWorker{}, &aggregates.ReportMissing{}, &aggregates.RecordReturn{},
			&aggregates.RecordStrategyDiscussion{}, &aggregates.RecordReturnInterview{}, &aggregates.SetDateOfBirth{}, &aggregates.RecordLeaveToRemain{}, &replayRequest{}}
		v := targets[int(kind)%len(targets)]
		r := httptest.NewRequest("POST", "/v1/referrals", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if e := decodeBody(r, v); e != nil {
			if e.status < 400 || e.status >= 500 || e.Code == "" || e.Message == "" {
				t.Fatalf("bad error for %q: %+v", body, e)
			}
		}
	})
}
