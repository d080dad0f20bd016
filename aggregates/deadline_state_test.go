package aggregates

import (
	"testing"
	"time"
)

func TestDeadlineState(t *testing.T) {
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := Referral{Status: StatusOpen, ReceivedAt: ts("2025-06-02T10:00:00Z"), DueAt: ts("2025-06-09T22:59:59.999Z"), WarningAt: ts("2025-06-06T22:59:59.999Z")}
	with := func(f func(*Referral)) Referral { r := base; f(&r); return r }
	cases := []struct {
		what string
		r    Referral
		now  string
		want string
	}{
		{"before the warning", base, "2025-06-04T10:00:00Z", StateOnTrack},
		{"in the warning window", base, "2025-06-07T10:00:00Z", StateAtRisk},
		{"past the deadline, breach not yet recorded", base, "2025-06-10T10:00:00Z", StateBreached},
		{"breach recorded", with(func(r *Referral) { r.Breached = true }), "2025-06-10T10:00:00Z", StateBreached},
		{"placed in time", with(func(r *Referral) {
			r.Status, r.PlacedAt = StatusPlaced, ts("2025-06-05T10:00:00Z")
		}), "2025-06-20T10:00:00Z", StateMet},
		{"placed after the breach", with(func(r *Referral) {
			r.Status, r.PlacedAt, r.Breached = StatusPlaced, ts("2025-06-11T10:00:00Z"), true
		}), "2025-06-20T10:00:00Z", StateMissed},
		{"placed in time, recorded after the breach", with(func(r *Referral) {
			r.Status, r.PlacedAt, r.Breached = StatusPlaced, ts("2025-06-09T18:00:00Z"), true
		}), "2025-06-20T10:00:00Z", StateMet},
		{"placed in the deadline's last minute (London)", with(func(r *Referral) {
			r.Status, r.PlacedAt = StatusPlaced, ts("2025-06-09T23:59:00+01:00")
		}), "2025-06-20T10:00:00Z", StateMet},
		{"placed a minute after it", with(func(r *Referral) {
			r.Status, r.PlacedAt = StatusPlaced, ts("2025-06-10T00:00:30+01:00")
		}), "2025-06-20T10:00:00Z", StateMissed},
		{"left care after a placement in time", with(func(r *Referral) {
			r.Status, r.PlacedAt = StatusLeftCare, ts("2025-06-05T10:00:00Z")
		}), "2025-09-20T10:00:00Z", StateMet},
		{"withdrawn", with(func(r *Referral) { r.Status = StatusWithdrawn }), "2025-06-20T10:00:00Z", StateClosed},
		{"deadline not set yet", with(func(r *Referral) { r.DueAt = time.Time{} }), "2025-06-04T10:00:00Z", StatePending},
	}
	for _, c := range cases {
		if got := c.r.DeadlineState(ts(c.now)); got != c.want {
			t.Errorf("%s: %s, want %s", c.what, got, c.want)
		}
	}
}
