package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	obs, err := s.snapshotBucket(ctx)
	if err != nil {
		return err
	}
	if _, err := obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("save snapshot %s: %w", name, unavailable(err))
	}
	return nil
}

// LoadSnapshot reads a view's snapshot; nil, nil when there is none.
func (s *Store) LoadSnapshot(ctx context.Context, name string) ([]byte, error) {
	obs, err := s.snapshotBucket(ctx)
	if err != nil {
		return nil, err
	}
	b, err := obs.GetBytes(ctx, name)
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
	obs, err := s.snapshotBucket(ctx)
	if err != nil {
		return err
	}
	err = obs.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return unavailable(err)
	}
	return nil
}

// ErrNoSnapshot: no snapshot is stored under that name (a view folds from
// zero).
var ErrNoSnapshot = errors.New("no snapshot stored")

// snapshotBucket is the bucket, opened on first use when the store was
// attached to streams whose bucket did not exist yet (a tool's Attach, or
// an engine that has not made it): it may exist by the next snapshot.
func (s *Store) snapshotBucket(ctx context.Context) (jetstream.ObjectStore, error) {
	s.snapshotsMu.Lock()
	defer s.snapshotsMu.Unlock()
	if s.snapshots != nil {
		return s.snapshots, nil
	}
	obs, err := s.js.ObjectStore(ctx, SnapshotBucket)
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket %s: %w", SnapshotBucket, err)
	}
	s.snapshots = obs
	return obs, nil
}

// WriteSnapshot stores what r gives under name, replacing the last, chunk
// by chunk as it is read: a view larger than memory would like is never
// one []byte. An error from r ends the upload, and the last snapshot
// stays.
func (s *Store) WriteSnapshot(ctx context.Context, name string, r io.Reader) error {
	obs, err := s.snapshotBucket(ctx)
	if err != nil {
		return err
	}
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, r); err != nil {
		return fmt.Errorf("save snapshot %s: %w", name, err)
	}
	return nil
}

// OpenSnapshot reads the snapshot stored under name as it arrives;
// ErrNoSnapshot when there is none. The object's digest is checked at its
// end, so a reader that stops early has not had it checked.
func (s *Store) OpenSnapshot(ctx context.Context, name string) (io.ReadCloser, error) {
	obs, err := s.snapshotBucket(ctx)
	if err != nil {
		return nil, err
	}
	res, err := obs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("snapshot %s: %w", name, ErrNoSnapshot)
	}
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", name, err)
	}
	return res, nil
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
