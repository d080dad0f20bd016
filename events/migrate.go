package events

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// Forward migration of events written before sealing existed (issue 24,
// `ntsflow migrate-personal-data`; docs/design/privacy.md). The log is
// copied into a new stream; an event that holds a child's personal fields
// in the clear is written again sealed, and every event of its aggregate
// from then on is chained again, since each hash covers the bytes before it.

// InClear reports whether e, as decoded, holds any of the child's personal
// fields, not empty, outside a seal: what the migration seals.
func InClear(e Event) (bool, error) {
	fields := personal[e.Type]
	if len(fields) == 0 || e.Sealed != "" {
		return false, nil
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return false, err
	}
	_, own, err := splitMembers(data, fields)
	if err != nil || own == nil {
		return false, err
	}
	// A member written empty (a child reference never given) says
	// nothing about the child: no reason to rewrite the chain for it.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(own, &members); err != nil {
		return false, err
	}
	for _, v := range members {
		switch string(v) {
		case `""`, `0`, `null`, `[]`, `{}`, `false`:
		default:
			return true, nil
		}
	}
	return false, nil
}

// SealForward writes a stored event (decoded as e) again with its personal
// fields sealed under key and chained to prev: the stored bytes and their
// hash. The payload is written at its type's current schema version, so
// that a field an older version named otherwise (referral.received v1's
// "language") is sealed under its current name rather than left out of the
// seal. A nil key seals under a key made here and never kept: a disposed
// child's fields, whose key is gone, must not come back, and a reader sees
// them as disposed of.
func SealForward(e Event, key []byte, prev string, chainKey []byte) ([]byte, string, error) {
	if key == nil {
		key = make([]byte, DataKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, "", err
		}
	}
	e.SchemaVersion = SchemaVersion(e.Type)
	e, err := Seal(e, key)
	if err != nil {
		return nil, "", err
	}
	return chainTo(e, prev, chainKey)
}

// Rechain writes a stored event again, unchanged but for its link to prev
// and its own hash: the event follows one the migration wrote anew. Its
// payload stays exactly as stored, at its schema version.
func Rechain(raw []byte, prev string, chainKey []byte) ([]byte, string, error) {
	var w wireEvent
	if err := decodeStored(raw, &w); err != nil {
		return nil, "", fmt.Errorf("rechain: %w", err)
	}
	w.PrevHash, w.Hash = prev, ""
	b, err := json.Marshal(w)
	if err != nil {
		return nil, "", err
	}
	w.Hash = mac(chainKey, b)
	b, err = json.Marshal(w)
	return b, w.Hash, err
}

func chainTo(e Event, prev string, chainKey []byte) ([]byte, string, error) {
	e.PrevHash = prev
	h, err := ChainHash(chainKey, e)
	if err != nil {
		return nil, "", err
	}
	e.Hash = h
	b, err := Encode(e)
	return b, h, err
}

// WithEvents is a stored commit with its events' bytes replaced by evs
// (as many as it had), the rest of the commit as it was.
func WithEvents(commit []byte, evs []json.RawMessage) ([]byte, error) {
	var w wireCommit
	if err := decodeStored(commit, &w); err != nil {
		return nil, err
	}
	if len(w.Events) != len(evs) {
		return nil, fmt.Errorf("a commit of %d events cannot take %d", len(w.Events), len(evs))
	}
	w.Events = evs
	return json.Marshal(w)
}

// RecordDigest is a digest of what a stored event says, leaving out what
// the migration changes (its chain members and its seal): the same before
// and after for an event read back with its key. For a disposed child's
// event (withoutPersonal), the child's personal fields are left out too:
// they are gone after the migration, and the rest must be as it was.
func RecordDigest(e Event, withoutPersonal bool) ([32]byte, error) {
	e.PrevHash, e.Hash, e.Sealed, e.Disposed = "", "", "", nil
	data, err := json.Marshal(e.Data)
	if err != nil {
		return [32]byte{}, err
	}
	if withoutPersonal {
		if data, _, err = splitMembers(data, personal[e.Type]); err != nil {
			return [32]byte{}, err
		}
	}
	e.Data = json.RawMessage(data)
	b, err := json.Marshal(e)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}
