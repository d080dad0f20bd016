package eventstore

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// DefaultLoadConns is how many NATS connections serve's loads share by
// default (Config.LoadConns, serve --load-conns): one, the engine's own.
//
// Why more may help: a load's direct get is served inline by the server's
// reader of the connection it arrives on (nats-server 2.15 handles a
// client's direct get in that client's read loop), and nats.go writes each
// request under the connection's one mutex, which its flusher holds while
// it writes to the socket (for the embedded server an in-process pipe,
// whose write waits until the server has read). So on one connection loads
// are served one at a time, and with 40 in flight the mutex profile put
// nearly all their waiting on that mutex (issue 25). Why the default is
// still one: on this 2-core machine, loaded by other builds, four
// connections gave no more loads a second in a closed loop and a worse p99
// at a fixed rate (BENCHMARKS.md); it is to be measured again on a quieter
// machine, or on a cluster, where the servers have cores of their own.
const DefaultLoadConns = 1

// loadConn is one connection loads are sent on, with its own router of
// direct get replies (a subscription lives on one connection).
type loadConn struct {
	nc      *nats.Conn
	replies replies
	name    string // for errors: which connection failed
}

// loadPool spreads loads over the store's connection and any extra ones,
// round robin. Its zero value sends every load on the store's connection.
type loadPool struct {
	extra  []*loadConn
	next   atomic.Uint64
	closed sync.Once
}

// openLoadConns opens n-1 connections beside nc with nc's options (server,
// user, event handlers: a pool connection's disconnections are logged as
// the main one's are), so that n connections carry loads in all.
func openLoadConns(nc *nats.Conn, n int) ([]*loadConn, error) {
	var out []*loadConn
	for i := 1; i < n; i++ {
		opts := nc.Opts
		opts.Name = fmt.Sprintf("%s (loads %d)", nc.Opts.Name, i)
		c, err := opts.Connect()
		if err != nil {
			for _, lc := range out {
				lc.nc.Close()
			}
			return nil, fmt.Errorf("open load connection %d of %d: %w", i+1, n, unavailable(err))
		}
		out = append(out, &loadConn{nc: c, name: opts.Name})
	}
	return out, nil
}

// loadConn picks the connection for the next load: the store's own or one
// of the pool's, in turn.
func (s *Store) loadConn() *loadConn {
	if len(s.loads.extra) == 0 {
		return &s.main
	}
	i := s.loads.next.Add(1) % uint64(len(s.loads.extra)+1)
	if i == 0 {
		return &s.main
	}
	return s.loads.extra[i-1]
}

// Close closes the connections the store opened for loads (Config.
// LoadConns); the connection it was opened on is its caller's to close.
// Loads after Close fail on the closed connections; safe to call twice.
func (s *Store) Close() {
	s.loads.closed.Do(func() {
		for _, lc := range s.loads.extra {
			lc.nc.Close()
		}
	})
}
