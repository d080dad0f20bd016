package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/auth"
)

// Sessions are kept on the server: the cookie holds only a random session
// id, so signing out, an idle or too old session, and a revoked token end
// the session for good, whoever still holds the cookie.

// SessionStore keeps signed-in sessions' records under opaque keys
// (eventstore.Sessions keeps them in a JetStream bucket, so they survive a
// restart and every instance shares them). GetSession answers nil, nil for
// a key it does not hold.
type SessionStore interface {
	GetSession(ctx context.Context, key string) ([]byte, error)
	PutSession(ctx context.Context, key string, data []byte) error
	DeleteSession(ctx context.Context, key string) error
}

// Default session lifetimes: a console left alone for half an hour signs
// out, as does any session twelve hours after signing in (a working day,
// with room), so a cookie taken from a shared computer is soon worthless.
const (
	DefaultSessionIdle   = 30 * time.Minute
	DefaultSessionMaxAge = 12 * time.Hour
)

// sessionRecord is what the server keeps of a signed-in session. It holds
// the token's hash, never the token: whoever can read the store can
// neither call the API nor sign in with what is there. The principal is
// looked up from the token file on every request, so a revoked token or a
// changed role takes effect at once.
type sessionRecord struct {
	TokenHash string    `json:"tokenSha256"`
	Started   time.Time `json:"started"`
	Seen      time.Time `json:"seen"`
}

// sessionKey is the store's key for a session id: its hash, so that the
// store's keys are not cookies someone who can read them could present.
func sessionKey(sid string) string {
	sum := sha256.Sum256([]byte("ntsflow console session v1\x00" + sid))
	return hex.EncodeToString(sum[:])
}

func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) sessionIdle() time.Duration {
	if s.SessionIdle > 0 {
		return s.SessionIdle
	}
	return DefaultSessionIdle
}

func (s *Server) sessionMaxAge() time.Duration {
	if s.SessionMaxAge > 0 {
		return s.SessionMaxAge
	}
	return DefaultSessionMaxAge
}

// seenEvery is how stale a session's last-seen time may get before a
// request writes it again: writing it on every page would cost a synced
// write per page, and idle expiry does not need to be exact to the second.
func (s *Server) seenEvery() time.Duration { return s.sessionIdle() / 30 }

// signedIn finds the principal of the session sid, ending the session if
// it has been idle too long, has lasted too long, or its token has been
// revoked. ok is false when there is no live session.
func (s *Server) signedIn(ctx context.Context, sid string) (p auth.Principal, ok bool, err error) {
	key := sessionKey(sid)
	b, err := s.store.GetSession(ctx, key)
	if err != nil || b == nil {
		return p, false, err
	}
	var rec sessionRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		// Not ours to read: end it rather than trust it.
		s.forget(ctx, key, "its record does not read: "+err.Error())
		return p, false, nil
	}
	now := s.now()
	end := ""
	switch {
	case now.Sub(rec.Started) >= s.sessionMaxAge():
		end = "lasted its longest"
	case now.Sub(rec.Seen) >= s.sessionIdle():
		end = "idle too long"
	default:
		if p, ok = s.Tokens.LookupHash(rec.TokenHash, rec.Started); !ok {
			end = "its token was revoked"
		}
	}
	if end != "" {
		s.forget(ctx, key, end)
		return auth.Principal{}, false, nil
	}
	if now.Sub(rec.Seen) >= s.seenEvery() {
		rec.Seen = now
		if err := s.putSession(ctx, key, rec); err != nil {
			// The page can still be served; the session may only end
			// sooner for being seen later than it was.
			s.log().Warn("console: session's last use not recorded", "err", err)
		}
	}
	return p, true, nil
}

// forget deletes a session found dead. If the store cannot delete it now,
// no harm: every read checks the same rules, and the bucket drops it at
// its age limit.
func (s *Server) forget(ctx context.Context, key, why string) {
	s.log().Info("console: session ended", "why", why)
	if err := s.store.DeleteSession(ctx, key); err != nil {
		s.log().Warn("console: an ended session's record not deleted", "err", err)
	}
}

func (s *Server) putSession(ctx context.Context, key string, rec sessionRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.store.PutSession(ctx, key, b)
}

// startSession records a new signed-in session for the token and returns
// its id (a new one: signing in never keeps an id someone else may know).
func (s *Server) startSession(ctx context.Context, token string) (string, error) {
	sid, now := newSessionID(), s.now()
	if err := s.putSession(ctx, sessionKey(sid), sessionRecord{TokenHash: auth.TokenHash(token), Started: now, Seen: now}); err != nil {
		return "", fmt.Errorf("start session: %w", err)
	}
	return sid, nil
}

// endSession ends the session sid, if it is one.
func (s *Server) endSession(ctx context.Context, sid string) error {
	if err := s.store.DeleteSession(ctx, sessionKey(sid)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// memorySessions keeps sessions in this process when no store is given
// (they end when it stops), forgetting records older than maxAge.
type memorySessions struct {
	maxAge time.Duration
	now    func() time.Time

	mu    sync.Mutex
	recs  map[string]memoryRecord
	swept time.Time
}

type memoryRecord struct {
	data    []byte
	written time.Time
}

func (m *memorySessions) GetSession(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	if !ok || m.now().Sub(r.written) >= m.maxAge {
		return nil, nil
	}
	return r.data, nil
}

func (m *memorySessions) PutSession(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if now.Sub(m.swept) >= time.Minute {
		m.swept = now
		for k, r := range m.recs {
			if now.Sub(r.written) >= m.maxAge {
				delete(m.recs, k)
			}
		}
	}
	m.recs[key] = memoryRecord{data: data, written: now}
	return nil
}

func (m *memorySessions) DeleteSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, key)
	return nil
}
