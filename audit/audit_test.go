package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

func setup(t *testing.T) (*storetest.Node, *engine.Engine, []byte) {
	n := storetest.Start(t, storetest.Options{Store: eventstore.Config{Tamperable: true}})
	key, err := n.Store.ChainKey(context.Background())
	if err != nil || len(key) != 32 {
		t.Fatalf("chain key: %v", err)
	}
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	eng := node.Engine
	received := time.Now().Add(-48 * time.Hour)
	for i := range 3 {
		id := fmt.Sprint("r", i)
		for _, c := range []aggregates.Command{
			aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: id, ReceivedAt: received},
			aggregates.NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "tl"},
			aggregates.RequestAgeAssessment{Method: "naab"},
			aggregates.RecordAgeAssessment{Method: "naab", Outcome: "adult"}, // a two-event commit
		} {
			if _, err := eng.Handle(context.Background(), id, c, engine.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return n, eng, key
}

func TestVerifyACleanLog(t *testing.T) {
	n, eng, key := setup(t)
	rep, err := audit.Verify(context.Background(), n.Store, key, nil)
	// Each referral: a receipt of two events (the referral and its
	// deadline), a notification, a request and an assessment of two.
	if err != nil || !rep.OK() || rep.Commits != 12 || rep.Events != 18 || rep.Aggregates != 3 {
		t.Fatalf("%+v %v", rep, err)
	}
	if rep, _ := audit.Verify(context.Background(), n.Store, []byte("another key"), nil); rep.OK() {
		t.Fatal("the chain verified under the wrong key")
	}
	// The hash chains across commits and within one.
	_, stored, _ := eng.Load(context.Background(), "r0")
	last := stored[3].Commit.Events
	if last[0].PrevHash != stored[2].Commit.Events[0].Hash || last[1].PrevHash != last[0].Hash || stored[0].Commit.Events[0].PrevHash != "" {
		t.Fatal("events are not linked as documented")
	}
}

// Delete a message from the middle of a referral's history (as an
// administrator with stream rights could) and insert a forged one: both are
// reported with the referral and the sequence.
func TestVerifyFindsADeletionAndAForgery(t *testing.T) {
	n, _, key := setup(t)
	ctx := context.Background()
	js := n.Store.JetStream()
	s, _ := js.Stream(ctx, eventstore.EventsStream)
	// Each referral's four commits are consecutive: r1 is 5 to 8. Delete 6.
	if err := s.DeleteMsg(ctx, 6); err != nil {
		t.Fatal(err)
	}
	forged := events.Event{ID: "forged", Type: events.TypeReferralWithdrawn, SchemaVersion: 1, AggregateID: "r2", OccurredAt: time.Now().UTC(), RecordedAt: time.Now().UTC(), Actor: "mallory", Data: events.ReferralWithdrawn{Reason: "error"}, PrevHash: "whatever", Hash: strings.Repeat("ab", 32)}
	body, _ := events.EncodeCommit(events.Commit{Command: "withdraw", Events: []events.Event{forged}})
	ack, err := js.Publish(ctx, events.ReferralSubject("r2"), body)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, n.Store, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, p := range rep.Problems {
		found[fmt.Sprintf("%s %s %d", p.Kind, p.Aggregate, p.Sequence)] = true
	}
	for _, want := range []string{"gap  6", "broken-link referral.r1 7", fmt.Sprintf("altered referral.r2 %d", ack.Sequence)} {
		if !found[want] {
			t.Errorf("not reported: %q; got %+v", want, rep.Problems)
		}
	}
}

func TestExportJSONL(t *testing.T) {
	n, _, _ := setup(t)
	var buf bytes.Buffer
	count, err := audit.Export(context.Background(), n.Store, time.Time{}, time.Time{}, &buf, nil)
	if err != nil || count != 18 {
		t.Fatalf("%d %v", count, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first map[string]any
	if len(lines) != 18 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["type"] != "referral.received" || first["sequence"].(float64) != 1 {
		t.Fatalf("first line %s", lines[0])
	}
	var none bytes.Buffer
	if c, _ := audit.Export(context.Background(), n.Store, time.Now().Add(time.Hour), time.Time{}, &none, nil); c != 0 {
		t.Fatalf("exported %d events from the future", c)
	}
}
