package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Default bounds on failed attempts: a person who mistypes a token a few
// times is not held up, a program trying tokens gets ten a client every
// five minutes.
const (
	DefaultMaxFailures = 10
	DefaultFailWindow  = 5 * time.Minute
	// DefaultMaxClients bounds the memory the limiter keeps (about a
	// hundred bytes a client).
	DefaultMaxClients = 10000
)

// ErrUnknownToken is a token that is not in force: mistyped, made up or
// revoked.
var ErrUnknownToken = errors.New("this token is not known (revoked, or mistyped)")

// ThrottledError refuses a client that has failed too often, whatever it
// presents now, until RetryAfter has passed.
type ThrottledError struct {
	Client     string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many unknown tokens from %s: try again in %s", e.Client, RetryAfterWords(e.RetryAfter))
}

// RetryAfterSeconds is d in whole seconds, rounded up, as a Retry-After
// header gives it: a client that waits that long is let in.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// RetryAfterWords says d as a person would read it: "40 seconds", "4 minutes".
func RetryAfterWords(d time.Duration) string {
	s := RetryAfterSeconds(d)
	switch {
	case s == 1:
		return "1 second"
	case s < 120:
		return fmt.Sprintf("%d seconds", s)
	}
	return fmt.Sprintf("%d minutes", (s+59)/60)
}

// Limiter bounds failed attempts with a credential per client. A client
// that fails MaxFailures times within Window is refused, whatever it then
// presents, for Window after its last counted failure. A correct token is
// refused too while the client is held back: if it were let through, the
// refusals would tell a guesser which of its guesses was right, and the
// bound would stop nothing. Success does not reset the count, so a holder
// of one token cannot interleave it to keep guessing others.
//
// Its zero value uses the defaults; it is safe for concurrent use.
type Limiter struct {
	MaxFailures int           // default DefaultMaxFailures
	Window      time.Duration // default DefaultFailWindow
	MaxClients  int           // default DefaultMaxClients
	Now         func() time.Time

	mu      sync.Mutex
	clients map[string]*failures
}

type failures struct {
	count   int
	since   time.Time // start of the window the count is in
	blocked time.Time // refused until then
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) max() int {
	if l.MaxFailures > 0 {
		return l.MaxFailures
	}
	return DefaultMaxFailures
}

func (l *Limiter) window() time.Duration {
	if l.Window > 0 {
		return l.Window
	}
	return DefaultFailWindow
}

// Check refuses a client held back, with a *ThrottledError.
func (l *Limiter) Check(client string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.clients[client]; f != nil {
		if wait := f.blocked.Sub(l.now()); wait > 0 {
			return &ThrottledError{Client: client, RetryAfter: wait}
		}
	}
	return nil
}

// Fail counts a failed attempt of the client; the attempt that reaches
// MaxFailures holds the client back.
func (l *Limiter) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, win := l.now(), l.window()
	f := l.clients[client]
	if f == nil {
		l.makeRoom(now)
		f = &failures{since: now}
		if l.clients == nil {
			l.clients = map[string]*failures{}
		}
		l.clients[client] = f
	}
	if now.Sub(f.since) >= win {
		f.count, f.since = 0, now
	}
	f.count++
	if f.count >= l.max() {
		f.blocked = now.Add(win)
		f.count, f.since = 0, f.blocked
	}
}

// makeRoom keeps the limiter's memory bounded: when full, clients whose
// window and hold have passed are forgotten; if that is not enough (a
// caller with very many addresses, whom a per-client bound does not slow
// anyway), clients not held back are, and only then any.
func (l *Limiter) makeRoom(now time.Time) {
	limit := l.MaxClients
	if limit <= 0 {
		limit = DefaultMaxClients
	}
	if len(l.clients) < limit {
		return
	}
	win := l.window()
	for k, f := range l.clients {
		if !now.Before(f.blocked) && (f.count == 0 || now.Sub(f.since) >= win) {
			delete(l.clients, k)
		}
	}
	for _, spareHeld := range []bool{true, false} {
		for k, f := range l.clients {
			if len(l.clients) < limit {
				return
			}
			if !spareHeld || !now.Before(f.blocked) {
				delete(l.clients, k)
			}
		}
	}
}

// clientOfIP names the client at an address for the limiter: the IP
// address, or for IPv6 its /64 network, since one machine is usually given
// a whole /64 and could otherwise change address for every guess.
func clientOfIP(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// ParseProxies reads a comma-separated list of addresses or networks
// ("10.0.0.5, 192.168.0.0/24, 2001:db8::/48") of trusted reverse proxies.
func ParseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a network such as 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// Client names a request's client for the limiter. The connection's
// address is the client, unless it is one of TrustedProxies: then
// X-Forwarded-For is read from the right, each trusted proxy's entry
// skipped, and the first address a trusted proxy vouches for is the
// client. Entries left of it are whatever the client chose to send, so
// they are never read; without trusted proxies the header is not read at
// all.
func (t *Tokens) Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !t.trusted(ip) {
		return clientOfIP(ip)
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A proxy we trust wrote nonsense: the last address we could
			// vouch for is the client.
			break
		}
		ip = hop
		if !t.trusted(hop) {
			break
		}
	}
	return clientOfIP(ip)
}

func (t *Tokens) trusted(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range t.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Authenticate finds the principal of a bearer token presented by client,
// within the token file's limiter: ErrUnknownToken for a token not in
// force, a *ThrottledError for a client that has failed too often.
func (t *Tokens) Authenticate(client, token string) (Principal, error) {
	if err := t.Attempts.Check(client); err != nil {
		return Principal{}, err
	}
	if p, ok := t.Lookup(token); ok {
		return p, nil
	}
	t.Attempts.Fail(client)
	return Principal{}, ErrUnknownToken
}
