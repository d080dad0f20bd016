package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// PublicStream carries the public contract: privacy-safe CloudEvents for
// other services, on their own subjects, apart from the internal log.
const PublicStream = "NTS_PUBLIC"

// PublicMaxConsumers bounds the consumers on the public stream. Subscribing
// services may make their own (a durable each, and ephemeral ones that the
// server removes when idle); each holds state on every server of the
// stream, so a service that makes one per run, or a hostile one, must hit a
// limit rather than exhaust the servers. The engine itself has none there.
const PublicMaxConsumers = 100

func ensurePublic(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        PublicStream,
		Description: "ntsflow public events: CloudEvents 1.0 in binary mode, no personal data (docs/asyncapi.yaml)",
		Subjects:    []string{events.PublicSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  time.Hour,
		DenyDelete:  true,
		// Applies to a stream created by an earlier version too: the
		// server takes a lower limit on update, keeping what exists.
		MaxConsumers: PublicMaxConsumers,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", PublicStream, unavailable(err))
	}
	return nil
}

// PublicMessage is one public event, ready to publish.
type PublicMessage struct {
	Subject string
	Headers map[string]string
	Data    []byte
	// MsgID deduplicates a republish (the source event's id).
	MsgID string
}

// PublishPublic publishes public messages one after another, each
// deduplicated by its id, waiting for each to be stored so their order
// holds.
func (s *Store) PublishPublic(ctx context.Context, msgs ...PublicMessage) error {
	for _, pm := range msgs {
		m := &nats.Msg{Subject: pm.Subject, Data: pm.Data, Header: nats.Header{}}
		for k, v := range pm.Headers {
			m.Header[k] = []string{v} // as given: the CloudEvents binding reads lower-case "ce-" keys
		}
		if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(pm.MsgID), jetstream.WithExpectStream(PublicStream)); err != nil {
			return fmt.Errorf("publish %s: %w", pm.Subject, unavailable(err))
		}
	}
	return nil
}
