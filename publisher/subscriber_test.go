package publisher_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	ceclient "github.com/cloudevents/sdk-go/v2/client"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/contract"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/publisher"
	"github.com/ntsflow/ntsflow/refdata"
)

var quiet = slog.New(slog.DiscardHandler)

// drive takes two referrals through their lives: one warned, breached,
// escalated and then placed; one withdrawn. Personal data goes in, so the
// test can show none comes out.
func drive(t *testing.T, eng *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	received := time.Now().Add(-10 * 24 * time.Hour).UTC().Truncate(time.Second)
	age := 15
	must := func(id string, c aggregates.Command) {
		t.Helper()
		if _, err := eng.Handle(ctx, id, c, engine.Meta{Actor: "tester"}); err != nil {
			t.Fatalf("%s %s: %v", id, c.CommandName(), err)
		}
	}
	must("r1", aggregates.ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: events.RouteEntryAuthority, TransferringAuthority: "E10000016",
		ChildReference: "HO-SECRET-REF", ClaimedAge: &age, DateOfBirth: "2010-02-03", Sex: "female", Nationality: "Eritrean", Languages: []string{"Tigrinya"}, Needs: []string{"asthma"}, ReceivedAt: received})
	// The receipt recorded the deadline (testDeadline): a week on.
	due := received.Add(7 * 24 * time.Hour)
	must("r1", aggregates.NotifyProfessionals{Professions: []string{"health"}, NotifiedBy: "team leader"})
	must("r1", aggregates.RecordDeadlineWarning{Deadline: due, WorkingDaysElapsed: 9, EscalatedTo: "team-leader"})
	must("r1", aggregates.RecordDeadlineBreach{Deadline: due, WorkingDaysElapsed: 10, EscalatedTo: "team-leader"})
	must("r1", aggregates.RecordDeadlineEscalation{Deadline: due, WorkingDaysElapsed: 12, EscalatedTo: "director"})
	must("r1", aggregates.Place{PlacementType: "U4", Provider: "Foster carers in Hazel Grove", PlacedAt: received.Add(9 * 24 * time.Hour)})
	must("r2", aggregates.ReceiveReferral{ReferralID: "r2", ReceivingAuthority: "E06000001", Route: events.RouteHotel, Hotel: "The Secret Hotel", ChildReference: "HO-OTHER", Nationality: "Afghan", Languages: []string{"Pashto"}, ReceivedAt: received})
	must("r2", aggregates.Withdraw{Reason: "missing", Detail: "seen near the station on Tuesday"})
}

