// Package auth says who is calling and what they may see. Bearer tokens
// come from a file that holds only their SHA-256 hashes (tokens are 256-bit
// random strings, so a plain hash is enough: there is nothing to guess),
// reloaded when the file changes. Each token has a role:
//
//	authority:<ONS code>  its own referrals only: read and write
//	region:<name>         its region: read, and allocate (receive referrals for its authorities)
//	auditor               read everything, history, export, verify; no writes
//	operator              health, metrics and view status only
//	data-protection       the data protection officer: subject access exports,
//	                      rectification on request, the read audit; no referral work
//
//ntsflow:shell
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/refdata"
)

// Role kinds.
const (
	Authority = "authority"
	Region    = "region"
	Auditor   = "auditor"
	Operator  = "operator"
	// DataProtection is the data protection officer's role: what is held
	// about a child and who looked at it, not the child's case.
	DataProtection = "data-protection"
)

// Principal is who a token speaks for.
type Principal struct {
	Name      string
	Kind      string // Authority, Region, Auditor, Operator, DataProtection
	Authority string // for Authority
	Region    string // for Region
}

// Role is the principal's role as written in the token file.
func (p Principal) Role() string {
	switch p.Kind {
	case Authority:
		return Authority + ":" + p.Authority
	case Region:
		return Region + ":" + p.Region
	}
	return p.Kind
}

// ParseRole reads "authority:E08000007", "region:North West", "auditor",
// "operator" or "data-protection", checking codes and regions against the reference data.
func ParseRole(role string, reg *refdata.Registry) (Principal, error) {
	kind, arg, _ := strings.Cut(role, ":")
	switch kind {
	case Authority:
		code, ok := reg.Canonical(arg)
		if !ok {
			return Principal{}, fmt.Errorf("role %q: %s is not an authority with children's services", role, arg)
		}
		return Principal{Kind: Authority, Authority: code}, nil
	case Region:
		name, ok := refdata.RegionByName(arg)
		if !ok {
			return Principal{}, fmt.Errorf("role %q: no region %q", role, arg)
		}
		return Principal{Kind: Region, Region: name}, nil
	case Auditor, Operator, DataProtection:
		if arg != "" {
			return Principal{}, fmt.Errorf("role %q takes no argument", role)
		}
		return Principal{Kind: kind}, nil
	}
	return Principal{}, fmt.Errorf("role %q: want authority:<ONS code>, region:<name>, auditor, operator or data-protection", role)
}

// CanRead reports whether p may read a referral of the authority.
func (p Principal) CanRead(authority string, reg *refdata.Registry) bool {
	switch p.Kind {
	case Auditor:
		return true
	case Authority:
		return p.Authority == authority
	case Region:
		return reg.RegionOf(authority) == p.Region
	}
	return false
}

// CanWrite reports whether p may change (or receive) a referral of the
// authority, or set its pledge.
func (p Principal) CanWrite(authority string, reg *refdata.Registry) bool {
	switch p.Kind {
	case Authority:
		return p.Authority == authority
	case Region:
		return reg.RegionOf(authority) == p.Region
	}
	return false
}

// CanChange reports whether p may change what belongs to an authority: its
// referrals once received, its pledge, its contact. Only the authority
// itself: the regional partnership allocates, but does not withdraw or
// change an authority's referral.
func (p Principal) CanChange(authority string) bool {
	return p.Kind == Authority && p.Authority == authority
}

// CanReadReferral: an authority reads the referrals it received, and one
// allocated to it while its answer is awaited; a region those of its
// authorities and those referred into it; an auditor all. The API and the
// console both ask this.
func (p Principal) CanReadReferral(ref aggregates.Referral, reg *refdata.Registry) bool {
	switch {
	case p.Kind == Authority && ref.Status == aggregates.StatusAwaitingAcceptance:
		return ref.AllocatedTo == p.Authority
	case p.Kind == Region && ref.Region != "":
		return ref.Region == refdata.Slug(p.Region)
	}
	return p.CanRead(ref.ReceivingAuthority, reg)
}

// CanChangeReferral: the receiving authority changes its referral; while a
// referral awaits allocation or acceptance, the partnership that allocates
// it may withdraw it (the rules say what else may happen then).
func (p Principal) CanChangeReferral(ref aggregates.Referral) bool {
	if ref.Status == aggregates.StatusAwaitingAllocation || ref.Status == aggregates.StatusAwaitingAcceptance {
		return p.Kind == Region && ref.Region == refdata.Slug(p.Region)
	}
	return p.CanChange(ref.ReceivingAuthority)
}

// CanAllocate: the region's own partnership allocates its referrals and
// sets its rota and pauses. region is the region's name.
func (p Principal) CanAllocate(region string) bool { return p.Kind == Region && p.Region == region }

// CanAnswerAllocation: the authority a referral is allocated to answers
// it (accepts, or raises an exception) while its answer is awaited.
func (p Principal) CanAnswerAllocation(ref aggregates.Referral) bool {
	return p.Kind == Authority && ref.Status == aggregates.StatusAwaitingAcceptance && ref.AllocatedTo == p.Authority
}

