package metrics

import (
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// NATSClient logs what happens to the engine's NATS connection through
// slog and counts it: disconnects, reconnects, slow-consumer drops (a
// subscription whose buffer overflowed and lost messages) and other
// asynchronous errors (permission violations among them). It is made before
// the connection (its Options go to nats.Connect) and registered with the
// metrics once they exist.
type NATSClient struct {
	log           *slog.Logger
	disconnects   prometheus.Counter
	reconnects    prometheus.Counter
	slowConsumers prometheus.Counter
	asyncErrors   prometheus.Counter
}

// NewNATSClient makes the counters; log may be nil (slog.Default).
func NewNATSClient(log *slog.Logger) *NATSClient {
	if log == nil {
		log = slog.Default()
	}
	return &NATSClient{
		log:           log.With("component", "nats-client"),
		disconnects:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_nats_disconnects_total", Help: "Times the engine's NATS connection was lost."}),
		reconnects:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_nats_reconnects_total", Help: "Times the engine's NATS connection was re-established."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_nats_slow_consumer_drops_total", Help: "Slow-consumer errors: a subscription of the engine fell behind and the client dropped messages."}),
		asyncErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_nats_async_errors_total", Help: "Other asynchronous errors the NATS server or client reported (permission violations, for one)."}),
	}
}

// Options are the connection options that report to c.
func (c *NATSClient) Options() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			c.disconnects.Inc()
			c.log.Warn("nats disconnected", "err", err, "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.reconnects.Inc()
			c.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted(), "reconnects", nc.Stats().Reconnects)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			c.log.Info("nats connection closed", "err", nc.LastError())
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			c.log.Warn("nats server entering lame duck mode: it will close this connection soon", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				dropped, _ := sub.Dropped()
				attrs = append(attrs, "subject", sub.Subject, "dropped", dropped)
			}
			if errors.Is(err, nats.ErrSlowConsumer) {
				c.slowConsumers.Inc()
				c.log.Warn("nats slow consumer: messages dropped", attrs...)
				return
			}
			c.asyncErrors.Inc()
			c.log.Error("nats asynchronous error", attrs...)
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *NATSClient) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.all() {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *NATSClient) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.all() {
		m.Collect(ch)
	}
}

func (c *NATSClient) all() []prometheus.Counter {
	return []prometheus.Counter{c.disconnects, c.reconnects, c.slowConsumers, c.asyncErrors}
}
