package eventstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterNodeConfig is one node of a JetStream cluster run on this machine,
// as `ntsflow bench --cluster r3` runs three of them, each in its own
// process, so that the cluster's raft and fsyncs cost what they would on
// separate servers sharing a disk rather than one process's scheduler.
type ClusterNodeConfig struct {
	// Name is the node's server name, which is also its identity in the
	// cluster's raft groups: a node restarted on a copy of its directory
	// must keep it, whatever its ports.
	Name string
	// DataDir holds the node's JetStream files.
	DataDir string
	// Listen is the loopback host:port clients connect to.
	Listen string
	// ClusterName names the cluster; every node gives the same.
	ClusterName string
	// ClusterListen is the loopback host:port of this node's routes.
	ClusterListen string
	// Routes are every node's route address (host:port), this one's
	// included.
	Routes []string
}

// StartClusterNode starts one cluster node with fsync on every write and
// waits until it takes connections. It has no users: it listens on
// loopback only, for a benchmark on this machine, never for records.
func StartClusterNode(cfg ClusterNodeConfig) (*Embedded, error) {
	if cfg.Name == "" || cfg.DataDir == "" || cfg.ClusterName == "" || len(cfg.Routes) == 0 {
		return nil, errors.New("cluster node: want a name, a data directory, a cluster name and the routes")
	}
	host, port, err := loopbackHostPort("client", cfg.Listen)
	if err != nil {
		return nil, err
	}
	chost, cport, err := loopbackHostPort("cluster", cfg.ClusterListen)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, r := range cfg.Routes {
		if _, _, err := loopbackHostPort("route", r); err != nil {
			return nil, err
		}
		routes = append(routes, "nats://"+r)
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
		Cluster:    server.ClusterOpts{Name: cfg.ClusterName, Host: chost, Port: cport},
		Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster node %s: %w", cfg.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("cluster node %s: not ready after 30s", cfg.Name)
	}
	return &Embedded{Server: s, dataDir: cfg.DataDir}, nil
}

// loopbackHostPort splits a host:port that must be on loopback: these
// nodes have neither users nor TLS.
func loopbackHostPort(what, addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("cluster node: %s address %q: want host:port", what, addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", 0, fmt.Errorf("cluster node: %s address %q: only loopback addresses (the node has no users or TLS)", what, addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 {
		return "", 0, fmt.Errorf("cluster node: %s address %q: the port is not a number", what, addr)
	}
	return host, port, nil
}

// ProbeReplicas creates and deletes a small replicated stream, and reads
// the state of every stream the cluster holds: it succeeds once the
// cluster has a JetStream meta leader, replicas peers to place a stream on
// and a leader for each stream, which is what a store opened with that
// many replicas needs.
func (c *Conn) ProbeReplicas(ctx context.Context, replicas int) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return err
	}
	const name = "NTSFLOW_PROBE"
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"ntsflow.probe"}, Replicas: replicas, Storage: jetstream.MemoryStorage}); err != nil {
		return fmt.Errorf("a stream of %d replicas: %w", replicas, err)
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		return err
	}
	// A cluster restarted on its files places new streams before it has
	// elected leaders for the streams it holds, and a store opened then
	// times out on them: each must answer for its state.
	names := js.StreamNames(ctx)
	for n := range names.Name() {
		if _, err := js.Stream(ctx, n); err != nil {
			return fmt.Errorf("stream %s: %w", n, err)
		}
	}
	return names.Err()
}
