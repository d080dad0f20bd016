package projections

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

var cal = calendar.Default()

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func received(id, authority, when string) events.Event {
	return events.Event{AggregateID: id, Type: events.TypeReferralReceived, OccurredAt: at(when), Data: events.ReferralReceived{ReferralID: id, ReceivingAuthority: authority, Route: "hotel"}}
}
func placed(id, when string) events.Event {
	return events.Event{AggregateID: id, Type: events.TypeReferralPlaced, Data: events.ReferralPlaced{PlacementType: "U1", Provider: "p", PlacedAt: at(when)}}
}
func withdrawn(id string) events.Event {
	return events.Event{AggregateID: id, Type: events.TypeReferralWithdrawn, Data: events.ReferralWithdrawn{Reason: "missing"}}
}
func leftCare(id string) events.Event {
	return events.Event{AggregateID: id, Type: events.TypeChildLeftCare, Data: events.ChildLeftCare{Reason: "turned-18"}}
}
func pledge(authority string, n int) events.Event {
	return events.Event{AggregateID: authority, Type: events.TypeAuthorityPledgeSet, Data: events.AuthorityPledgeSet{Authority: authority, Pledge: n}}
}
func deadlineSet(id, receivedAt string) events.Event {
	r := at(receivedAt)
	due := cal.AddWorkingDays(calendar.DateOf(r), 5).End()
	warn := cal.AddWorkingDays(calendar.DateOf(due), -1).End()
	return events.Event{AggregateID: id, Type: events.TypeDeadlineSet, Data: events.DeadlineSet{Route: "hotel", Policy: "p", WorkingDays: 5, DueAt: due, WarningAt: warn}}
}
func breached(id string) events.Event {
	return events.Event{AggregateID: id, Type: events.TypeDeadlineBreached, Data: events.DeadlineBreached{EscalatedTo: "team-leader"}}
}

// registry with populations: Stockport 57,300 children (threshold 57.3),
// Hartlepool exactly 20,000 (threshold 20.0), everyone else 10,000.
func registry(t *testing.T) *refdata.Registry {
	reg := refdata.Default()
	var b strings.Builder
	b.WriteString("ons_code,population_0_17,year,source\n")
	for _, a := range reg.Authorities() {
		n := 10000
		switch a.Code {
		case "E08000007":
			n = 57300
		case "E06000001":
			n = 20000
		}
		fmt.Fprintf(&b, "%s,%d,test,test figures\n", a.Code, n)
	}
	p := filepath.Join(t.TempDir(), "pop.csv")
	os.WriteFile(p, []byte(b.String()), 0o600)
	if err := reg.LoadPopulation(p); err != nil {
		t.Fatal(err)
	}
	return reg
}

func fold[V any](spec Spec[V], evs ...events.Event) V {
	v := spec.New()
	for _, e := range evs {
		v = spec.Apply(v, e)
	}
	return v
}

func row(rep CapacityReport, code string) CapacityRow {
	for _, r := range rep.Authorities {
		if r.Code == code {
			return r
		}
	}
	panic(code)
}

