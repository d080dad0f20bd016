package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// metricLines polls base's /metrics until a line matches re, or gives up
// after limit and returns what it last saw.
func metricLines(t *testing.T, base string, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	var found []string
	storetest.WaitFor(limit, func() bool {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		found = found[:0]
		for _, l := range strings.Split(string(b), "\n") {
			if re.MatchString(l) {
				found = append(found, l)
			}
		}
		return len(found) > 0
	})
	if len(found) == 0 {
		return nil
	}
	return found
}

// A child referred into the scheme and still awaiting allocation has no
// receiving authority yet, but its breach belongs to the region it was
// referred to: the dashboard's per-region panels must count it there.
func TestBreachAwaitingAllocationCountsInItsRegion(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	// Received long ago: the saga records the breach at once.
	body := `{"region":"north-west","route":"hotel","hotel":"H","childReference":"HO-R1","receivedAt":"2025-06-02T10:00:00Z"}`
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(body))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("refer: %v %v", res, err)
	}
	got := metricLines(t, base, regexp.MustCompile(`^ntsflow_deadline_breaches_total\{.*\} [1-9]`), 20*time.Second)
	if len(got) != 1 || !strings.HasPrefix(got[0], `ntsflow_deadline_breaches_total{region="North West"} 1`) {
		t.Fatalf("breaches counted: %q, want one, in region \"North West\"", got)
	}
}

// The image's default command is what runs when nobody passes one: it must
// pass the same exposure rules as any other serve. Docker does not run on
// the development machines, so the test reads the Dockerfile's CMD and
// parses it as serve would.
func TestDockerfileDefaultCommandPassesTheExposureRules(t *testing.T) {
	var cmd []string
	for _, l := range strings.Split(readFile(t, "../../Dockerfile"), "\n") {
		if rest, ok := strings.CutPrefix(l, "CMD "); ok {
			if err := json.Unmarshal([]byte(rest), &cmd); err != nil {
				t.Fatalf("Dockerfile CMD is not an exec-form list: %v", err)
			}
		}
	}
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("Dockerfile CMD %q: want a serve command", cmd)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := serveFlags(fs)
	if err := fs.Parse(cmd[1:]); err != nil {
		t.Fatal(err)
	}
	if err := checkExposure(cfg); err != nil {
		t.Fatalf("Dockerfile CMD %q: %v", cmd, err)
	}
}

// No secret on the command line (any user of the machine reads it with
// ps): the flags and URLs that once carried one are refused, naming what
// replaced them, before anything starts.
func TestSecretsOnTheCommandLineAreRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "--token", "ntsf_secret", "some-id"}, "NTSFLOW_TOKEN"},
		{[]string{"verify", "--token", "ntsf_secret"}, "--token-file"},
		{[]string{"export", "--token=ntsf_secret"}, "NTSFLOW_TOKEN"},
		{[]string{"rebuild", "--token", "ntsf_secret", "capacity"}, "NTSFLOW_TOKEN"},
		{[]string{"replay", "--token", "ntsf_secret", "--as-of", "2025-06-30T23:59:59Z", "--view", "capacity"}, "NTSFLOW_TOKEN"},
		{[]string{"simulate", "--token", "ntsf_secret"}, "NTSFLOW_TOKEN"},
		{[]string{"verify", "--nats-url", "nats://ntsflow:hunter2-secret@127.0.0.1:1"}, "--nats-user"},
		{[]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--log-format", "text", "--nats-url", "nats://127.0.0.1:1,nats://ntsflow:hunter2-secret@127.0.0.1:2"}, "NTSFLOW_NATS_PASSWORD"},
	} {
		var out, errb strings.Builder
		code := run(c.args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "ps") {
			t.Errorf("%q: exit %d, want a refusal naming %s:\n%s", c.args, code, c.want, errb.String())
		}
		if strings.Contains(errb.String(), "hunter2") {
			t.Errorf("%q: the refusal repeats the password:\n%s", c.args, errb.String())
		}
	}
}

