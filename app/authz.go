package app

import (
	"net/http"
	"strings"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/refdata"
)

// The role rules. Each question a face asks about a caller is answered
// here, so the API and the console cannot drift apart: a test
// (TestFacesCompareNoRoles) fails if either compares role names itself.
// With authentication off every rule allows.

// works is true for the roles that work with children's cases: an
// authority and its region's partnership.
func (c Caller) works() bool {
	return c.P.Kind == auth.Authority || c.P.Kind == auth.Region
}

func (c Caller) audits() bool { return c.P.Kind == auth.Auditor }

// ReadsAuthority: the caller may read the referrals of an authority.
func (c Caller) ReadsAuthority(code string, reg *refdata.Registry) bool {
	return !c.On || c.P.CanRead(code, reg)
}

// WritesAuthority: the caller may receive (or change) referrals of an
// authority.
func (c Caller) WritesAuthority(code string, reg *refdata.Registry) bool {
	return !c.On || c.P.CanWrite(code, reg)
}

// ChangesAuthority: the caller may change what belongs to the authority
// itself (its pledge, contact and team): only the authority.
func (c Caller) ChangesAuthority(code string) bool { return !c.On || c.P.CanChange(code) }

// ReadsTeam: the authority reads its own social workers, and auditors read
// every authority's.
func (c Caller) ReadsTeam(code string) bool { return c.ChangesAuthority(code) || c.audits() }

// ReadsSettings: an authority's pledge and contact are read by the
// authority, by the partnership of its region (which allocates to it and
// asks its contact) and by auditors.
func (c Caller) ReadsSettings(code string, reg *refdata.Registry) bool {
	return c.ChangesAuthority(code) || c.audits() || (c.P.Kind == auth.Region && reg != nil && reg.RegionOf(code) == c.P.Region)
}

// ReadsNational: the national view holds figures by region only, so every
// role that works with the scheme reads it, and auditors.
func (c Caller) ReadsNational() bool { return !c.On || c.works() || c.audits() }

// ReadsReferral: auth.CanReadReferral.
func (c Caller) ReadsReferral(ref aggregates.Referral, reg *refdata.Registry) bool {
	return !c.On || c.P.CanReadReferral(ref, reg)
}

// ChangesReferral: auth.CanChangeReferral.
func (c Caller) ChangesReferral(ref aggregates.Referral) bool {
	return !c.On || c.P.CanChangeReferral(ref)
}

// AnswersAllocation: the authority the referral is allocated to, while its
// answer is awaited (with authentication off, whoever opens it then).
func (c Caller) AnswersAllocation(ref aggregates.Referral) bool {
	if !c.On {
		return ref.Status == aggregates.StatusAwaitingAcceptance
	}
	return c.P.CanAnswerAllocation(ref)
}

// Answering is the authority an answer to an allocation is given for: the
// caller's own ("" with authentication off: the decider then takes the
// authority the referral is allocated to). ok is false for a role that
// answers no allocation.
func (c Caller) Answering() (authority string, ok bool) {
	if !c.On {
		return "", true
	}
	return c.P.Authority, c.P.Kind == auth.Authority
}

// Allocates: the region's own partnership allocates its referrals and sets
// its rota and pauses. region is the region's name.
func (c Caller) Allocates(region string) bool { return !c.On || c.P.CanAllocate(region) }

// ReadsRota: the region's partnership and auditors read a region's rota.
func (c Caller) ReadsRota(region string) bool { return !c.On || c.audits() || c.P.CanAllocate(region) }

// OwnRegion is the region a partnership's caller speaks for.
func (c Caller) OwnRegion() (string, bool) {
	return c.P.Region, c.On && c.P.Kind == auth.Region
}

// OwnAuthority is the authority an authority's caller speaks for.
func (c Caller) OwnAuthority() (string, bool) {
	return c.P.Authority, c.On && c.P.Kind == auth.Authority
}

// SeesTeams: the team pages are for the authorities (their own team) and
// auditors (any authority's), as ReadsTeam allows.
func (c Caller) SeesTeams() bool { return !c.On || c.P.Kind == auth.Authority || c.audits() }

// SeesSettings: the authority settings pages are for the authorities
// (their own), the partnerships (their region's authorities) and
// auditors, as ReadsSettings allows.
func (c Caller) SeesSettings() bool { return !c.On || c.works() || c.audits() }