func TestCapacityFold(t *testing.T) {
	var evs []events.Event
	// Stockport: 57 placed, 1 in flight, 1 withdrawn, 1 left care.
	for i := range 58 {
		id := fmt.Sprint("s", i)
		evs = append(evs, received(id, "E08000007", "2025-06-02T10:00:00Z"), placed(id, "2025-06-04T10:00:00Z"))
	}
	evs = append(evs, leftCare("s0"), received("s-open", "E08000007", "2025-06-02T10:00:00Z"), received("s-w", "E08000007", "2025-06-02T10:00:00Z"), withdrawn("s-w"))
	// Hartlepool: exactly at its threshold of 20.
	for i := range 20 {
		id := fmt.Sprint("h", i)
		evs = append(evs, received(id, "E06000001", "2025-06-02T10:00:00Z"), placed(id, "2025-06-03T10:00:00Z"))
	}
	// Events about referrals the view never saw received change nothing.
	evs = append(evs, placed("ghost", "2025-06-03T10:00:00Z"), withdrawn("ghost"))
	rep := ReportCapacity(fold(CapacitySpec(), evs...), registry(t))

	s := row(rep, "E08000007")
	// The child accepted and not yet placed counts: 58 against 57.3.
	if s.LookedAfter != 57 || s.InFlight != 1 || *s.Threshold != 57.3 || *s.Headroom != 0 || !*s.AtOrAboveThreshold {
		t.Errorf("Stockport, 57 placed and 1 accepted against 57.3: %+v headroom %d above %v", s, *s.Headroom, *s.AtOrAboveThreshold)
	}
	h := row(rep, "E06000001")
	if h.LookedAfter != 20 || *h.Threshold != 20 || *h.Headroom != 0 || !*h.AtOrAboveThreshold {
		t.Errorf("Hartlepool, 20 against exactly 20: headroom %d above %v", *h.Headroom, *h.AtOrAboveThreshold)
	}
	o := row(rep, "E06000002")
	if o.LookedAfter != 0 || *o.Threshold != 10 || *o.Headroom != 10 || *o.AtOrAboveThreshold || o.Pledge != nil {
		t.Errorf("an authority with nothing: %+v", o)
	}
	var nw CapacityRow
	for _, r := range rep.Regions {
		if r.Name == "North West" {
			nw = r
		}
	}
	if nw.LookedAfter != 57 || nw.InFlight != 1 || *nw.Headroom != 0+23*10 {
		t.Errorf("North West: %+v headroom %d", nw, *nw.Headroom)
	}
}