// A password comes from a file or the environment, and a user without one
// is refused rather than tried without.
func TestNATSLoginFromFileOrEnvironment(t *testing.T) {
	t.Setenv(envNATSPassword, "")
	if _, err := (natsLogin{user: "ntsflow"}).login("nats://127.0.0.1:4222"); err == nil || !strings.Contains(err.Error(), envNATSPassword) {
		t.Errorf("a user without a password: %v", err)
	}
	if login, err := (natsLogin{}).login("nats://127.0.0.1:4222"); err != nil || login != nil {
		t.Errorf("no login at all: %v %v", login, err)
	}
	t.Setenv(envNATSPassword, "from-the-environment")
	if login, err := (natsLogin{}).login("nats://127.0.0.1:4222"); err != nil || login == nil || *login != (eventstore.Login{User: eventstore.EngineUser, Password: "from-the-environment"}) {
		t.Errorf("a password in the environment: %v %v", login, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := (natsLogin{passwordFile: empty}).login("nats://127.0.0.1:4222"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty password file: %v", err)
	}
}

// A second instance pointed at an embedded engine's NATS without the chain
// key must not make a key of its own: its events would not verify, and the
// first engine, finding two keys, would refuse to restart. It refuses to
// start instead, saying how to share the key; given the key file, it runs.
func TestSecondInstanceWithoutTheChainKeyRefusesToStart(t *testing.T) {
	dirA := t.TempDir()
	natsAddr := freeAddr(t)
	baseA, stopA := startServe(t, dirA, "--nats-listen", natsAddr, "--no-sagas")
	receiveOne(t, baseA)
	var users struct{ Engine string }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dirA, "nats-users.json"))), &users); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envNATSPassword, users.Engine)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := serveFlags(fs)
	if err := fs.Parse([]string{"--http-addr", "127.0.0.1:0", "--nats-url", "nats://" + natsAddr, "--replicas", "1", "--no-sagas"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := runServe(ctx, cfg, slog.New(slog.DiscardHandler), func(string) { t.Error("the second instance served without the chain key") })
	if err == nil || !strings.Contains(err.Error(), "--chain-key-file") || !strings.Contains(err.Error(), "chain.key") {
		t.Fatalf("the second instance without the key: %v", err)
	}

	// Given the first engine's key, it runs beside it.
	baseB, stopB := startServe(t, t.TempDir(), "--nats-url", "nats://"+natsAddr, "--replicas", "1", "--no-sagas", "--chain-key-file", filepath.Join(dirA, "chain.key"))
	receiveOne(t, baseB)
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	// And the first engine still restarts, and its log verifies.
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	baseA, stopA = startServe(t, dirA, "--nats-listen", natsAddr, "--no-sagas")
	receiveOne(t, baseA)
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := run([]string{"verify", "--data-dir", dirA}, &out, &errb); code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// startNATS runs a lone nats-server with JetStream on a loopback port, as
// an operator's single server would be.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s.ClientURL()
}

// eventsReplicas is how many replicas the events stream has on url.
func eventsReplicas(t *testing.T, url string) int {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "NTS_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().Config.Replicas
}

// Without --replicas the engine takes what the server it reaches can hold:
// one replica on a lone server, three on a cluster.
func TestReplicasFollowTheServer(t *testing.T) {
	t.Run("single server", func(t *testing.T) {
		url := startNATS(t)
		base, stop := startServe(t, t.TempDir(), "--nats-url", url, "--no-sagas")
		receiveOne(t, base)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n := eventsReplicas(t, url); n != 1 {
			t.Fatalf("events stream on a lone server: %d replicas", n)
		}
		// Asking for more than a lone server can hold says what to do.
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cfg := serveFlags(fs)
		fs.Parse([]string{"--http-addr", "127.0.0.1:0", "--nats-url", startNATS(t), "--replicas", "3", "--no-sagas"})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := runServe(ctx, cfg, slog.New(slog.DiscardHandler), func(string) { t.Error("served 3 replicas on a lone server") })
		if err == nil || !strings.Contains(err.Error(), "--replicas 1") {
			t.Fatalf("--replicas 3 on a lone server: %v", err)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("cluster test: not in -short")
		}
		cluster := storetest.StartCluster(t, 3)
		base, stop := startServe(t, t.TempDir(), "--nats-url", cluster.URL(), "--no-sagas")
		receiveOne(t, base)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n := eventsReplicas(t, cluster.URL()); n != 3 {
			t.Fatalf("events stream on a 3-node cluster: %d replicas", n)
		}
	})
}

// The subscriber user may make its own consumers on the public stream, but
// not without bound: each holds state on every server of the stream, and a
// careless or hostile service creating one per run would exhaust them.
func TestSubscriberConsumersAreBounded(t *testing.T) {
	dir := t.TempDir()
	natsAddr := freeAddr(t)
	_, stop := startServe(t, dir, "--nats-listen", natsAddr, "--no-sagas")
	defer stop()
	var users struct{ Subscriber string }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "nats-users.json"))), &users); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+natsAddr, nats.UserInfo("subscriber", users.Subscriber))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	made := 0
	for ; made <= eventstore.PublicMaxConsumers; made++ {
		_, err := js.CreateOrUpdateConsumer(ctx, eventstore.PublicStream, jetstream.ConsumerConfig{Durable: fmt.Sprintf("pile-%d", made), AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10026 {
				t.Fatalf("consumer %d refused, but not for the limit: %v", made, err)
			}
			break
		}
	}
	if made != eventstore.PublicMaxConsumers {
		t.Fatalf("the subscriber made %d durable consumers; the bound is %d", made, eventstore.PublicMaxConsumers)
	}
}

// The documents name the NATS users as the code and permissions.conf do: a
// reader told the engine's user is "engine" would log in as nobody.
func TestDocumentsNameTheNATSUsersAsTheCodeDoes(t *testing.T) {
	readme := readFile(t, "../../README.md")
	if want := "the NATS user `" + eventstore.EngineUser + "` the engine logs in as"; !strings.Contains(readme, want) {
		t.Errorf("README.md does not name the engine's NATS user: want %q", want)
	}
	for _, doc := range []string{"../../README.md", "../../docs/asyncapi.yaml", "../../docs/operations.md", "../../deploy/nats/permissions.conf"} {
		text := readFile(t, doc)
		for _, wrong := range []string{"`engine` for itself", "user `engine`", "`engine` user", "user: engine"} {
			if strings.Contains(text, wrong) {
				t.Errorf("%s calls the engine's NATS user %q; it is %q", doc, wrong, eventstore.EngineUser)
			}
		}
	}
	conf := readFile(t, "../../deploy/nats/permissions.conf")
	for _, u := range []string{eventstore.EngineUser, eventstore.SubscriberUser} {
		if !strings.Contains(conf, "user: "+u+",") {
			t.Errorf("permissions.conf has no user %q", u)
		}
	}
}
