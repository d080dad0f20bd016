package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// The cold mix's seed leaves referral j with j mod 5 of the mix's steps
// on record, and the mix offered over it sends every step a fifth of the
// time, each command to its referral's next step, none refused.
func TestColdMixSeedsThenOffersEachReferralItsNextStep(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	node, err := wiring.Build(wiring.Config{Store: n.Store, Log: quiet, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(node.API.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const seeded = 25
	refs, err := SeedCold(ctx, srv.URL, seeded, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != seeded {
		t.Fatalf("%d referrals seeded, want %d", len(refs), seeded)
	}
	for j, r := range refs {
		if r.Step != j%len(mixSteps) {
			t.Errorf("referral %d: next step %d, want %d", j, r.Step, j%len(mixSteps))
		}
		if r.Step == 0 {
			if r.ID != "" {
				t.Errorf("referral %d has an id (%s) but nothing on record", j, r.ID)
			}
			continue
		}
		_, stored, err := node.Engine.Load(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		// One commit per step taken (the receipt carries its deadline in
		// its own commit).
		if len(stored) != r.Step {
			t.Errorf("referral %d (%s): %d commits on record, want %d", j, r.ID, len(stored), r.Step)
		}
	}

	// 50 commands, a second apart for each referral: the 25 referrals' next steps, then their next
	// ones again.
	m := OfferColdMix(ctx, srv.URL, 25, 2*time.Second, refs)
	if m.Sent != 50 || m.Accepted != 50 || len(m.Errors) != 0 || m.Replaced != 0 {
		t.Fatalf("sent %d, accepted %d, errors %v, replaced %d", m.Sent, m.Accepted, m.Errors, m.Replaced)
	}
	for _, s := range mixSteps {
		if m.ByStep[s.name] != 10 {
			t.Errorf("%s accepted %d times, want 10 (a fifth): %s", s.name, m.ByStep[s.name], m.stepCounts())
		}
	}
}

// A seed the API refuses stops with the reason, in words, instead of
// leaving referrals missing for the windows to measure as 404s.
func TestColdSeedRefusedSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the store is full", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	_, err := SeedCold(context.Background(), srv.URL, 7, 2)
	if err == nil {
		t.Fatal("a seed the API refused reported no error")
	}
	for _, want := range []string{"seeding referral", "receive", "503", "the store is full"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// The mix's modes are checked before anything starts.
func TestMixModesChecked(t *testing.T) {
	if _, err := (MixOptions{Modes: []string{"cold", "tepid"}}).mixModes(); err == nil || !strings.Contains(err.Error(), `"tepid"`) {
		t.Fatalf("an unknown mode: %v", err)
	}
	got, err := MixOptions{}.mixModes()
	if err != nil || fmt.Sprint(got) != "[cold warm]" {
		t.Fatalf("default modes %v, %v", got, err)
	}
}
