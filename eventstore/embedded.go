// Package eventstore is the only package that knows JetStream. It appends
// commits with the server checking each aggregate's version, loads one
// aggregate's history, follows the log for projections and sagas, and runs
// an embedded nats-server when no cluster URL is given.
//
//ntsflow:shell
package eventstore

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	// DataDir holds JetStream's files.
	DataDir string
	// Listen is a loopback host:port for NATS clients (the nats CLI, say).
	// Empty means no listener at all: the engine talks to the server in
	// process.
	Listen string
	// SyncInterval is how often JetStream fsyncs. Zero means fsync on every
	// write, the default for a single node holding children's records.
	SyncInterval time.Duration
	// ServerName names the server (and its JetStream node).
	ServerName string
	// Users are required when the server listens: every connection, the
	// engine's own in-process one included, then authenticates, and only
	// the engine's user may write the event log.
	Users *NATSUsers
	// MaxStore caps the bytes JetStream may store on disk. Zero lets the
	// server choose: three quarters of the space free when it starts (and
	// again whenever KeepJetStream starts it after a storage failure).
	MaxStore int64
}

// Embedded is a running in-process server.
type Embedded struct {
	Server *server.Server
	users  *NATSUsers
	// jsConfig is the JetStream configuration to start again after a
	// storage failure (KeepJetStream).
	jsConfig server.JetStreamConfig
	dataDir  string
	maxStore int64

	mu        sync.Mutex
	onRestart []func()
}

// StartEmbedded starts nats-server with JetStream and waits until it takes
// connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded nats: no data directory")
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Listen == "",
		MaxPayload: 8 << 20,
	}
	if opts.ServerName == "" {
		opts.ServerName = "ntsflow"
	}
	if cfg.MaxStore > 0 {
		opts.JetStreamMaxStore = cfg.MaxStore
	}
	if cfg.SyncInterval == 0 {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = cfg.SyncInterval
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: %w", cfg.Listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("embedded nats: listen %q: only loopback addresses (the embedded server has no TLS)", cfg.Listen)
		}
		if cfg.Users == nil || cfg.Users.Engine == "" || cfg.Users.Subscriber == "" {
			return nil, fmt.Errorf("embedded nats: listen %q: a listening server needs its users (engine and subscriber passwords)", cfg.Listen)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("embedded nats: listen %q: %w", cfg.Listen, err)
		}
	}
	if cfg.Users != nil {
		opts.Users = cfg.Users.serverUsers()
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return &Embedded{Server: s, users: cfg.Users, jsConfig: jetStreamConfig(s, cfg.DataDir, cfg.MaxStore), dataDir: cfg.DataDir, maxStore: cfg.MaxStore}, nil
}

// Connect opens an in-process client connection, as the engine's user when
// the server has users.
func (e *Embedded) Connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(e.Server), nats.Name(name), nats.MaxReconnects(-1)}, opts...)
	if e.users != nil {
		opts = append(opts, nats.UserInfo(EngineUser, e.users.Engine))
	}
	return nats.Connect("", opts...)
}

// ClientURL is the address clients reach the server at, if it listens.
func (e *Embedded) ClientURL() string { return e.Server.ClientURL() }

// Shutdown stops the server and waits for it to finish writing.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

// Connect dials a NATS server or cluster by URL (comma-separated for
// several seeds), reconnecting for ever: a cluster node that restarts is a
// blip, not an outage.
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", url, err)
	}
	return nc, nil
}
