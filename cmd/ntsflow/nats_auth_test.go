package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/wiring"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func ownerOnly(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", filepath.Base(path), fi.Mode().Perm())
	}
}

func receiveOne(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","nationality":"Eritrean","receivedAt":"2025-06-02T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	return strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")
}

// Item 1 of issue 12: with --nats-listen the embedded server takes no
// anonymous client; the subscriber user reads the public stream and nothing
// else; the chain key is in a 0600 file beside the data, not in NATS.
func TestListeningEmbeddedNATSRequiresItsUsers(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base, stop := startServe(t, dir, "--nats-listen", addr)
	defer stop()
	receiveOne(t, base)

	usersFile := filepath.Join(dir, eventstore.NATSUsersFileName)
	ownerOnly(t, usersFile)
	ownerOnly(t, filepath.Join(dir, eventstore.ChainKeyFileName))
	var users eventstore.NATSUsers
	b, _ := os.ReadFile(usersFile)
	if err := json.Unmarshal(b, &users); err != nil || users.Engine == "" || users.Subscriber == "" {
		t.Fatalf("users file: %v %s", err, b)
	}

	if nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	}
	if nc, err := nats.Connect("nats://"+addr, nats.UserInfo(eventstore.SubscriberUser, users.Engine), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("the subscriber connected with the engine's password")
	}

	// The engine's own user finds no chain key in NATS.
	eng, err := nats.Connect("nats://"+addr, nats.UserInfo(eventstore.EngineUser, users.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ejs, _ := jetstream.New(eng)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := ejs.KeyValue(ctx, eventstore.ChainKeyBucket); err == nil {
		t.Error("the chain key bucket exists in NATS")
	}

	errs := make(chan error, 16)
	sub, err := nats.Connect("nats://"+addr, nats.UserInfo(eventstore.SubscriberUser, users.Subscriber),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("the subscriber cannot connect: %v", err)
	}
	defer sub.Close()
	js, _ := jetstream.New(sub)
	cons, err := js.CreateOrUpdateConsumer(ctx, eventstore.PublicStream, jetstream.ConsumerConfig{Durable: "partner", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("the subscriber cannot make a consumer on the public stream: %v", err)
	}
	var got jetstream.Msg
	for got == nil && ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got = m
		}
	}
	if got == nil || got.Headers().Get("ce-type") != "org.ntsflow.referral.received.v1" {
		t.Fatalf("the subscriber's public event: %v", got)
	}
	got.Ack()

	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	if _, err := js.CreateOrUpdateConsumer(short, eventstore.EventsStream, jetstream.ConsumerConfig{Durable: "snoop"}); err == nil {
		t.Error("the subscriber made a consumer on the internal events")
	}
	if _, err := js.Stream(short, eventstore.EventsStream); err == nil {
		t.Error("the subscriber read the internal stream's info")
	}
	sub.Subscribe("nts.events.>", func(*nats.Msg) {})
	sub.Publish("nts.events.referral.forged", []byte(`{}`))
	sub.Publish("nts.public.referral.placed", []byte(`{}`))
	sub.Flush()
	denied := 0
	for timeout := time.After(5 * time.Second); denied < 3; {
		select {
		case err := <-errs:
			if strings.Contains(err.Error(), "Permissions Violation") {
				denied++
			}
		case <-timeout:
			t.Fatalf("%d of 3 violations reported (subscribe to internal events, publish an internal and a public event)", denied)
		}
	}
}

// A writer other than the engine (here: anyone holding the data directory,
// or an engine-privileged NATS client) cannot make a chain verify accepts:
// the key is not in NATS for it to read.
func TestAnEventForgedOutsideTheEngineIsReported(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir, "--nats-listen", freeAddr(t), "--no-sagas")
	id := receiveOne(t, base)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The forger: full access to the server, takes the key if NATS has it.
	emb, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := emb.Connect("forger")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := eventstore.Attach(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	js, _ := jetstream.New(nc)
	if kv, err := js.KeyValue(ctx, eventstore.ChainKeyBucket); err == nil {
		if e, err := kv.Get(ctx, "hmac-sha256"); err == nil {
			key = e.Value()
		}
	}
	// Without the chain key the forger cannot open the children's keys
	// either (issue 24): a load through them fails rather than reading the
	// child's personal data. It forges without them, as a writer holding
	// only NATS would.
	if peek, err := eventstore.Attach(ctx, nc); err != nil {
		t.Fatal(err)
	} else if err := peek.OpenKeys(ctx, events.KeyStoreKey(key)); err != nil {
		t.Fatal(err)
	} else if _, err := peek.Load(ctx, events.ReferralSubject(id)); err == nil || !strings.Contains(err.Error(), "does not open child") {
		t.Fatalf("a wrong chain key read the child's sealed fields: %v", err)
	}
	forgery, err := wiring.Build(wiring.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	forger := forgery.Engine
	forger.ChainKey = key
	if _, err := forger.Handle(ctx, id, aggregates.Withdraw{Reason: "missing"}, engine.Meta{Actor: "Stockport"}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	emb.Shutdown()

	var out, errb bytes.Buffer
	code := run([]string{"verify", "--data-dir", dir}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "PROBLEM") || !strings.Contains(out.String(), id) {
		t.Fatalf("verify of a forged withdrawal: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// An engine whose chain key an earlier version kept in NATS moves it into
// the key file on first start and deletes the bucket; the log still
// verifies with the key found beside the data.
func TestChainKeyMovesOutOfNATS(t *testing.T) {
	dir := t.TempDir()
	emb, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := emb.Connect("old")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := eventstore.Open(ctx, nc, eventstore.Config{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	old, err := st.ChainKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldNode, err := wiring.Build(wiring.Config{Store: st, ChainKey: old})
	if err != nil {
		t.Fatal(err)
	}
	oldEngine := oldNode.Engine
	if _, err := oldEngine.Handle(ctx, "r-1", aggregates.ReceiveReferral{ReferralID: "r-1", ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "H", ChildReference: "HO-1", ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "old"}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	emb.Shutdown()

	base, stop := startServe(t, dir, "--no-sagas")
	receiveOne(t, base)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, eventstore.ChainKeyFileName)
	ownerOnly(t, keyFile)
	b, _ := os.ReadFile(keyFile)
	if strings.TrimSpace(string(b)) != hex.EncodeToString(old) {
		t.Fatal("the key file does not hold the key the log was written with")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"verify", "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("verify after the move: exit %d\n%s%s", code, out.String(), errb.String())
	}
	emb, err = eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, _ = emb.Connect("check")
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.KeyValue(ctx, eventstore.ChainKeyBucket); err == nil {
		t.Fatal("the chain key bucket is still in NATS")
	}
}
