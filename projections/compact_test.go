package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// A time kept as a moment comes back as the API wrote it before: the same
// instant, to the nanosecond, with the offset it was written with.
func TestMomentGivesTheTimeBackAsWritten(t *testing.T) {
	for _, s := range []string{
		"2025-06-09T23:59:59.999+01:00", // a deadline at the end of a London summer day
		"2025-06-02T10:00:00Z",
		"2025-06-02T10:00:00.123456789Z",
		"1969-12-31T23:59:59.5-05:00", // before 1970: negative seconds
		"2025-01-01T05:45:00+05:45",
		"2025-01-01T00:00:00-00:07", // an offset of whole minutes, not quarter hours
		"0001-01-01T00:00:01Z",
		"9999-12-31T23:59:59.999999999+14:00",
	} {
		var in time.Time
		if err := json.Unmarshal([]byte(`"`+s+`"`), &in); err != nil {
			t.Fatal(err)
		}
		m := momentOf(in)
		back := m.time()
		want, _ := json.Marshal(in)
		got, _ := json.Marshal(back)
		if string(got) != string(want) || !back.Equal(in) || m.isZero() {
			t.Errorf("%s: back as %s (equal %v)", s, got, back.Equal(in))
		}
	}
	if z := momentOf(time.Time{}); !z.isZero() || !z.time().IsZero() || z != (moment{}) {
		t.Errorf("the zero time: %+v", z)
	}
}

// Moments order and compare as their instants do, whatever their offsets.
func TestMomentOrder(t *testing.T) {
	london := at("2025-06-09T23:00:00+01:00")
	utc := at("2025-06-09T22:00:00Z")
	later := at("2025-06-09T22:00:00.000000001Z")
	zero := time.Time{}
	for _, c := range []struct{ a, b time.Time }{{london, utc}, {utc, later}, {later, utc}, {zero, utc}, {utc, zero}, {zero, zero}} {
		a, b := momentOf(c.a), momentOf(c.b)
		if a.before(b) != c.a.Before(c.b) || a.equal(b) != c.a.Equal(c.b) {
			t.Errorf("%v against %v: before %v equal %v", c.a, c.b, a.before(b), a.equal(b))
		}
	}
}

// Given a table frozen for a snapshot, when the view then changes entries
// and adds more, then the frozen rows are still those of the moment it was
// frozen, and the table reads the changes.
func TestTableFrozenRowsDoNotMove(t *testing.T) {
	var tb table[int]
	for i := range chunkLen + 10 {
		*tb.add(fmt.Sprint("r", i)) = i
	}
	frozen := tb.freeze()
	*tb.mut(0) = -1
	*tb.mut(chunkLen + 5) = -2
	for i := range chunkLen {
		*tb.add(fmt.Sprint("later", i)) = 7
	}
	n := 0
	frozen.each(func(id string, v *int) error {
		if *v != n || id != fmt.Sprint("r", n) {
			t.Fatalf("frozen row %d is %s=%d", n, id, *v)
		}
		n++
		return nil
	})
	if n != chunkLen+10 {
		t.Fatalf("frozen rows: %d", n)
	}
	if i, _ := tb.find("r0"); *tb.get(i) != -1 {
		t.Error("the change to r0 is lost")
	}
	if i, ok := tb.find(fmt.Sprint("r", chunkLen+5)); !ok || *tb.get(i) != -2 || tb.id(i) != fmt.Sprint("r", chunkLen+5) {
		t.Error("the change in the last chunk is lost")
	}
	if i, ok := tb.find("later3"); !ok || *tb.get(i) != 7 || tb.len() != 2*chunkLen+10 {
		t.Error("rows added after the freeze are lost")
	}
}

