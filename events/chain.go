package events

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// The tamper-evident chain.
//
// Each event of an aggregate carries PrevHash, the Hash of the aggregate's
// event before it ("" for the first), and Hash = hex(HMAC-SHA256(key, B)),
// where B is the event's stored JSON with "hash" set to "" (hash is the
// last field of the stored object, so B is the stored bytes with the hash
// value cut out). The key is the engine's chain key: without it a forged
// event cannot carry a valid hash.
//
// The hash covers the bytes as stored, at the schema version they were
// written in. Upcasting happens on read and never rewrites stored bytes, so
// an upcast event still verifies: the verifier hashes what is stored, not
// what it decodes to.

// ChainHash computes an event's hash, with its PrevHash already set.
func ChainHash(key []byte, e Event) (string, error) {
	e.Hash = ""
	b, err := Encode(e)
	if err != nil {
		return "", err
	}
	return mac(key, b), nil
}

func mac(key, b []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// Chain errors.
var (
	ErrChainHash = errors.New("hash does not match the event's bytes (altered, or forged without the chain key)")
	ErrChainLink = errors.New("prevHash does not match the previous event's hash (an event is missing, reordered or inserted)")
)

// VerifyStored checks one stored event's bytes against the chain: its hash
// is the HMAC of its bytes, and its prevHash is prev. It returns the
// event's hash, the prev of the next event.
func VerifyStored(key, raw []byte, prev string) (string, error) {
	raw = bytes.TrimSpace(raw)
	const tail = `"}`
	i := bytes.LastIndex(raw, []byte(`,"hash":"`))
	if i < 0 || !bytes.HasSuffix(raw, []byte(tail)) {
		return "", fmt.Errorf("%w: no hash", ErrChainHash)
	}
	got := string(raw[i+len(`,"hash":"`) : len(raw)-len(tail)])
	unhashed := append(append([]byte{}, raw[:i]...), []byte(`,"hash":""}`)...)
	if !hmac.Equal([]byte(got), []byte(mac(key, unhashed))) {
		return got, ErrChainHash
	}
	var env struct {
		PrevHash string `json:"prevHash"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return got, err
	}
	if env.PrevHash != prev {
		return got, ErrChainLink
	}
	return got, nil
}

// RawEvents splits a stored commit into its events' bytes, as stored.
func RawEvents(commit []byte) ([]json.RawMessage, error) {
	var w wireCommit
	if err := json.Unmarshal(commit, &w); err != nil {
		return nil, err
	}
	return w.Events, nil
}