// RefersInto: a child is referred into the scheme for a region (region is
// its name) by the region's partnership or by the entry authority that
// refers the child (transferring, its code).
func (c Caller) RefersInto(region, transferring string) bool {
	return !c.On || (c.P.Kind == auth.Region && c.P.Region == region) ||
		(c.P.Kind == auth.Authority && transferring != "" && c.P.Authority == transferring)
}

// ReadsForecast: auditors read any forecast, a region its own, an
// authority its own.
func (c Caller) ReadsForecast(region, code string) bool {
	return !c.On || c.audits() || (c.P.Kind == auth.Region && c.P.Region == region) ||
		(c.P.Kind == auth.Authority && c.P.Authority == code)
}

// ReadsCapacity: auditors read every capacity view; others an authority
// they may read, or their own region.
func (c Caller) ReadsCapacity(region, code string, reg *refdata.Registry) bool {
	switch {
	case !c.On || c.audits():
		return true
	case code != "" && c.P.CanRead(code, reg):
		return true
	}
	return region != "" && c.P.Kind == auth.Region && c.P.Region == region
}

// Restricted: the caller sees only part of the log (an authority or a
// region), so is given opaque read tokens, never stream sequences, which
// would count other authorities' commands.
func (c Caller) Restricted() bool { return c.On && c.works() }

// Writes: the roles that change referrals at all.
func (c Caller) Writes() bool { return !c.On || c.works() }

// SeesChild: the roles that work with the child see the child's reference
// on a page; auditors read it in the history, as the API's history shows it.
func (c Caller) SeesChild() bool { return !c.On || c.works() }

// SeesAllocation: the allocation pages are for the regions (their own) and
// auditors (any).
func (c Caller) SeesAllocation() bool { return !c.On || c.P.Kind == auth.Region || c.audits() }

// Audits: the audit pages (history, verify, export) are for auditors.
func (c Caller) Audits() bool { return !c.On || c.audits() }

// HasPages: every role the console serves has pages; the operator's are
// the engine's state (Operates, WatchesEngine), never a refusal.
func (c Caller) HasPages() bool {
	return !c.On || c.works() || c.audits() || c.operates() || c.P.Kind == auth.DataProtection
}

func (c Caller) operates() bool { return c.P.Kind == auth.Operator }

// SeesCases: the pages about children's referrals and the views of them
// (at risk, capacity, timeliness, planning) are for the roles that work
// with the children and auditors; the operator watches the engine, not
// the children.
func (c Caller) SeesCases() bool { return !c.On || c.works() || c.audits() }

// Operates: the operator replays parked messages, rebuilds views and voids
// messages nobody can read.
func (c Caller) Operates() bool { return !c.On || c.operates() }

// WatchesEngine: the operator and auditors read the engine's state
// (readiness, the views' positions and stops, the parked messages).
func (c Caller) WatchesEngine() bool { return !c.On || c.operates() || c.audits() }

// Verifies: auditors verify the log, and so does the operator, who keeps
// the engine whose log it is; a verification only reads.
func (c Caller) Verifies() bool { return !c.On || c.audits() || c.operates() }

// SeesVerification: whoever may verify the log reads its last
// verification.
func (c Caller) SeesVerification() bool { return c.Verifies() }

// Landing is the console page the caller starts on: the engine's state
// for the operator, the referrals at risk for everyone else.
func (c Caller) Landing() string {
	if c.OnlyProtectsData() {
		return "/console/privacy"
	}
	if !c.SeesCases() {
		return "/console/operations"
	}
	return "/console/at-risk"
}

// MayCall is the coarse rule of the API's routes (pattern "METHOD /path"):
// which roles may call a route at all. Scoping to an authority or region
// is the other rules' work.
func (c Caller) MayCall(pattern string) bool {
	if !c.On {
		return true
	}
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case c.P.Kind == auth.Operator:
		return pattern == "GET /metrics" || pattern == "GET /v1/views" || pattern == "POST /v1/views/{name}/rebuild" ||
			pattern == "GET /v1/parked" || pattern == "POST /v1/parked/replay" || pattern == "POST /v1/voids" ||
			pattern == "GET /v1/audit/verify"
	case c.P.Kind == auth.DataProtection:
		return privacyRoute(path) || pattern == "POST /v1/referrals/{id}/corrections" || strings.HasPrefix(path, "/v1/records/")
	case c.audits():
		return method == http.MethodGet && !privacyRoute(path)
	case c.works():
		return !strings.HasPrefix(path, "/v1/audit/") && !strings.HasPrefix(path, "/v1/views") && !strings.HasPrefix(path, "/v1/parked") && path != "/v1/voids" && path != "/metrics" && !privacyRoute(path)
	}
	return false
}

