package metrics

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ntsflow/ntsflow/eventstore"
)

// NATSClient logs what happens to the engine's NATS connection through
// slog and counts it: disconnects, reconnects, slow-consumer drops (a
// subscription whose buffer overflowed and lost messages) and other
// asynchronous errors (permission violations among them). It is made before
// the connection (its Events go to eventstore.Dial) and registered with the
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

// Events are the connection's events, reported to c.
func (c *NATSClient) Events() eventstore.ConnEvents {
	return eventstore.ConnEvents{
		Disconnected: func(url string, err error) {
			c.disconnects.Inc()
			c.log.Warn("nats disconnected", "err", err, "url", url)
		},
		Reconnected: func(url string, reconnects uint64) {
			c.reconnects.Inc()
			c.log.Info("nats reconnected", "url", url, "reconnects", reconnects)
		},
		Closed: func(lastErr error) {
			c.log.Info("nats connection closed", "err", lastErr)
		},
		LameDuck: func(url string) {
			c.log.Warn("nats server entering lame duck mode: it will close this connection soon", "url", url)
		},
		AsyncError: func(e eventstore.AsyncError) {
			attrs := []any{"err", e.Err}
			if e.HasSubscription {
				attrs = append(attrs, "subject", e.Subject, "dropped", e.Dropped)
			}
			if e.SlowConsumer {
				c.slowConsumers.Inc()
				c.log.Warn("nats slow consumer: messages dropped", attrs...)
				return
			}
			c.asyncErrors.Inc()
			c.log.Error("nats asynchronous error", attrs...)
		},
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
