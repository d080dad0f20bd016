// Command placement-consumer is an example for partner teams: a service
// that follows ntsflow's public placement events with a durable JetStream
// consumer, acknowledges each event once it has handled it, and lets
// JetStream redeliver any it could not handle. Copy it; it depends only on
// nats.go.
//
//	NATS_PASSWORD=... go run ./examples/placement-consumer --nats-url nats://127.0.0.1:4222
//
// (--until-idle handles what is waiting and exits.) The password comes from
// the environment, never the command line, where any user of the machine
// can read it.
//
// (start the engine with --nats-listen 127.0.0.1:4222 to reach its
// embedded server; the subscriber's password is in the engine's
// data/nats-users.json). The contract is docs/asyncapi.yaml.
//
//ntsflow:shell
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// placed is the part of the public payload this service uses.
type placed struct {
	ReferralID    string    `json:"referralId"`
	Authority     string    `json:"authority"`
	Region        string    `json:"region"`
	PlacementType string    `json:"placementType"`
	PlacedAt      time.Time `json:"placedAt"`
}

func main() {
	url := flag.String("nats-url", nats.DefaultURL, "NATS server with the NTS_PUBLIC stream")
	durable := flag.String("durable", "example-placements", "durable consumer name: keep it to resume where you left off")
	user := flag.String("user", "subscriber", "NATS user; its password comes from $NATS_PASSWORD")
	untilIdle := flag.Bool("until-idle", false, "handle what is waiting, then exit (a batch job, or a first look) instead of following for ever")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(*url, nats.Name("placement-consumer"), nats.MaxReconnects(-1), nats.UserInfo(*user, os.Getenv("NATS_PASSWORD")))
	if err != nil {
		log.Error("connect", "err", err)
		os.Exit(1)
	}
	defer nc.Drain()
	js, _ := jetstream.New(nc)

	// A durable consumer remembers what we acknowledged: after a restart we
	// carry on from there. AckWait is how long we have to handle an event
	// before JetStream gives it to us again.
	cons, err := js.CreateOrUpdateConsumer(ctx, "NTS_PUBLIC", jetstream.ConsumerConfig{
		Durable:       *durable,
		FilterSubject: "nts.public.referral.placed",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    10,
		BackOff:       []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		log.Error("consumer", "err", err)
		os.Exit(1)
	}
	seen := map[string]bool{} // de-duplicate on ce-id: delivery is at least once
	process := func(m jetstream.Msg) {
		id := m.Headers().Get("ce-id")
		if seen[id] {
			m.Ack()
			return
		}
		var p placed
		if err := json.Unmarshal(m.Data(), &p); err != nil {
			// A message we cannot read will not improve: stop its redelivery.
			log.Error("unreadable event; terminating it", "ce-id", id, "err", err)
			m.Term()
			return
		}
		if err := handle(p); err != nil {
			// Try again later: JetStream redelivers after the back-off.
			log.Warn("could not handle; will be redelivered", "ce-id", id, "err", err)
			m.Nak()
			return
		}
		seen[id] = true
		m.Ack()
	}
	if *untilIdle {
		// A fetch that waits two seconds and brings nothing means nothing
		// is waiting: what arrives later is the next run's.
		for handled := 0; ; {
			batch, err := cons.Fetch(100, jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				log.Error("fetch", "err", err)
				os.Exit(1)
			}
			n := 0
			for m := range batch.Messages() {
				process(m)
				n++
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				log.Error("fetch", "err", err)
				os.Exit(1)
			}
			if handled += n; n == 0 {
				log.Info("nothing more waiting", "durable", *durable, "handled", handled)
				return
			}
		}
	}
	cc, err := cons.Consume(process)
	if err != nil {
		log.Error("consume", "err", err)
		os.Exit(1)
	}
	defer cc.Stop()
	log.Info("following placements", "durable", *durable)
	<-ctx.Done()
}

// handle is where your service does its work.
func handle(p placed) error {
	slog.Info("child placed", "referral", p.ReferralID, "authority", p.Authority, "region", p.Region, "type", p.PlacementType, "at", p.PlacedAt)
	return nil
}
