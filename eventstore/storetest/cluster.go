package storetest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Cluster is a JetStream cluster of real nats-server instances in this
// process, routed over loopback ports (nats-server's own cluster helper
// lives in a _test.go file and cannot be imported).
type Cluster struct {
	t       testing.TB
	opts    []*server.Options
	Servers []*server.Server
}

// freePorts finds n free loopback TCP ports.
func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// StartCluster starts n servers (3 for a real quorum) and waits until
// JetStream has a meta leader and takes a replicated stream. Each tune, if
// any, adjusts every server's options before it starts (a benchmark's
// fsync on every write, say).
func StartCluster(t testing.TB, n int, tune ...func(*server.Options)) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &Cluster{t: t}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	dir := t.TempDir()
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "ntsflow-test", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		for _, f := range tune {
			f(o)
		}
		c.opts = append(c.opts, o)
		c.Servers = append(c.Servers, nil)
	}
	for i := range n {
		c.start(i)
	}
	t.Cleanup(c.Shutdown)
	c.WaitReady(30 * time.Second)
	return c
}

func (c *Cluster) start(i int) {
	o := *c.opts[i] // nats-server keeps a pointer; give each start its own copy
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("server %d not ready", i)
	}
	c.Servers[i] = s
}

// URL lists every server's client URL, for --nats-url.
func (c *Cluster) URL() string {
	var urls []string
	for _, o := range c.opts {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(urls, ",")
}

// WaitReady waits until a replicated stream can be created and deleted.
func (c *Cluster) WaitReady(within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := func() error {
			nc, err := nats.Connect(c.URL())
			if err != nil {
				return err
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "READY", Subjects: []string{"ready.probe"}, Replicas: len(c.opts), Storage: jetstream.MemoryStorage}); err != nil {
				return err
			}
			return js.DeleteStream(ctx, "READY")
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill stops server i at once, as a crash would.
func (c *Cluster) Kill(i int) {
	if s := c.Servers[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Servers[i] = nil
	}
}

// Restart starts server i again on its ports and data directory.
func (c *Cluster) Restart(i int) { c.start(i) }

// Shutdown stops every server.
func (c *Cluster) Shutdown() {
	for i := range c.Servers {
		c.Kill(i)
	}
}

// ClientURL is server i's client URL alone, for a connection that should
// reach the cluster through that server.
func (c *Cluster) ClientURL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port)
}

// Open connects to server i alone and opens a store there with cfg, both
// closed when the test ends: an engine instance reaching the cluster
// through that server.
func (c *Cluster) Open(i int, cfg eventstore.Config) *eventstore.Store {
	c.t.Helper()
	nc, err := nats.Connect(c.ClientURL(i))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := eventstore.Open(ctx, nc, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(st.Close)
	return st
}
