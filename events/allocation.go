package events

import "time"

// The allocation's events: a child referred into the scheme, allocated by
// the regional partnership's rota, and accepted (or declined) by the
// authority's single point of contact; and the region's rota itself.
const (
	TypeReferralReferred      = "referral.referred"
	TypeReferralAllocated     = "referral.allocated"
	TypeAllocationAccepted    = "referral.allocation-accepted"
	TypeAllocationException   = "referral.allocation-exception"
	TypeAllocationReminded    = "referral.allocation-reminded"
	TypeAllocationEscalated   = "referral.allocation-escalated"
	TypeRegionRotaSet         = "region.rota-set"
	TypeRegionAuthorityPaused = "region.authority-paused"
	TypeRegionRotaAdvanced    = "region.rota-advanced"
	TypeRegionPauseEnded      = "region.pause-ended"
	TypeAuthorityContactSet   = "authority.contact-set"
	TypePledgePlaceTaken      = "authority.pledge-place-taken"
)

// ReferringPartyHomeOffice is the referring party of a child referred from
// an interim hotel.
const ReferringPartyHomeOffice = "home-office"

// Why the rota passed over an authority.
const (
	SkipAtThreshold       = "at-threshold"        // looked after at or above 0.1% of its child population
	SkipPledgeMet         = "pledge-met"          // its pledge is used up
	SkipPaused            = "paused"              // a recorded pause, not yet ended
	SkipDeclinedThisChild = "declined-this-child" // it raised an exception for this referral
)

// ReferralReferred: a child is referred into the scheme for a region, to be
// allocated by its partnership's rota. The transfer clock runs from here.
// Like ReferralReceived, it carries the child's data, which never leaves
// the internal stream.
type ReferralReferred struct {
	ReferralID            string   `json:"referralId"`
	Region                string   `json:"region"` // the region's slug
	Route                 string   `json:"route"`
	ReferringParty        string   `json:"referringParty"` // the entry authority's ONS code, or "home-office"
	TransferringAuthority string   `json:"transferringAuthority,omitempty"`
	Hotel                 string   `json:"hotel,omitempty"`
	ChildReference        string   `json:"childReference"`
	ClaimedAge            int      `json:"claimedAge,omitempty"`
	DateOfBirth           string   `json:"dateOfBirth,omitempty"`
	Sex                   string   `json:"sex,omitempty"`
	Nationality           string   `json:"nationality,omitempty"`
	Languages             []string `json:"languages,omitempty"`
	Needs                 []string `json:"needs,omitempty"`
}

// Skip is one authority the rota passed over, and why.
type Skip struct {
	Authority string `json:"authority"`
	Reason    string `json:"reason"`
}

// ReferralAllocated: the partnership allocated the referral to an
// authority, by the rota (Position, Skipped) or by the coordinator's choice
// (OverrideReason).
type ReferralAllocated struct {
	Region         string `json:"region"`
	Authority      string `json:"authority"`
	Position       int    `json:"position"` // 1-based place in the rota
	Skipped        []Skip `json:"skipped,omitempty"`
	OverrideReason string `json:"overrideReason,omitempty"`
	// RespondBy is when the authority's contact must have answered.
	RespondBy time.Time `json:"respondBy"`
}

// AllocationAccepted: the authority's single point of contact accepted the
// allocation; a referral.received for the authority follows in the same
// commit.
type AllocationAccepted struct {
	Authority string `json:"authority"`
}

// AllocationException: the authority's contact declined this child, with
// a reason; the referral goes back to the partnership to allocate again.
type AllocationException struct {
	Authority string `json:"authority"`
	Reason    string `json:"reason"`
}

// AllocationReminded: the response saga reminded the contact, half way to
// the response deadline.
type AllocationReminded struct {
	Authority string    `json:"authority"`
	RespondBy time.Time `json:"respondBy"`
}

// AllocationEscalated: the contact did not answer in time; the
// partnership's lead must act.
type AllocationEscalated struct {
	Authority   string    `json:"authority"`
	RespondBy   time.Time `json:"respondBy"`
	EscalatedTo string    `json:"escalatedTo"`
}

// RegionRotaSet: the partnership set the order of its rota.
type RegionRotaSet struct {
	Region string   `json:"region"`
	Order  []string `json:"order"`
}

// RegionAuthorityPaused: the partnership paused an authority in its rota
// until a date, for a reason (the pressures its principles name).
type RegionAuthorityPaused struct {
	Region    string    `json:"region"`
	Authority string    `json:"authority"`
	Reason    string    `json:"reason"`
	Until     time.Time `json:"until"`
}

// RegionPauseEnded: the partnership ended an authority's pause before the
// time it was set to end (WasUntil), for a reason; the rota offers it
// children again from now.
type RegionPauseEnded struct {
	Region    string    `json:"region"`
	Authority string    `json:"authority"`
	Reason    string    `json:"reason"`
	WasUntil  time.Time `json:"wasUntil"`
}

// RegionRotaAdvanced: the rota gave its slot at Position to the referral;
// the next allocation starts after it.
type RegionRotaAdvanced struct {
	Region     string `json:"region"`
	ReferralID string `json:"referralId"`
	Authority  string `json:"authority"`
	Position   int    `json:"position"`
}

// AuthorityContactSet: the authority's single point of contact for
// allocations (a role mailbox and a name: the authority's data, not the
// child's).
type AuthorityContactSet struct {
	Authority string `json:"authority"`
	Mailbox   string `json:"mailbox"`
	Name      string `json:"name"`
}

// PledgePlaceTaken: the authority accepted an allocation and it took one of
// the places of its pledge (Place of Pledge). Recorded on the authority's
// subject in the same atomic write as the acceptance, so that two
// acceptances by one authority are decided one after the other and never
// both take its last place.
type PledgePlaceTaken struct {
	Authority  string `json:"authority"`
	ReferralID string `json:"referralId"`
	Place      int    `json:"place"`
	Pledge     int    `json:"pledge"`
}

func (PledgePlaceTaken) EventType() string      { return TypePledgePlaceTaken }
func (ReferralReferred) EventType() string      { return TypeReferralReferred }
func (ReferralAllocated) EventType() string     { return TypeReferralAllocated }
func (AllocationAccepted) EventType() string    { return TypeAllocationAccepted }
func (AllocationException) EventType() string   { return TypeAllocationException }
func (AllocationReminded) EventType() string    { return TypeAllocationReminded }
func (AllocationEscalated) EventType() string   { return TypeAllocationEscalated }
func (RegionRotaSet) EventType() string         { return TypeRegionRotaSet }
func (RegionAuthorityPaused) EventType() string { return TypeRegionAuthorityPaused }
func (RegionRotaAdvanced) EventType() string    { return TypeRegionRotaAdvanced }
func (RegionPauseEnded) EventType() string      { return TypeRegionPauseEnded }
func (AuthorityContactSet) EventType() string   { return TypeAuthorityContactSet }

const regionSubjectPrefix = SubjectPrefix + "region."

// RegionSubject is the subject of one region's rota events (slug, e.g.
// "north-west").
func RegionSubject(slug string) string { return regionSubjectPrefix + slug }
