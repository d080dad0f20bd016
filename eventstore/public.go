package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

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

func ensurePublic(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	str, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        PublicStream,
		Description: "ntsflow public events: CloudEvents 1.0 in binary mode, no personal data (docs/asyncapi.yaml)",
		Subjects:    []string{events.PublicSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  time.Hour,
		DenyDelete:  true,
		// The publisher writes messages in atomic batches (publicbatch.go).
		AllowAtomicPublish: true,
		// Applies to a stream created by an earlier version too: the
		// server takes a lower limit on update, keeping what exists.
		MaxConsumers: PublicMaxConsumers,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", PublicStream, unavailable(err))
	}
	return str, nil
}

// PublicMessage is one public event, ready to publish.
type PublicMessage struct {
	Subject string
	Headers map[string]string
	Data    []byte
	// MsgID deduplicates a republish (the source event's id).
	MsgID string
}

// PublicSourceHeader, on a public message, is the sequence in NTS_EVENTS
// of the commit it was made from, and PublicPartHeader which of that
// commit's public messages it is ("2/3": the second of three). The
// publisher resumes after the last message's (PublishFollowing);
// subscribers may ignore both.
const (
	PublicSourceHeader = "ntsflow-source-sequence"
	PublicPartHeader   = "ntsflow-source-part"
)

// PublicReplayedHeader marks a public message published by replaying a
// parked commit (ReplayParked), out of the live order: the publisher
// resumes from the last message without it.
const PublicReplayedHeader = "ntsflow-replayed"

// parsePart reads PublicPartHeader: "i/n", 1 <= i <= n.
func parsePart(h string) (part, parts int, ok bool) {
	a, b, found := strings.Cut(h, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || i < 1 || i > n {
		return 0, 0, false
	}
	return i, n, true
}
