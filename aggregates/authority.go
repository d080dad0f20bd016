package aggregates

import (
	"fmt"
	"regexp"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The authority's rules: what an authority records about itself: its
// voluntary pledge of places, and its single point of contact for the
// partnership's allocations.

// Authority is the state an authority's events fold to.
type Authority struct {
	Code      string
	Version   int
	Pledge    int
	PledgeSet bool
	Contact   events.AuthorityContactSet // zero until set
}

// SetContact records the authority's single point of contact for
// allocations: a role mailbox and a name (the authority's data, not the
// child's), so referrals "are considered and responded to swiftly".
type SetContact struct {
	Authority string `json:"-"`
	Mailbox   string `json:"mailbox" limit:"max=254"`
	Name      string `json:"name" limit:"max=100"`
}

func (SetContact) CommandName() string { return "set-contact" }
func (SetContact) authorityCommand()   {}

// mailbox is the shape of a role mailbox: something@somewhere.tld, no
// spaces; whether it delivers is the authority's business.
var mailbox = regexp.MustCompile(`^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

// SetPledge records an authority's pledge: how many children it commits to
// receive (regional pledges such as "ALL receiving 4").
type SetPledge struct {
	Authority string `json:"-"`
	Pledge    *int   `json:"pledge" limit:"min=0,max=1000"`
}

// AuthorityCommand is any of the authority's commands.
type AuthorityCommand interface {
	Command
	authorityCommand()
}

func (SetPledge) CommandName() string { return "set-pledge" }
func (SetPledge) authorityCommand()   {}

// MaxPledge bounds a pledge to something no authority could mean by mistake.
const MaxPledge = 1000

// DecideAuthority answers an authority command.
func DecideAuthority(a Authority, cmd AuthorityCommand, now time.Time) ([]events.Event, error) {
	if c, ok := cmd.(SetContact); ok {
		if err := a.mustBe(c.Authority); err != nil {
			return nil, err
		}
		if !mailbox.MatchString(c.Mailbox) || len(c.Mailbox) > 254 {
			return nil, invalid("mailbox", "give the contact's role mailbox, e.g. nts@council.gov.uk")
		}
		if !present(c.Name) || len([]rune(c.Name)) > 100 {
			return nil, invalid("name", "give the contact's name or team (1 to 100 characters)")
		}
		if a.Contact.Mailbox == c.Mailbox && a.Contact.Name == c.Name {
			return nil, illegal(CodeContactUnchanged, "the contact is already %s (%s)", c.Name, c.Mailbox)
		}
		return one(now, events.AuthorityContactSet{Authority: a.Code, Mailbox: c.Mailbox, Name: c.Name}), nil
	}
	c, ok := cmd.(SetPledge)
	if !ok {
		return nil, fmt.Errorf("authority: unknown command %T", cmd)
	}
	if a.Code == "" {
		// A state folded without its id (the rules' own tests): the
		// command names the authority.
		a.Code = c.Authority
	}
	if err := a.mustBe(c.Authority); err != nil {
		return nil, err
	}
	if c.Pledge == nil || *c.Pledge < 0 || *c.Pledge > MaxPledge {
		return nil, invalid("pledge", "a pledge is a number of children from 0 to %d", MaxPledge)
	}
	if a.PledgeSet && a.Pledge == *c.Pledge {
		return nil, illegal(CodePledgeUnchanged, "the pledge is already %d", a.Pledge)
	}
	return one(now, events.AuthorityPledgeSet{Authority: a.Code, Pledge: *c.Pledge}), nil
}

// mustBe refuses a command that names another authority than this one (a
// command may leave the authority to the aggregate by naming none).
func (a Authority) mustBe(code string) error {
	if !ValidAuthorityCode(a.Code) {
		return invalid("authority", "%q is not the ONS code of an English authority with children's services", a.Code)
	}
	if code != "" && code != a.Code {
		return invalid("authority", "this command is for %s, not %s", code, a.Code)
	}
	return nil
}

func checkAuthorityCode(code string) error {
	if !ValidAuthorityCode(code) {
		return invalid("authority", "not the ONS code of an authority with children's services")
	}
	return nil
}

// EvolveAuthority folds one event into an authority's state.
func EvolveAuthority(a Authority, e events.Event) Authority {
	a.Version++
	switch d := e.Data.(type) {
	case events.AuthorityPledgeSet:
		a.Code, a.Pledge, a.PledgeSet = d.Authority, d.Pledge, true
	case events.AuthorityContactSet:
		a.Code, a.Contact = d.Authority, d
	}
	return a
}

// DecideAcceptance is an acceptance decided over the accepting authority
// and the referral together: the authority's events (the pledge place the
// child takes) and the referral's (accepted, received), or a refusal.
// taken is how many children the authority received since its pledge was
// set and not withdrawn (the capacity view's count); the shell reads it
// only once the view holds everything stored before the authority was
// loaded, and writes both aggregates at once, each checked against the
// version it was decided on. An allocation holds a place while it awaits
// the answer, but a pledge can be lowered, or a child received directly,
// meanwhile: the acceptance is where the pledge is finally kept.
func DecideAcceptance(a Authority, r Referral, c AcceptAllocation, taken int, now time.Time) (authority, referral []events.Event, err error) {
	referral, err = Decide(r, c, now)
	if err != nil {
		return nil, nil, err
	}
	if a.Code != "" && a.Code != r.AllocatedTo {
		return nil, nil, illegal(CodeNotAllocatedToYou, "the referral is allocated to %s, not %s", r.AllocatedTo, a.Code)
	}
	if !a.PledgeSet {
		return nil, referral, nil
	}
	if taken >= a.Pledge {
		return nil, nil, illegal(CodePledgeUsedUp, "%s's pledge of %d is used up: %d children were received since it was set. Raise the pledge to accept this child, or raise an exception so the partnership allocates again", r.AllocatedTo, a.Pledge, taken)
	}
	return one(now, events.PledgePlaceTaken{Authority: r.AllocatedTo, ReferralID: r.ID, Place: taken + 1, Pledge: a.Pledge}), referral, nil
}