func runPublisher(t *testing.T, n *storetest.Node, eng *engine.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher.Publisher{Engine: eng, Store: n.Store, Registry: refdata.Default(), Log: quiet}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// An outsider's subscriber: the CloudEvents Go SDK with its NATS JetStream
// binding, reading binary-mode events from the ce- headers, as a partner
// team would write it. Every attribute and every field is checked, the
// order per referral, and that no personal data about the child appears.
func TestOutsiderSubscriberReceivesTheContract(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	eng := buildEngine(t, n.Store)
	drive(t, eng)
	stop := runPublisher(t, n, eng)

	conn, err := n.Embedded.Connect("outsider")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	consumer, err := cejs.NewConsumerFromConn(conn, eventstore.PublicStream, "nts.public.referral.>", nil, []nats.SubOpt{nats.DeliverAll()})
	if err != nil {
		t.Fatal(err)
	}
	// One receiving goroutine, calling back in turn: by default the SDK
	// calls the receiver from several goroutines at once, and a subscriber
	// that needs each referral's events in order (as this one checks) must
	// not let it. docs/asyncapi.yaml says so to subscribers.
	client, err := cloudevents.NewClient(consumer, ceclient.WithPollGoroutines(1), ceclient.WithBlockingCallback())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []cloudevents.Event
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		client.StartReceiver(ctx, func(e cloudevents.Event) {
			mu.Lock()
			got = append(got, e)
			if len(got) == 7 {
				cancel()
			}
			mu.Unlock()
		})
	}()
	select {
	case <-ctx.Done():
	case <-time.After(15 * time.Second):
		cancel()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 7 {
		t.Fatalf("received %d public events, want 7", len(got))
	}

	_, stored, _ := eng.Load(context.Background(), "r1")
	internal := map[string]events.Event{}
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			internal[e.ID] = e
		}
	}
	var order []string
	for _, e := range got {
		if e.SpecVersion() != "1.0" || e.Source() != contract.Source || e.DataContentType() != "application/json" {
			t.Errorf("attributes: %s", e)
		}
		if !strings.HasPrefix(e.Type(), "org.ntsflow.referral.") || !strings.HasSuffix(e.Type(), ".v1") {
			t.Errorf("type %q", e.Type())
		}
		if e.Time().IsZero() || e.ID() == "" {
			t.Errorf("time or id missing: %s", e)
		}
		if bad := containsPersonal(string(e.Data())); bad != "" {
			t.Errorf("%s carries personal data (%q): %s", e.Type(), bad, e.Data())
		}
		var p contract.Payload
		dec := json.NewDecoder(strings.NewReader(string(e.Data())))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: %v", e.Type(), err)
		}
		if p.ReferralID != e.Subject() {
			t.Errorf("ce-subject %q, referralId %q", e.Subject(), p.ReferralID)
		}
		if e.Subject() != "r1" {
			continue
		}
		order = append(order, strings.TrimSuffix(strings.TrimPrefix(e.Type(), "org.ntsflow.referral."), ".v1"))
		src, ok := internal[e.ID()]
		if !ok {
			t.Fatalf("ce-id %s is not a source event id", e.ID())
		}
		if !e.Time().Equal(src.RecordedAt) {
			t.Errorf("ce-time %s, recorded %s", e.Time(), src.RecordedAt)
		}
		if p.Authority != "E08000007" || p.Region != "North West" || p.Route != "entry-authority" || p.TransferringAuthority != "E10000016" || p.ReceivedAt.IsZero() || !p.OccurredAt.Equal(src.OccurredAt) {
			t.Errorf("%s: common fields %+v", e.Type(), p)
		}
		switch e.Type() {
		case contract.CEType("placed"):
			if p.PlacementType != "U4" || p.PlacedAt == nil {
				t.Errorf("placed: %+v", p)
			}
		case contract.CEType("deadline-breached"):
			if p.Deadline == nil || p.Deadline.Policy != "nts-test" || p.Deadline.WorkingDaysElapsed != 10 || p.Deadline.WarningAt.IsZero() || p.EscalatedTo != "team-leader" {
				t.Errorf("breached: %+v %+v", p, p.Deadline)
			}
		case contract.CEType("deadline-escalated"):
			if p.EscalatedTo != "director" {
				t.Errorf("escalated: %+v", p)
			}
		}
	}
	// The stream itself holds r1's events in order.
	var streamOrder []string
	cons, err := n.Store.JetStream().OrderedConsumer(context.Background(), eventstore.PublicStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(7)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if m.Headers().Get("ce-subject") == "r1" {
			streamOrder = append(streamOrder, strings.TrimSuffix(strings.TrimPrefix(m.Headers().Get("ce-type"), "org.ntsflow.referral."), ".v1"))
		}
	}
	if strings.Join(streamOrder, ",") != "received,deadline-warning,deadline-breached,deadline-escalated,placed" {
		t.Fatalf("r1's public events out of order on the stream: %v", streamOrder)
	}

	if strings.Join(order, ",") != "received,deadline-warning,deadline-breached,deadline-escalated,placed" {
		t.Fatalf("r1's public events out of order: %v", order)
	}

	// A restart resumes from the checkpoint and publishes nothing twice.
	// One commit more after the restart, and the publisher keeps the
	// stream's order: once its public event is out, anything republished
	// from before the restart would be out too.
	stop()
	runPublisher(t, n, eng)
	if _, err := eng.Handle(context.Background(), "r3", aggregates.ReceiveReferral{ReferralID: "r3", ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "H", ChildReference: "HO-3", ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "tester"}); err != nil {
		t.Fatal(err)
	}
	info, err := n.Store.JetStream().Stream(context.Background(), eventstore.PublicStream)
	if err != nil {
		t.Fatal(err)
	}
	var msgs uint64
	for give := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) { // a poll interval
		// The last message first, then the count: counted after r3's event
		// was seen, the count includes it.
		last, _ := info.GetLastMsgForSubject(context.Background(), events.PublicSubjectPrefix+">")
		si, err := info.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		msgs = si.State.Msgs
		if last != nil && last.Header.Get("ce-subject") == "r3" || time.Now().After(give) {
			break
		}
	}
	if msgs != 8 {
		t.Fatalf("%d public messages after a restart and one receipt more, want 8 (7 before, none twice)", msgs)
	}
}

// containsPersonal returns the first personal value of the driven
// referrals found in s, or "".
func containsPersonal(s string) string {
	for _, v := range []string{"HO-SECRET-REF", "HO-OTHER", "2010-02-03", "female", "Eritrean", "Tigrinya", "asthma", "Afghan", "Pashto", "Secret Hotel", "Hazel Grove", "station", `"claimedAge":`, `"dateOfBirth":`, `"sex":`, `"nationality":`, `"languages":`, `"needs":`, `"childReference":`, `"hotel":`, `"provider":`, `"detail":`} {
		if strings.Contains(s, v) {
			return v
		}
	}
	return ""
}
