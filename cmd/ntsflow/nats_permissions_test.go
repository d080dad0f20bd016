package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/eventstore"
)

// The users of deploy/nats/permissions.conf, on a real server that parses
// the shipped file with the passwords in its environment: the engine runs
// with its user; a subscriber reads the public stream through a durable
// consumer and can touch nothing else; the placeholder text itself is no
// password.
func TestNATSUsersAndPermissions(t *testing.T) {
	port := freePort(t)
	t.Setenv("NTSFLOW_NATS_PASSWORD", "engine-secret")
	t.Setenv("SUBSCRIBER_NATS_PASSWORD", "sub-secret")
	opts, err := server.ProcessConfigFile("../../deploy/nats/permissions.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Users) != 2 {
		t.Fatalf("permissions.conf: %d users", len(opts.Users))
	}
	for _, u := range opts.Users {
		if u.Username == eventstore.SubscriberUser && !slices.Equal(u.Permissions.Publish.Allow, eventstore.SubscriberPublishAllow) {
			t.Fatalf("permissions.conf and the embedded server's subscriber differ:\n%v\n%v", u.Permissions.Publish.Allow, eventstore.SubscriberPublishAllow)
		}
	}
	opts.Host, opts.Port, opts.JetStream, opts.StoreDir, opts.NoSigs, opts.NoLog = "127.0.0.1", port, true, t.TempDir(), true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	for _, pw := range []string{"$NTSFLOW_NATS_PASSWORD", `"$NTSFLOW_NATS_PASSWORD"`, ""} {
		if nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.UserInfo("ntsflow", pw), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatalf("the engine's user connected with the password %q", pw)
		}
	}

	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	pwFile := filepath.Join(t.TempDir(), "nats-password")
	os.WriteFile(pwFile, []byte("engine-secret\n"), 0o600)
	base, stop := startServe(t, t.TempDir(), "--nats-url", url, "--nats-user", "ntsflow", "--nats-password-file", pwFile, "--replicas", "1")
	defer stop()
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","nationality":"Eritrean","receivedAt":"2025-06-02T10:00:00Z"}`))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("the engine with its user: %v %v", res, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := nats.Connect(fmt.Sprintf("nats://subscriber:wrong@127.0.0.1:%d", port), nats.MaxReconnects(0)); err == nil {
		t.Fatal("a wrong password connected")
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://subscriber:sub-secret@127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	pub, err := js.CreateOrUpdateConsumer(ctx, "NTS_PUBLIC", jetstream.ConsumerConfig{Durable: "partner", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("the subscriber cannot make its consumer on the public stream: %v", err)
	}
	var got jetstream.Msg
	for got == nil && ctx.Err() == nil {
		batch, err := pub.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got = m
		}
	}
	if got == nil || got.Headers().Get("ce-type") != "org.ntsflow.referral.received.v1" || strings.Contains(string(got.Data()), "Eritrean") {
		t.Fatalf("the subscriber's public event: %v", got)
	}
	if err := got.Ack(); err != nil {
		t.Fatal(err)
	}

	// Everything else is refused.
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	if _, err := js.CreateOrUpdateConsumer(short, "NTS_EVENTS", jetstream.ConsumerConfig{Durable: "snoop"}); err == nil {
		t.Error("the subscriber made a consumer on the internal events")
	}
	if _, err := js.Stream(short, "NTS_EVENTS"); err == nil {
		t.Error("the subscriber read the internal stream's info")
	}
	if _, err := js.KeyValue(short, "ntsflow_chain"); err == nil {
		t.Error("the subscriber reached the chain key")
	}
	errs := make(chan error, 4)
	nc2, _ := nats.Connect(fmt.Sprintf("nats://subscriber:sub-secret@127.0.0.1:%d", port), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	defer nc2.Close()
	nc2.Subscribe("nts.events.>", func(*nats.Msg) {})
	nc2.Publish("nts.public.referral.placed", []byte(`{"forged":true}`))
	nc2.Flush()
	denied := 0
	for timeout := time.After(3 * time.Second); denied < 2; {
		select {
		case err := <-errs:
			if strings.Contains(err.Error(), "Permissions Violation") {
				denied++
			}
		case <-timeout:
			t.Fatalf("%d of 2 violations reported (subscribe to internal events, publish a public event)", denied)
		}
	}
}

// A variable the environment does not set stops the server from starting,
// rather than leaving a guessable password.
func TestNATSPermissionsNeedTheirVariables(t *testing.T) {
	t.Setenv("NTSFLOW_NATS_PASSWORD", "") // restored after the test
	os.Unsetenv("NTSFLOW_NATS_PASSWORD")
	t.Setenv("SUBSCRIBER_NATS_PASSWORD", "sub-secret")
	if _, err := server.ProcessConfigFile("../../deploy/nats/permissions.conf"); err == nil || !strings.Contains(err.Error(), "NTSFLOW_NATS_PASSWORD") {
		t.Fatalf("permissions.conf without $NTSFLOW_NATS_PASSWORD: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
