package eventstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChainKeyBucket held the chain key in NATS. An embedded engine moves the
// key out of it into a key file on start (see KeyFileChainKey); a cluster
// engine without --chain-key-file still keeps it there.
const ChainKeyBucket = "ntsflow_chain"

// ChainKeyFileName is the key file an embedded engine keeps beside its data.
const ChainKeyFileName = "chain.key"

const chainKeyEntry = "hmac-sha256"

// ErrChainKeyElsewhere says the event log holds events but NATS keeps no
// chain key: they were chained with a key kept outside NATS (an embedded
// engine's key file), which a new key would not verify.
var ErrChainKeyElsewhere = errors.New("the event log already holds events, but NATS keeps no chain key: they were chained with a key kept outside NATS")

// ChainKey returns the key of the events' HMAC chain, creating it on first
// use, so every engine instance on one NATS system uses the same key.
// Whoever can read this bucket can forge a chain; an operator who wants the
// key kept apart from NATS gives engines and verifiers a key file instead.
// A key is only ever created for an empty log (ErrChainKeyElsewhere).
func (s *Store) ChainKey(ctx context.Context) ([]byte, error) {
	// Events with no key beside them were chained with a key that lives
	// elsewhere; a new one here would call every later event altered, and
	// the engine holding the real key would find two and refuse to start.
	// Checked before the bucket is made, so a refusal leaves nothing behind.
	if stored, err := s.StoredChainKey(ctx); err == nil && stored == nil {
		last, err := s.LastSequence(ctx)
		if err != nil {
			return nil, fmt.Errorf("chain key: %w", err)
		}
		if last > 0 {
			return nil, fmt.Errorf("chain key: %w (stream %s up to sequence %d)", ErrChainKeyElsewhere, EventsStream, last)
		}
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ChainKeyBucket, Description: "ntsflow chain key", Storage: jetstream.FileStorage, Replicas: s.replicas})
	if err != nil {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	if e, err := getWhenLed(ctx, kv, chainKeyEntry); err == nil {
		return e.Value(), nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := kv.Create(ctx, chainKeyEntry, key); err != nil {
		// Another instance created it first: use theirs.
		if e, gerr := kv.Get(ctx, chainKeyEntry); gerr == nil {
			return e.Value(), nil
		}
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	return key, nil
}

// getWhenLed reads a key of a bucket that may have just been created: on a
// cluster its replicated stream answers nobody until it has elected a
// leader (a moment, or a few seconds under load), so "no responders" is
// waited out, for up to 15 seconds.
func getWhenLed(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	wait := 10 * time.Millisecond
	give := time.Now().Add(15 * time.Second)
	for {
		e, err := kv.Get(ctx, key)
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(give) {
			return e, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// StoredChainKey returns the key kept in NATS, if there is one, without
// creating it (nil, nil when there is none).
func (s *Store) StoredChainKey(ctx context.Context) ([]byte, error) {
	kv, err := s.js.KeyValue(ctx, ChainKeyBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	e, err := kv.Get(ctx, chainKeyEntry)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chain key: %w", unavailable(err))
	}
	return e.Value(), nil
}

// KeyFileChainKey returns the chain key kept in the file at path (0600). On
// first use it creates the file: with the key an earlier version kept in
// NATS, if there is one (the bucket is then deleted, so that nobody who can
// read the server can forge a chain), or else with a new random key.
func (s *Store) KeyFileChainKey(ctx context.Context, path string) (key []byte, migrated bool, err error) {
	if key, err := ReadChainKeyFile(path); err == nil {
		return key, false, s.ForgetStoredChainKey(ctx, key)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, err = s.StoredChainKey(ctx)
	if err != nil {
		return nil, false, err
	}
	migrated = key != nil
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	if err := writeKeyFile(path, key); err != nil {
		return nil, false, err
	}
	// Read back what is on disk: another process may have won the race to
	// create it.
	if key, err = ReadChainKeyFile(path); err != nil {
		return nil, false, err
	}
	return key, migrated, s.ForgetStoredChainKey(ctx, key)
}

// ForgetStoredChainKey deletes the chain key bucket once the same key is
// safely in a file. A bucket holding a different key is left alone, and
// reported: two keys for one log is for an operator to settle.
func (s *Store) ForgetStoredChainKey(ctx context.Context, fileKey []byte) error {
	stored, err := s.StoredChainKey(ctx)
	if err != nil || stored == nil {
		return err
	}
	if string(stored) != string(fileKey) {
		return fmt.Errorf("chain key: the key file and the key kept in NATS (bucket %s) differ; keep the one the log was written with and delete the other", ChainKeyBucket)
	}
	if err := s.js.DeleteKeyValue(ctx, ChainKeyBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("chain key: delete bucket %s: %w", ChainKeyBucket, unavailable(err))
	}
	return nil
}

func writeKeyFile(path string, key []byte) error {
	_, err := writeNewSecret("chain key", path, []byte(hex.EncodeToString(key)+"\n"))
	return err
}

// writeNewSecret writes b to a new file at path that only its owner may
// read, in a directory made private if it is new: all of it, synced, or no
// file at all. created is false when the file is there already (an earlier
// run, or another process first): it is left as it is. what names the
// secret in errors ("chain key").
func writeNewSecret(what, path string, b []byte) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return true, nil
}

// ReadChainKeyFile reads a chain key file: hex digits (at least 32), or at
// least 16 raw bytes.
func ReadChainKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("chain key: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(t); err == nil && len(k) >= 16 {
		return k, nil
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("chain key %s: too short (want at least 16 bytes, or 32 hex digits)", path)
	}
	return b, nil
}
