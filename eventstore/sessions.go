package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SessionBucket is the key-value bucket holding the console's signed-in
// sessions, so that a restart does not sign everyone out and every
// instance on one NATS system knows every session.
const SessionBucket = "ntsflow_sessions"

// Sessions is the console's session store: opaque records under opaque
// keys. What a record holds, and when it expires, is the console's
// business; the bucket only forgets a record once it is older than the
// longest a session may last, so abandoned sessions do not pile up.
type Sessions struct {
	kv jetstream.KeyValue
}

// Sessions opens (creating or updating) the session bucket. maxAge is the
// longest a session may last; a record not written for that long is
// deleted by the server.
func (s *Store) Sessions(ctx context.Context, maxAge time.Duration) (*Sessions, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("sessions: a session's longest life must be positive, not %v", maxAge)
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      SessionBucket,
		Description: "ntsflow console sessions: a hash of the session id -> the token's hash and the session's times",
		TTL:         maxAge,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create key-value bucket %s: %w", SessionBucket, unavailable(err))
	}
	return &Sessions{kv: kv}, nil
}

// GetSession reads a session's record: nil, nil when there is none.
func (ss *Sessions) GetSession(ctx context.Context, key string) ([]byte, error) {
	e, err := getWhenLed(ctx, ss.kv, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", unavailable(err))
	}
	return e.Value(), nil
}

// PutSession writes a session's record.
func (ss *Sessions) PutSession(ctx context.Context, key string, data []byte) error {
	if _, err := ss.kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("write session: %w", unavailable(err))
	}
	return nil
}

// DeleteSession ends a session; ending one that is not there is no error.
// The record is purged, not only marked deleted, so nothing of it stays.
func (ss *Sessions) DeleteSession(ctx context.Context, key string) error {
	if err := ss.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("end session: %w", unavailable(err))
	}
	return nil
}
