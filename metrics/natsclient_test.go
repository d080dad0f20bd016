package metrics_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/metrics"
)

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return s
}

// until polls cond until it holds or the deadline passes.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a wait for the outcome
	}
}

// Issue 12, item 18: disconnects, reconnects and slow-consumer drops are
// logged through slog and counted, on a real server that goes away and
// comes back.
func TestNATSClientEventsLoggedAndCounted(t *testing.T) {
	s := startNATS(t, -1)
	port := s.Addr().(*net.TCPAddr).Port
	var logs storetest.LogBuffer
	c := metrics.NewNATSClient(slog.New(slog.NewJSONHandler(&logs, nil)))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	nc, err := nats.Connect(s.ClientURL(), append(c.Events().NATSOptions(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// A subscriber that cannot keep up: its buffer holds one message.
	release := make(chan struct{})
	sub, err := nc.Subscribe("busy", func(*nats.Msg) { <-release })
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(1, 1024)
	for range 50 {
		nc.Publish("busy", []byte("x"))
	}
	nc.Flush()
	until(t, "a slow consumer counted", func() bool { return counter(t, reg, "ntsflow_nats_slow_consumer_drops_total") >= 1 })
	close(release)

	// The server goes away and comes back on the same port.
	s.Shutdown()
	s.WaitForShutdown()
	until(t, "the disconnect counted", func() bool { return counter(t, reg, "ntsflow_nats_disconnects_total") >= 1 })
	s2 := startNATS(t, port)
	defer s2.Shutdown()
	until(t, "the reconnect counted", func() bool { return counter(t, reg, "ntsflow_nats_reconnects_total") >= 1 })

	out := logs.String()
	for _, want := range []string{`"msg":"nats slow consumer: messages dropped"`, `"subject":"busy"`, `"msg":"nats disconnected"`, `"msg":"nats reconnected"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %s:\n%s", want, out)
		}
	}
}
