package eventstore

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
func openLoadConns(nc *nats.Conn, n int) ([]*loadConn, error) { return openConns(nc, n, "loads") }

// openConns opens n-1 connections beside nc with nc's options, named for
// what they carry.
func openConns(nc *nats.Conn, n int, carry string) ([]*loadConn, error) {
	var out []*loadConn
	for i := 1; i < n; i++ {
		opts := nc.Opts
		opts.Name = fmt.Sprintf("%s (%s %d)", nc.Opts.Name, carry, i)
		c, err := opts.Connect()
		if err != nil {
			for _, lc := range out {
				lc.nc.Close()
			}
			return nil, fmt.Errorf("open %s connection %d of %d: %w", carry, i+1, n, unavailable(err))
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
		for _, c := range s.appends.conns {
			c.Close()
		}
	})
}

// DefaultAppendConns is how many NATS connections serve's appends share
// by default (Config.AppendConns, serve --append-conns): one, the
// engine's own. Why more may help: nats.go writes every publish under its
// connection's one mutex, which the flusher holds while it writes to the
// socket, and the server reads each connection on one goroutine; with
// dozens of commands in flight the mutex profile of serve put their
// appends' waiting there (issue 25).
const DefaultAppendConns = 1

// appendPool spreads appends over the store's connection and extra ones,
// round robin. Its zero value sends every append on the store's own.
type appendPool struct {
	conns []*nats.Conn
	js    []jetstream.JetStream
	next  atomic.Uint64
}

// open opens n-1 connections beside nc for appends into p,
// each with its JetStream context.
func (p *appendPool) open(nc *nats.Conn, n int) error {
	extra, err := openConns(nc, n, "appends")
	if err != nil {
		return err
	}
	for _, lc := range extra {
		p.conns = append(p.conns, lc.nc)
		js, err := jetstream.New(lc.nc)
		if err != nil {
			return err // the store's Close closes what was opened
		}
		p.js = append(p.js, js)
	}
	return nil
}

// appendJS picks the JetStream context for the next append: the store's
// own or one of the pool's, in turn. Which connection carries an append
// changes nothing it means: the server checks the subject's expected
// sequence and de-duplicates by message id whichever it arrives on.
func (s *Store) appendJS() jetstream.JetStream {
	if len(s.appends.js) == 0 {
		return s.js
	}
	i := s.appends.next.Add(1) % uint64(len(s.appends.js)+1)
	if i == 0 {
		return s.js
	}
	return s.appends.js[i-1]
}
