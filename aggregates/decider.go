package aggregates

import (
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// Command is any command to any aggregate: plain data with a stable name,
// which is recorded on the commit it produces.
type Command interface{ CommandName() string }

// Decider is one aggregate's rules as values: the engine's one runner loads,
// folds, decides and appends for any of them. Its zero state is the state of
// an aggregate with no events.
type Decider[S any, C Command] struct {
	// Kind names the aggregate in messages ("referral", "authority").
	Kind string
	// Subject is where one aggregate's events live; the server checks the
	// aggregate's version as that subject's last sequence.
	Subject func(id string) string
	// CheckID refuses an id that cannot name this aggregate, before any I/O.
	CheckID func(id string) error
	// Decide answers a command at time now: the events it causes, or a
	// *Refusal. It never changes state.
	Decide func(state S, cmd C, now time.Time) ([]events.Event, error)
	// Evolve folds one event into the state. It never fails: an event is a
	// fact.
	Evolve func(state S, e events.Event) S
	// Initial, if set, is the state of an aggregate with no events yet, for
	// aggregates whose rules need their own id (a region its slug); else
	// the zero value.
	Initial func(id string) S
}

// Start is the state before the aggregate's first event.
func (d Decider[S, C]) Start(id string) S {
	if d.Initial != nil {
		return d.Initial(id)
	}
	var s S
	return s
}

// Fold replays events into a state, from the zero state.
func (d Decider[S, C]) Fold(evs []events.Event) S {
	var s S
	return d.Apply(s, evs)
}

// Apply folds more events into a state.
func (d Decider[S, C]) Apply(s S, evs []events.Event) S {
	for _, e := range evs {
		s = d.Evolve(s, e)
	}
	return s
}

// The aggregates. Adding one is a file beside referral.go and a line here.
var (
	Referrals = Decider[Referral, Command]{
		Kind: "referral", Subject: events.ReferralSubject, CheckID: checkReferralID,
		Decide: Decide, Evolve: Evolve,
	}
	Authorities = Decider[Authority, AuthorityCommand]{
		Kind: "authority", Subject: events.AuthoritySubject, CheckID: checkAuthorityCode,
		Decide: DecideAuthority, Evolve: EvolveAuthority,
		Initial: func(code string) Authority { return Authority{Code: code} },
	}
	Teams = Decider[Team, TeamCommand]{
		Kind: "team", Subject: events.TeamSubject, CheckID: checkAuthorityCode,
		Decide: DecideTeam, Evolve: EvolveTeam,
		Initial: func(code string) Team { return Team{Authority: code} },
	}
	Regions = Decider[Region, RegionCommand]{
		Kind: "region", Subject: events.RegionSubject, CheckID: checkRegionSlug,
		Decide: DecideRegion, Evolve: EvolveRegion,
		Initial: func(slug string) Region { return Region{Slug: slug} },
	}
	// Cares: a child's time in care after the transfer, one per referral
	// (care.go), on its own subject so the referral's rules stay as they are.
	Cares = Decider[Care, CareCommand]{
		Kind: "care", Subject: events.CareSubject, CheckID: checkReferralID,
		Decide: DecideCare, Evolve: EvolveCare,
		Initial: func(id string) Care { return Care{ID: id} },
	}
	// Records: a child's record's keeping and disposal (record.go), one
	// per referral, on its own subject.
	Records = Decider[Record, RecordCommand]{
		Kind: "record", Subject: events.RecordSubject, CheckID: checkReferralID,
		Decide: DecideRecord, Evolve: EvolveRecord,
		Initial: func(id string) Record { return Record{ID: id} },
	}
)