// privacyRoute: the data protection officer's routes (the read audit,
// subject access exports, the disposals due and legal holds), which no
// other role calls.
func privacyRoute(path string) bool {
	return strings.HasPrefix(path, "/v1/privacy/") || strings.HasSuffix(path, "/subject-access") || path == "/v1/records"
}

// ProtectsData: the data protection officer exports what is held about a
// child, reads who looked at it and sees disposals and legal holds.
func (c Caller) ProtectsData() bool { return !c.On || c.P.Kind == auth.DataProtection }

// OnlyProtectsData: a signed-in data protection officer, whose console is
// the data protection page alone (no referral work, no views).
func (c Caller) OnlyProtectsData() bool { return c.On && c.P.Kind == auth.DataProtection }

// Corrector is the capacity in which the caller corrects a fact recorded
// about the child of ref (aggregates.Correctable says which fields each
// may correct): the data protection officer on a request, or whoever may
// change the referral. ok is false for a role that corrects nothing.
func (c Caller) Corrector(ref aggregates.Referral) (capacity string, ok bool) {
	switch {
	case !c.On:
		return aggregates.CorrectorAuthority, true
	case c.P.Kind == auth.DataProtection:
		return aggregates.CorrectorDataProtection, true
	case c.ChangesReferral(ref):
		return aggregates.CorrectorAuthority, true
	}
	return "", false
}

// Scope is the part of the referrals a list, a report or a page covers:
// a region (its name), an authority (its code), or both or neither.
type Scope struct {
	Region, Authority string
	// Fixed is true when the caller's role fixes the scope: there is no
	// other to choose.
	Fixed bool
}

// Narrow is the part of the asked scope the caller may see: an authority
// sees its own referrals, a region its region's, auditors what they ask
// for. beyond names, in words, what was asked outside it ("another
// authority's", "another region's"), or is "" when nothing was.
func (c Caller) Narrow(asked Scope, reg *refdata.Registry) (sc Scope, beyond string) {
	if !c.On {
		return asked, ""
	}
	switch c.P.Kind {
	case auth.Authority:
		if asked.Authority != "" && asked.Authority != c.P.Authority {
			beyond = "another authority's"
		}
		return Scope{Region: asked.Region, Authority: c.P.Authority, Fixed: true}, beyond
	case auth.Region:
		if (asked.Region != "" && asked.Region != c.P.Region) || (asked.Authority != "" && reg.RegionOf(asked.Authority) != c.P.Region) {
			beyond = "another region's"
		}
		sc = Scope{Region: c.P.Region, Fixed: true}
		if asked.Authority != "" && reg.RegionOf(asked.Authority) == c.P.Region {
			sc.Authority = asked.Authority
		}
		return sc, beyond
	}
	return asked, ""
}

// PageScope is Narrow as a page applies it: a page offers no way outside
// the caller's scope, so a hand-edited address is narrowed, not refused,
// and an authority's page is its own whatever region was asked.
func (c Caller) PageScope(asked Scope, reg *refdata.Registry) Scope {
	sc, _ := c.Narrow(asked, reg)
	if c.On && c.P.Kind == auth.Authority {
		sc.Region = ""
	}
	return sc
}

// Describe names the caller as a page's header shows it: the token's name
// and whom it speaks for.
func Describe(p auth.Principal, reg *refdata.Registry) string {
	name := p.Name
	if name == "" {
		name = "unnamed token"
	}
	switch p.Kind {
	case auth.Authority:
		if a, _ := reg.Lookup(p.Authority); a.Name != "" {
			return name + " (" + a.Name + ")"
		}
	case auth.Region:
		return name + " (" + p.Region + " region)"
	}
	return name + " (" + p.Role() + ")"
}