func TestCapacityWithoutPopulationSaysWhy(t *testing.T) {
	rep := ReportCapacity(fold(CapacitySpec(), received("a", "E08000007", "2025-06-02T10:00:00Z")), refdata.DefaultAuthorities())
	if r := row(rep, "E08000007"); r.Threshold != nil || r.Headroom != nil || r.InFlight != 1 {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(rep.Note, "--population") {
		t.Errorf("note: %q", rep.Note)
	}
}

func TestPledge(t *testing.T) {
	v := fold(CapacitySpec(),
		received("before", "E08000007", "2025-06-01T10:00:00Z"), // before the pledge: does not use it
		pledge("E08000007", 4),
		received("a", "E08000007", "2025-06-02T10:00:00Z"), received("b", "E08000007", "2025-06-02T10:00:00Z"),
		received("c", "E08000007", "2025-06-02T10:00:00Z"), withdrawn("c"), // withdrawn: gives the place back
	)
	r := row(ReportCapacity(v, refdata.Default()), "E08000007")
	if *r.Pledge != 4 || *r.PledgeRemaining != 2 {
		t.Errorf("pledge %d remaining %d, want 4 and 2", *r.Pledge, *r.PledgeRemaining)
	}
}

func TestTimelinessFold(t *testing.T) {
	// Five Stockport referrals received Monday 2 June 2025 (hotel: due Monday 9 June).
	evs := []events.Event{}
	for i, placedOn := range []string{"2025-06-03T10:00:00Z", "2025-06-04T10:00:00Z", "2025-06-06T10:00:00Z", "2025-06-09T20:00:00Z", "2025-06-12T10:00:00Z"} {
		id := fmt.Sprint("t", i)
		evs = append(evs, received(id, "E08000007", "2025-06-02T10:00:00Z"), deadlineSet(id, "2025-06-02T10:00:00Z"))
		if i == 4 {
			evs = append(evs, breached(id))
		}
		evs = append(evs, placed(id, placedOn))
	}
	// A quick placement before the saga set the deadline still counts.
	evs = append(evs, received("quick", "E08000007", "2025-06-02T10:00:00Z"), placed("quick", "2025-06-02T15:00:00Z"), deadlineSet("quick", "2025-06-02T10:00:00Z"))
	// Open ones: at risk and breached at the time of reading.
	evs = append(evs, received("risk", "E06000001", "2025-06-03T10:00:00Z"), deadlineSet("risk", "2025-06-03T10:00:00Z"))
	evs = append(evs, received("late", "E06000001", "2025-05-20T10:00:00Z"), deadlineSet("late", "2025-05-20T10:00:00Z"))
	evs = append(evs, received("fine", "E06000001", "2025-06-09T10:00:00Z"), deadlineSet("fine", "2025-06-09T10:00:00Z"))

	v := fold(TimelinessSpec(cal), evs...)
	rep := ReportTimeliness(v, refdata.Default(), TimelinessFilter{Authority: "E08000007"}, at("2025-06-09T12:00:00Z"))
	if len(rep.ByAuthorityMonth) != 1 {
		t.Fatalf("rows %+v", rep.ByAuthorityMonth)
	}
	r := rep.ByAuthorityMonth[0]
	// Working days to placement: 1, 2, 4, 5, 8 and 0.
	if r.Received != 6 || r.Placed != 6 || r.PlacedWithin != 5 || r.Breaches != 1 || *r.ShareWithin != 5.0/6 || *r.MedianDays != 2 || *r.P90Days != 8 || r.Month != "2025-06" || r.Region != "North West" {
		t.Errorf("Stockport June: %+v median %v p90 %v share %v", r, *r.MedianDays, *r.P90Days, *r.ShareWithin)
	}
	all := ReportTimeliness(v, refdata.Default(), TimelinessFilter{}, at("2025-06-06T23:30:00Z"))
	var ids []string
	for _, a := range all.AtRiskNow {
		ids = append(ids, a.ReferralID+":"+a.State)
	}
	// "late" was due 27 May (breached), "risk" is due 10 June and its warning
	// fell at the end of 9 June... so on the evening of 6 June only "late".
	if strings.Join(ids, ",") != "late:breached" {
		t.Errorf("at risk on 6 June: %v", ids)
	}
	all = ReportTimeliness(v, refdata.Default(), TimelinessFilter{}, at("2025-06-10T12:00:00Z"))
	ids = nil
	for _, a := range all.AtRiskNow {
		ids = append(ids, a.ReferralID+":"+a.State)
	}
	if strings.Join(ids, ",") != "late:breached,risk:at-risk" {
		t.Errorf("at risk on 10 June, ordered by deadline: %v", ids)
	}
	if may := ReportTimeliness(v, refdata.Default(), TimelinessFilter{From: "2025-05", To: "2025-05"}, at("2025-06-10T12:00:00Z")); may.Total.Received != 1 || len(may.ByMonth) != 1 {
		t.Errorf("May only: %+v", may.Total)
	}
	if nw := ReportTimeliness(v, refdata.Default(), TimelinessFilter{Region: "North East"}, at("2025-06-10T12:00:00Z")); nw.Total.Received != 3 || nw.Total.MedianDays != nil || nw.Total.ShareWithin != nil {
		t.Errorf("North East: %+v", nw.Total)
	}
}

func TestReferralListFilterAndPage(t *testing.T) {
	var evs []events.Event
	for i := range 7 {
		id := fmt.Sprint("r", i)
		evs = append(evs, received(id, "E08000007", fmt.Sprintf("2025-06-%02dT10:00:00Z", 2+i)), deadlineSet(id, fmt.Sprintf("2025-06-%02dT10:00:00Z", 2+i)))
	}
	evs = append(evs, placed("r0", "2025-06-03T10:00:00Z"), withdrawn("r1"), received("x", "E06000001", "2025-06-02T10:00:00Z"))
	v := fold(ReferralListSpec(), evs...)
	reg := refdata.Default()
	now := at("2025-06-20T10:00:00Z")
	p := ListReferrals(v, reg, ReferralFilter{Authority: "E08000007", Limit: 3}, now)
	if p.Total != 7 || len(p.Referrals) != 3 || p.Referrals[0].ReferralID != "r6" || *p.Next != 3 {
		t.Fatalf("first page: %+v", p)
	}
	last := ListReferrals(v, reg, ReferralFilter{Authority: "E08000007", Offset: 6, Limit: 3}, now)
	if len(last.Referrals) != 1 || last.Next != nil || last.Referrals[0].ReferralID != "r0" {
		t.Fatalf("last page: %+v", last)
	}
	if p := ListReferrals(v, reg, ReferralFilter{Status: "withdrawn", Limit: 10}, now); p.Total != 1 || p.Referrals[0].DeadlineState != "closed" {
		t.Fatalf("withdrawn: %+v", p)
	}
	if p := ListReferrals(v, reg, ReferralFilter{DeadlineState: "met", Limit: 10}, now); p.Total != 1 || p.Referrals[0].ReferralID != "r0" {
		t.Fatalf("met: %+v", p)
	}
	if p := ListReferrals(v, reg, ReferralFilter{Region: "North East", Limit: 10}, now); p.Total != 1 || p.Referrals[0].Region != "North East" {
		t.Fatalf("region: %+v", p)
	}
}
