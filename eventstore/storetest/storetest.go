// Package storetest starts real JetStream servers for tests: an embedded
// single node with its store in the test's temp dir, torn down with the
// test. No mocks: what the tests exercise is the server production runs.
//
//ntsflow:shell
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Node is an embedded server for one test.
type Node struct {
	Dir      string
	Embedded *eventstore.Embedded
	Conn     *nats.Conn
	Store    *eventstore.Store
}

// Options for a test node.
type Options struct {
	// Dir reuses a data directory (for restart tests); empty means a fresh
	// temp dir.
	Dir string
	// Durable fsyncs every write, as production does. Tests that are not
	// about durability leave it off and sync every minute: same semantics,
	// less waiting on the disk.
	Durable bool
	Store   eventstore.Config
	// MaxStore caps JetStream's storage on disk (0: the server's own
	// limit, from the space free).
	MaxStore int64
}

// Start starts a node and opens the store on it. Everything is stopped when
// the test ends.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	cfg := eventstore.EmbeddedConfig{DataDir: o.Dir, SyncInterval: time.Minute, MaxStore: o.MaxStore}
	if o.Durable {
		cfg.SyncInterval = 0
	}
	emb, err := eventstore.StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Dir: o.Dir, Embedded: emb}
	t.Cleanup(n.Stop)
	if n.Conn, err = emb.Connect(t.Name()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.Store, err = eventstore.Open(ctx, n.Conn, o.Store); err != nil {
		t.Fatal(err)
	}
	// As serve wires it: readiness asks the embedded server itself, and
	// consumers pull afresh when its JetStream starts again.
	n.Store.Storage = emb.CheckStorage
	emb.OnRestart(n.Store.JetStreamRestarted)
	return n
}

// Stop closes the connection and shuts the server down; safe to call twice.
func (n *Node) Stop() {
	if n.Conn != nil {
		n.Conn.Close()
		n.Conn = nil
	}
	if n.Embedded != nil {
		n.Embedded.Shutdown()
		n.Embedded = nil
	}
}
