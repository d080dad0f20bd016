package projections

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

func care(id string, d events.Payload) events.Event {
	return events.Event{AggregateID: id, Type: d.EventType(), Data: d}
}

// Three episodes in two authorities: one child still missing past the
// alert time (early, strategy overdue), one returned and offered the
// interview in time, one returned with the interview time passed.
func TestSafeguardingView(t *testing.T) {
	reg := refdata.Default()
	t0 := at("2025-06-02T10:00:00Z")
	h := time.Hour
	evs := []events.Event{
		care("a", events.MissingReported{Episode: 1, Authority: "E08000007", Region: "North West", MissingAt: t0, LastSeen: "bus station", PoliceReference: "GMP-1", Early: true, StrategyDueAt: t0.Add(24 * h)}),
		care("a", events.MissingNotified{Episode: 1, Party: events.PartyPolice}),
		care("b", events.MissingReported{Episode: 1, Authority: "E08000007", Region: "North West", MissingAt: t0, LastSeen: "x", PoliceReference: "GMP-2", StrategyDueAt: t0.Add(24 * h)}),
		care("b", events.StrategyDiscussionHeld{Episode: 1, HeldAt: t0.Add(2 * h), Attendees: []string{"police"}}),
		care("b", events.MissingReturned{Episode: 1, ReturnedAt: t0.Add(10 * h), WhereFound: "a friend's house", InterviewDueAt: t0.Add(82 * h), InterviewWarnAt: t0.Add(58 * h)}),
		care("b", events.ReturnInterviewOffered{Episode: 1, OfferedAt: t0.Add(30 * h), OfferedBy: "independent advocate", DueAt: t0.Add(82 * h), InTime: true}),
		care("c", events.MissingReported{Episode: 2, Authority: "E09000001", Region: "London", MissingAt: t0, LastSeen: "y", PoliceReference: "MET-3", StrategyDueAt: t0.Add(24 * h)}),
		care("c", events.MissingReturned{Episode: 2, ReturnedAt: t0.Add(4 * h), WhereFound: "z", InterviewDueAt: t0.Add(76 * h), InterviewWarnAt: t0.Add(52 * h)}),
		care("a", events.StrategyDiscussionOverdue{Episode: 1, DueAt: t0.Add(24 * h)}),
		care("c", events.ReturnInterviewBreached{Episode: 2, DueAt: t0.Add(76 * h)}),
		// An episode the view never saw reported changes nothing.
		care("d", events.MissingReturned{Episode: 1, ReturnedAt: t0, WhereFound: "w"}),
		received("a", "E08000007", "2025-06-01T09:00:00Z"),
	}
	v := NewSafeguarding()
	for _, e := range evs {
		v = ApplySafeguarding(v, e)
	}
	b, _ := json.Marshal(v)
	for _, secret := range []string{"bus station", "GMP-", "MET-3", "friend", "advocate"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the view holds %q: %s", secret, b)
		}
	}
	now := t0.Add(80 * h)
	rep := ReportSafeguarding(v, reg, SafeguardingFilter{}, now, 24*h)
	if len(rep.MissingNow) != 1 {
		t.Fatalf("missing now: %+v", rep.MissingNow)
	}
	m := rep.MissingNow[0]
	if m.ReferralID != "a" || !m.OverAlert || !m.Early || m.StrategyDiscussion != StrategyOverdue || m.HoursMissing != 80 || m.Region != "North West" {
		t.Errorf("missing now: %+v", m)
	}
	if len(rep.InterviewsDue) != 1 || rep.InterviewsDue[0].ReferralID != "c" || rep.InterviewsDue[0].State != InterviewBreached {
		t.Errorf("interviews due: %+v", rep.InterviewsDue)
	}
	tot := rep.Total
	if tot.Episodes != 3 || tot.Early != 1 || tot.MissingNow != 1 || tot.MissingOverAlert != 1 || tot.Returned != 2 || tot.StrategyOverdue != 1 ||
		tot.InterviewsInTime != 1 || tot.InterviewsLate != 1 || tot.InterviewsPending != 0 || *tot.ShareInTime != 0.5 || *tot.MedianHoursMissing != 4 || *tot.MaxHoursMissing != 10 {
		t.Errorf("total: %+v", tot)
	}
	if len(rep.ByRegion) != 2 || rep.ByRegion[0].Region != "London" || rep.ByRegion[1].Episodes != 2 {
		t.Errorf("by region: %+v", rep.ByRegion)
	}
	if len(rep.ByAuthority) != 2 || rep.ByAuthority[1].Authority != "E08000007" || rep.ByAuthority[1].Name == "" || rep.ByAuthority[1].InterviewsInTime != 1 {
		t.Errorf("by authority: %+v", rep.ByAuthority)
	}

	// Filtered to London: only the London episode.
	lon := ReportSafeguarding(v, reg, SafeguardingFilter{Region: "London"}, now, 24*h)
	if lon.Total.Episodes != 1 || len(lon.MissingNow) != 0 || len(lon.ByAuthority) != 1 {
		t.Errorf("London: %+v", lon)
	}
	// Earlier, before the alert time and the interview's warning: not over
	// the alert, the interview on track.
	early := ReportSafeguarding(v, reg, SafeguardingFilter{Authority: "E09000001"}, t0.Add(5*h), 24*h)
	if early.Total.InterviewsPending != 0 || early.Total.InterviewsLate != 1 {
		// c's breach is recorded: late whatever the clock says.
		t.Errorf("E09000001 at +5h: %+v", early.Total)
	}
	missing, over := MissingOverAlert(v, reg, t0.Add(5*h), 24*h)
	if missing["North West"] != 1 || over["North West"] != 0 {
		t.Errorf("at +5h: missing %v, over the alert %v", missing, over)
	}
	if _, over := MissingOverAlert(v, reg, now, 24*h); over["North West"] != 1 {
		t.Errorf("at +80h: over the alert %v", over)
	}
}
