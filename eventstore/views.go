package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotBucket is the object store holding view snapshots, so a view
// resumes from its checkpoint instead of rebuilding from zero on start.
const SnapshotBucket = "ntsflow_views"

func ensureSnapshots(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.ObjectStore, error) {
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      SnapshotBucket,
		Description: "ntsflow view snapshots: a view's state with the stream sequence it has applied up to",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create object store %s: %w", SnapshotBucket, unavailable(err))
	}
	return obs, nil
}

// SaveSnapshot stores a view's snapshot under its name, replacing the last.
func (s *Store) SaveSnapshot(ctx context.Context, name string, data []byte) error {
	if _, err := s.snapshots.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("save snapshot %s: %w", name, unavailable(err))
	}
	return nil
}

// LoadSnapshot reads a view's snapshot; nil, nil when there is none.
func (s *Store) LoadSnapshot(ctx context.Context, name string) ([]byte, error) {
	b, err := s.snapshots.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", name, unavailable(err))
	}
	return b, nil
}

// DeleteSnapshot removes a view's snapshot (the next start rebuilds).
func (s *Store) DeleteSnapshot(ctx context.Context, name string) error {
	err := s.snapshots.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return unavailable(err)
	}
	return nil
}

// ReadRange delivers the commits with sequences from..to, in order, then
// returns. Every sequence up to the stream's last exists (the stream denies
// deletes), so the read ends at to.
func (s *Store) ReadRange(ctx context.Context, from, to uint64, fn func(Stored) error) error {
	if to < from {
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := false
	err := s.Follow(rctx, from, func(st Stored) error {
		if st.Sequence > to {
			done = true
			cancel()
			return nil
		}
		if err := fn(st); err != nil {
			return err
		}
		if st.Sequence >= to {
			done = true
			cancel()
		}
		return nil
	})
	if done && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
