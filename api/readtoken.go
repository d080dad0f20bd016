package api

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
)

// Read tokens stand in for stream sequences with callers that see only
// their own authority or region. A sequence counts every command of every
// authority; two of them tell an authority how busy the others were. A read
// token is the sequence sealed with AES-GCM under a key every instance
// shares (derived from the chain key), with a fresh nonce each time, so it
// says nothing and cannot be made up; any instance can open it to wait for
// the view to catch up.

const readTokenPrefix = "rt1."

// ReadTokenKey derives the read-token key from a secret the engines share
// (the chain key).
func ReadTokenKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ntsflow read token v1"))
	return m.Sum(nil)
}

var errBadReadToken = errors.New("not a read token of this engine")

type readTokens struct {
	once sync.Once
	aead cipher.AEAD
}

func (s *Server) readAEAD() cipher.AEAD {
	s.readTokens.once.Do(func() {
		key := s.ReadTokenSecret
		if len(key) == 0 {
			// No shared key: good for this process only.
			key = make([]byte, 32)
			rand.Read(key)
		}
		block, err := aes.NewCipher(ReadTokenKey(key)[:32])
		if err != nil {
			panic(err) // a 32-byte key always makes a cipher
		}
		s.readTokens.aead, _ = cipher.NewGCM(block)
	})
	return s.readTokens.aead
}

func (s *Server) sealSequence(seq uint64) string {
	a := s.readAEAD()
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+8+a.Overhead())
	rand.Read(nonce)
	var plain [8]byte
	binary.BigEndian.PutUint64(plain[:], seq)
	return readTokenPrefix + base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, plain[:], nil))
}

func (s *Server) openSequence(token string) (uint64, error) {
	b64, ok := strings.CutPrefix(token, readTokenPrefix)
	if !ok || len(b64) > 128 {
		return 0, errBadReadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(b64)
	a := s.readAEAD()
	if err != nil || len(b) < a.NonceSize() {
		return 0, errBadReadToken
	}
	plain, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], nil)
	if err != nil || len(plain) != 8 {
		return 0, errBadReadToken
	}
	return binary.BigEndian.Uint64(plain), nil
}