// MaxNameLength bounds a token's name, in characters.
const MaxNameLength = 100

// CheckName refuses a token name that could not stand as the actor of
// every event its holder records: blank, too long, holding control
// characters, or holding the separator before a person's name.
func CheckName(name string) error {
	if p := aggregates.TextProblem(name, MaxNameLength); p != "" {
		return fmt.Errorf("token name %q %s (at most %d characters, no control characters)", name, p, MaxNameLength)
	}
	if strings.Contains(name, events.ActorPersonSeparator) {
		return fmt.Errorf("token name %q holds %q, which separates the person in an event's actor", name, events.ActorPersonSeparator)
	}
	return nil
}

// File is the token file's shape.
type File struct {
	Tokens []Entry `json:"tokens"`
}

// Entry is one token, hashed.
type Entry struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	SHA256 string `json:"sha256"`
}

// Tokens holds the token file's tokens, reloading it when it changes.
type Tokens struct {
	// OnReload, if set, is told each time Watch has reloaded the file, with
	// the number of tokens now in force.
	OnReload func(path string, tokens int)
	// Attempts bounds the unknown tokens each client may present, to the
	// API and the console's sign-in alike (see Authenticate). Its clock
	// (Attempts.Now) also dates a token's return to the file (LookupHash).
	Attempts Limiter
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see Client); none by default.
	TrustedProxies []netip.Prefix

	path string
	reg  *refdata.Registry

	mu      sync.RWMutex
	byHash  map[string]Principal
	granted map[string]time.Time // when a reload put the token back or added it; absent: since Load
	modTime time.Time
}

// Load reads a token file.
func Load(path string, reg *refdata.Registry) (*Tokens, error) {
	t := &Tokens{path: path, reg: reg}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tokens) reload() error {
	fi, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("tokens %s: %w", t.path, err)
	}
	by := map[string]Principal{}
	for i, e := range f.Tokens {
		p, err := ParseRole(e.Role, t.reg)
		if err != nil {
			return fmt.Errorf("tokens %s, entry %d: %w", t.path, i, err)
		}
		if h, err := hex.DecodeString(e.SHA256); err != nil || len(h) != sha256.Size {
			return fmt.Errorf("tokens %s, entry %d: sha256 must be 64 hex digits", t.path, i)
		}
		if err := CheckName(e.Name); err != nil {
			return fmt.Errorf("tokens %s, entry %d: %w", t.path, i, err)
		}
		p.Name = e.Name
		by[strings.ToLower(e.SHA256)] = p
	}
	t.mu.Lock()
	granted := map[string]time.Time{}
	for h := range by {
		if _, had := t.byHash[h]; had {
			if g, ok := t.granted[h]; ok {
				granted[h] = g
			}
		} else if t.byHash != nil {
			granted[h] = t.Attempts.now()
		}
	}
	t.byHash, t.granted, t.modTime = by, granted, fi.ModTime()
	t.mu.Unlock()
	return nil
}

// Watch reloads the file whenever it changes, until ctx ends. A file that
// no longer parses is reported and the tokens in force are kept.
func (t *Tokens) Watch(ctx context.Context, every time.Duration, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fi, err := os.Stat(t.path)
			t.mu.RLock()
			changed := err == nil && !fi.ModTime().Equal(t.modTime)
			t.mu.RUnlock()
			if changed {
				if err := t.reload(); err != nil {
					if onErr != nil {
						onErr(err)
					}
				} else if t.OnReload != nil {
					t.mu.RLock()
					n := len(t.byHash)
					t.mu.RUnlock()
					t.OnReload(t.path, n)
				}
			}
		}
	}
}

// Lookup finds the principal a bearer token speaks for.
func (t *Tokens) Lookup(token string) (Principal, bool) {
	return t.LookupHash(TokenHash(token), t.Attempts.now())
}

// TokenHash is a token's SHA-256, in hex, as the token file holds it: what
// a console session keeps instead of the token itself.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// LookupHash finds the principal of the token with this hash, if the token
// is in force and has been without a break since the moment given: a
// session signed in before its token was revoked stays ended when the
// token is put back.
func (t *Tokens) LookupHash(hash string, since time.Time) (Principal, bool) {
	h := strings.ToLower(hash)
	t.mu.RLock()
	defer t.mu.RUnlock()
	for k, p := range t.byHash {
		if subtle.ConstantTimeCompare([]byte(k), []byte(h)) == 1 {
			return p, !t.granted[k].After(since)
		}
	}
	return Principal{}, false
}

// NewToken makes a random token and its file entry.
func NewToken(name, role string) (token string, e Entry) {
	b := make([]byte, 32)
	rand.Read(b)
	token = "ntsf_" + hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, Entry{Name: name, Role: role, SHA256: hex.EncodeToString(sum[:])}
}

type ctxKey struct{}

// With attaches a principal to a context.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the context's principal, if authentication is on.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