// history is every kind of event each view reads, for several referrals
// and authorities: received, referred and allocated, deadlines (London
// summer times), breaches, placements, withdrawals, leaving care, a pledge,
// missing episodes.
func history() []events.Event {
	var evs []events.Event
	evs = append(evs, pledge("E08000007", 3))
	for i := range 40 {
		id := fmt.Sprint("h", i)
		day := fmt.Sprintf("2025-%02d-%02dT10:00:00Z", 5+i%3, 2+i%20)
		auth := []string{"E08000007", "E06000001", "E09000001"}[i%3]
		if i%7 == 0 {
			evs = append(evs, events.Event{AggregateID: id, Type: events.TypeReferralReferred, OccurredAt: at(day), Data: events.ReferralReferred{ReferralID: id, Region: "north-west", Route: "hotel"}},
				events.Event{AggregateID: id, Type: events.TypeReferralAllocated, Data: events.ReferralAllocated{Region: "north-west", Authority: auth, Position: 1}})
			if i%2 == 0 {
				evs = append(evs, events.Event{AggregateID: id, Type: events.TypeAllocationAccepted, Data: events.AllocationAccepted{Authority: auth}}, received(id, auth, day))
			}
		} else {
			evs = append(evs, received(id, auth, day))
		}
		evs = append(evs, deadlineSet(id, day))
		switch i % 5 {
		case 0:
			evs = append(evs, placed(id, day))
		case 1:
			evs = append(evs, breached(id), placed(id, fmt.Sprintf("2025-%02d-25T10:00:00Z", 5+i%3)))
		case 2:
			evs = append(evs, withdrawn(id))
		case 3:
			evs = append(evs, placed(id, day), leftCare(id))
		}
		if i%6 == 0 {
			m := at(day)
			evs = append(evs, care(id, events.MissingReported{Episode: 1, Authority: auth, Region: "North West", MissingAt: m, Early: i%4 == 0, StrategyDueAt: m.Add(24 * time.Hour)}))
			if i%4 != 0 {
				evs = append(evs, care(id, events.MissingReturned{Episode: 1, ReturnedAt: m.Add(5 * time.Hour), InterviewDueAt: m.Add(77 * time.Hour), InterviewWarnAt: m.Add(53 * time.Hour)}),
					care(id, events.ReturnInterviewOffered{Episode: 1, OfferedAt: m.Add(30 * time.Hour), InTime: true}))
			}
		}
	}
	return evs
}

// roundTrip checks, for one view, that given the view folded over the
// first part of the history, when it is saved and the rest of the history
// is applied meanwhile, then the snapshot holds the view as it was when
// saved; and that the view loaded from it, with the rest applied, reads
// exactly as the view folded over the whole history (its JSON and its
// report).
func roundTrip[V any](t *testing.T, spec Spec[V], report func(V) any) {
	t.Helper()
	evs := history()
	half := len(evs) / 2
	v := fold(spec, evs[:half]...)
	before, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	write := spec.Save(v)
	for _, e := range evs[half:] {
		v = spec.Apply(v, e)
	}
	var snap bytes.Buffer
	if err := write(jsontext.NewEncoder(&snap)); err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSpace(snap.Bytes()); !bytes.Equal(got, before) {
		t.Fatalf("%s: the snapshot is not the view as it was when saved:\n%s\nwant\n%s", spec.Name, got, before)
	}
	loaded, err := spec.Load(jsontext.NewDecoder(&snap))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[half:] {
		loaded = spec.Apply(loaded, e)
	}
	whole := fold(spec, evs...)
	for _, c := range []struct {
		what      string
		got, want any
	}{{"view", loaded, whole}, {"view", v, whole}, {"report", report(loaded), report(whole)}} {
		g, _ := json.Marshal(c.got)
		w, _ := json.Marshal(c.want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s: the %s differs:\n%s\nwant\n%s", spec.Name, c.what, g, w)
		}
	}
}

func TestSnapshotRoundTrips(t *testing.T) {
	reg := refdata.Default()
	now := at("2025-07-20T12:00:00Z")
	cal := calendar.Default()
	roundTrip(t, CapacitySpec(), func(v *Capacity) any { return ReportCapacity(v, reg) })
	roundTrip(t, TimelinessSpec(cal), func(v *Timeliness) any { return ReportTimeliness(v, reg, TimelinessFilter{}, now) })
	roundTrip(t, ReferralListSpec(), func(v *ReferralList) any {
		return ListReferrals(v, reg, ReferralFilter{Limit: 1000}, now)
	})
	roundTrip(t, SafeguardingSpec(), func(v *Safeguarding) any { return ReportSafeguarding(v, reg, SafeguardingFilter{}, now, 24*time.Hour) })
}

// A snapshot that does not hold what it should is refused, not half read.
func TestSnapshotRefusesWhatItCannotRead(t *testing.T) {
	for _, doc := range []string{
		`{"symbols":["","E08000007"],"rows":[["r1",5,0,0,0,0,0,0,false,0,0,0,0,0,0,0,0]]}`, // a code beyond the symbols
		`{"symbols":["x"],"rows":[]}`, // symbols not starting with ""
		`{"symbols":[""],"rows":[["r1",0,0,0,0,0,0,0,false,0,0,0,0,0,0,0,0],["r1",0,0,0,0,0,0,0,false,0,0,0,0,0,0,0,0]]}`, // a referral twice
		`{"symbols":[""],"rows":[["r1",0,0,0,0,0,0,0,"no",0,0,0,0,0,0,0,0]]}`,                                             // a string for a flag
		`{"symbols":[""],"rows":[["r1",0,0,0,0,0,0,0,false,0,2000000000,0,0,0,0,0,0]]}`,                                   // nanoseconds out of range
		`{"symbols":[""]}`, // no rows
	} {
		if _, err := loadReferralList(jsontext.NewDecoder(bytes.NewBufferString(doc))); err == nil {
			t.Errorf("read %s", doc)
		}
	}
}
