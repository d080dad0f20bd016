package eventstore

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
)

// Conn is a connection to NATS, as the shell outside this package holds
// it: something to open a store on, to name in a log line and to close.
// Those packages never see nats.go's types, so that what the engine asks
// of NATS is all written here.
type Conn struct {
	nc *nats.Conn
}

// Login is the NATS user a connection logs in as.
type Login struct {
	User, Password string
}

// ConnEvents hears what happens to a connection once it is made (each
// callback may be nil). They run on the client's own goroutine: keep them
// short.
type ConnEvents struct {
	Disconnected func(url string, err error)
	Reconnected  func(url string, reconnects uint64)
	Closed       func(lastErr error)
	// LameDuck: the server will close this connection soon.
	LameDuck func(url string)
	// AsyncError is an error the server or the client reported outside
	// any call (a permission violation, a slow consumer's dropped
	// messages).
	AsyncError func(AsyncError)
}

// AsyncError is one asynchronous error on a connection.
type AsyncError struct {
	Err error
	// SlowConsumer: a subscription fell behind and the client dropped
	// messages (Dropped of them so far, on Subject).
	SlowConsumer bool
	// Subject and Dropped are the subscription's, when the error names
	// one (HasSubscription).
	HasSubscription bool
	Subject         string
	Dropped         int
}

// ConnOptions say how to connect: as whom, and who hears of the
// connection's events.
type ConnOptions struct {
	Login  *Login // nil: no user (a server without authorisation)
	Events ConnEvents
}

// NATSOptions are ev as nats.go's connection options, for code that
// connects with nats.go itself (tests of the hooks).
func (ev ConnEvents) NATSOptions() []nats.Option {
	var opts []nats.Option
	if ev.Disconnected != nil {
		opts = append(opts, nats.DisconnectErrHandler(func(nc *nats.Conn, err error) { ev.Disconnected(nc.ConnectedUrlRedacted(), err) }))
	}
	if ev.Reconnected != nil {
		opts = append(opts, nats.ReconnectHandler(func(nc *nats.Conn) { ev.Reconnected(nc.ConnectedUrlRedacted(), nc.Stats().Reconnects) }))
	}
	if ev.Closed != nil {
		opts = append(opts, nats.ClosedHandler(func(nc *nats.Conn) { ev.Closed(nc.LastError()) }))
	}
	if ev.LameDuck != nil {
		opts = append(opts, nats.LameDuckModeHandler(func(nc *nats.Conn) { ev.LameDuck(nc.ConnectedUrlRedacted()) }))
	}
	if ev.AsyncError != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			e := AsyncError{Err: err, SlowConsumer: errors.Is(err, nats.ErrSlowConsumer)}
			if sub != nil {
				e.HasSubscription, e.Subject = true, sub.Subject
				e.Dropped, _ = sub.Dropped()
			}
			ev.AsyncError(e)
		}))
	}
	return opts
}

func (o ConnOptions) natsOptions() []nats.Option {
	opts := o.Events.NATSOptions()
	if o.Login != nil {
		opts = append(opts, nats.UserInfo(o.Login.User, o.Login.Password))
	}
	return opts
}

// Dial connects to a NATS server or cluster by URL, reconnecting for ever.
func Dial(url, name string, o ConnOptions) (*Conn, error) {
	nc, err := Connect(url, name, o.natsOptions()...)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc}, nil
}

// Dial connects to the embedded server in process, as the engine's user
// when the server requires one (o.Login is not needed).
func (e *Embedded) Dial(name string, o ConnOptions) (*Conn, error) {
	nc, err := e.Connect(name, o.natsOptions()...)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc}, nil
}

// Open opens the store on the connection, creating its streams and buckets
// (Open).
func (c *Conn) Open(ctx context.Context, cfg Config) (*Store, error) { return Open(ctx, c.nc, cfg) }

// Attach opens the store over streams that already exist (Attach).
func (c *Conn) Attach(ctx context.Context) (*Store, error) { return Attach(ctx, c.nc) }

// ClusterName is the cluster of the server connected to; empty for a lone
// server.
func (c *Conn) ClusterName() string { return c.nc.ConnectedClusterName() }

// RedactedURL is the server's URL connected to, without credentials.
func (c *Conn) RedactedURL() string { return c.nc.ConnectedUrlRedacted() }

// Drain lets what is in flight finish, then closes.
func (c *Conn) Drain() error { return c.nc.Drain() }

// Close closes at once.
func (c *Conn) Close() { c.nc.Close() }
