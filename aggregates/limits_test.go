package aggregates

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// allCommands is one value of every command type. The test below reads
// this package's source for every type with a CommandName method, so a
// command added without joining this list fails it.
var allCommands = []Command{
	SetContact{}, SetPledge{}, ReportMissing{}, RecordReturn{}, NotifySafeguarding{}, RecordStrategyDiscussion{},
	RecordReturnInterview{}, RecordStrategyOverdue{}, RecordInterviewWarning{}, RecordInterviewBreach{}, SetDateOfBirth{},
	RecordLeaveToRemain{}, InvolveLeavingCare{}, RecordTriplePlanning{}, BecomeCareLeaver{}, ReceiveReferral{},
	NotifyProfessionals{}, RecordPlacementSearch{}, RequestAgeAssessment{}, RecordAgeAssessment{}, Place{},
	AcceptAllocation{}, RaiseAllocationException{}, RecordAllocationReminder{}, RecordAllocationEscalation{}, Withdraw{},
	RecordLeftCare{}, SetDeadline{}, RecordDeadlineWarning{}, RecordDeadlineEscalation{}, RecordDeadlineBreach{},
	SetRota{}, PauseAuthority{}, EndPause{}, Allocate{}, SetWorker{}, MarkWorkerAway{}, RecordWorkerLeft{}, AllocateWorker{},
	CorrectChildDetail{}, RecordSubjectAccess{},
	PlaceLegalHold{}, ReleaseLegalHold{}, Dispose{},
}

// Issue 21, item 5: no command can forget a limit. Every field a client
// can set declares one, or every command of its type is refused.
func TestEveryCommandDeclaresItsLimits(t *testing.T) {
	declared := commandTypesInSource(t)
	var listed []string
	for _, c := range allCommands {
		listed = append(listed, reflect.TypeOf(c).Name())
		if _, err := Limits(c); err != nil {
			t.Error(err)
		}
	}
	sort.Strings(listed)
	if strings.Join(declared, " ") != strings.Join(listed, " ") {
		t.Errorf("commands in the source:\n  %v\nin allCommands:\n  %v", declared, listed)
	}
}

// A field a client can set with no limit refuses its command: a fault of
// the build, said plainly, never a silent pass.
func TestAFieldWithoutALimitRefusesItsCommand(t *testing.T) {
	type forgot struct {
		Name  string `json:"name" limit:"max=10"`
		Notes string `json:"notes"`
	}
	err := CheckInput(forgot{Name: "x"})
	var ref *Refusal
	if err == nil || errors.As(err, &ref) || !strings.Contains(err.Error(), `("notes") declares no limit`) {
		t.Errorf("got %v", err)
	}
	type halfBound struct {
		N int `json:"n" limit:"min=1"`
	}
	if err := CheckInput(halfBound{}); err == nil {
		t.Error("a number with no maximum passed")
	}
}

func TestCheckInput(t *testing.T) {
	one, zero, big := 1, 0, 1001
	many := make([]string, 21)
	for i := range many {
		many[i] = "police"
	}
	held := time.Date(2025, 6, 11, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		when  any
		field string // "" when accepted
		says  string
	}{
		{"no episode: the latest", RecordStrategyDiscussion{HeldAt: held, Attendees: []string{"police"}}, "", ""},
		{"episode 1", RecordStrategyDiscussion{Episode: &one, HeldAt: held, Attendees: []string{"police"}}, "", ""},
		{"episode 0", RecordStrategyDiscussion{Episode: &zero, HeldAt: held, Attendees: []string{"police"}}, "episode", "from 1 to 1000 (got 0)"},
		{"episode 1001", RecordReturnInterview{Episode: &big, OfferedBy: "x"}, "episode", "from 1 to 1000"},
		{"21 attendees", RecordStrategyDiscussion{Attendees: many}, "attendees", "lists 21 entries; at most 20"},
		{"an attendee with a NUL", RecordStrategyDiscussion{Attendees: []string{"police", "health\x00"}}, "attendees", "entry 2 holds the control character U+0000"},
		{"a contact's name over two lines", SetContact{Mailbox: "a@b.gov.uk", Name: "UASC\nsingle point"}, "name", "runs over more than one line"},
		{"a pause reason of 500", PauseAuthority{Reason: strings.Repeat("é", 500)}, "", ""},
		{"a pause reason of 501", PauseAuthority{Reason: strings.Repeat("é", 501)}, "reason", "longer than 500 characters"},
		{"an allocation reason with NUL", Allocate{Authority: "E08000007", Reason: "sibling\x00"}, "reason", "control character U+0000"},
		{"an exception reason over lines", RaiseAllocationException{Reason: "no placement\nthis week"}, "", ""},
		{"an exception reason over lines, as a browser sends them", RaiseAllocationException{Reason: "no placement\r\nthis week"}, "", ""},
		{"an exception reason with a lone CR", RaiseAllocationException{Reason: "no placement\rthis week"}, "reason", "control character U+000D"},
		{"an exception reason of 2001", RaiseAllocationException{Reason: strings.Repeat("a", 2001)}, "reason", "longer than 2000"},
		{"a police reference of 101", ReportMissing{LastSeen: "x", PoliceReference: strings.Repeat("a", 101)}, "policeReference", "longer than 100"},
		{"a worker's caseload cap of 0", SetWorker{Name: "A", CaseloadCap: &zero}, "caseloadCap", "from 1 to 100"},
		{"a pointer to a command", &Allocate{Reason: strings.Repeat("a", 501)}, "reason", "longer than 500"},
		{"shell-supplied facts are not input", Allocate{Members: []string{strings.Repeat("x", 9999)}}, "", ""},
	} {
		err := CheckInput(c.when)
		var ref *Refusal
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field == "":
		case !errors.As(err, &ref) || ref.Field != c.field || ref.Kind != Invalid || !strings.Contains(ref.Message, c.says):
			t.Errorf("%s: want an invalid %s saying %q, got %v", c.name, c.field, c.says, err)
		}
	}
}

// The check runs two or three times per command (API, engine, referral
// decider): it should cost microseconds against the milliseconds a
// command takes.
func BenchmarkCheckInput(b *testing.B) {
	age := 15
	c := ReceiveReferral{ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Interim hotel A", ChildReference: "HO-2025-0001",
		ClaimedAge: &age, Languages: []string{"Pashto", "Dari"}, Needs: []string{"asthma"}, ReceivedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckInput(c); err != nil {
			b.Fatal(err)
		}
	}
}
