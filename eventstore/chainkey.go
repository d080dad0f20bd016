package eventstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ChainKeyBucket holds the chain key when no key file is given.
const ChainKeyBucket = "ntsflow_chain"

// ChainKey returns the key of the events' HMAC chain, creating it on first
// use, so every engine instance on one NATS system uses the same key.
// Whoever can read this bucket can forge a chain; an operator who wants the
// key kept apart from NATS gives engines and verifiers a key file instead.
func (s *Store) ChainKey(ctx context.Context) ([]byte, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ChainKeyBucket, Description: "ntsflow chain key", Storage: jetstream.FileStorage, Replicas: s.replicas})
	if err != nil {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	if e, err := kv.Get(ctx, "hmac-sha256"); err == nil {
		return e.Value(), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := kv.Create(ctx, "hmac-sha256", key); err != nil {
		// Another instance created it first: use theirs.
		if e, gerr := kv.Get(ctx, "hmac-sha256"); gerr == nil {
			return e.Value(), nil
		}
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	return key, nil
}
