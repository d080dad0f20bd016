// Package publisher publishes the public contract (package contract) from
// the internal log, in order and exactly once, on the NTS_PUBLIC stream.
//
//ntsflow:shell
package publisher

import (
	"context"
	"log/slog"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/contract"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/refdata"
)

// Durable names the publisher: its parked messages, and the durable
// consumer that versions before the public stream became its checkpoint
// kept (eventstore.PublishFollowing takes over from it).
const Durable = "public-publisher"

// Publisher publishes the public contract from the internal log. Its
// checkpoint is the public stream: each message names the commit it came
// from, and a publisher starting goes on after the last one
// (eventstore.PublishFollowing). Every instance runs one; a write another
// made first is refused by the stream, never doubled, so each referral's
// public events keep their order.
type Publisher struct {
	Engine   *engine.Engine
	Store    *eventstore.Store
	Registry *refdata.Registry
	Log      *slog.Logger
	// OnPublished, if set, hears where the publisher stands: the last
	// commit handled and its stored time, for the publisher's metrics.
	OnPublished func(seq uint64, stored time.Time)
}

// Run publishes until ctx ends, restarting after errors, at first after
// a second, then less often while it keeps failing at once (an earlier
// version still running, say), at most every half a minute.
func (p *Publisher) Run(ctx context.Context) error {
	pause := time.Second
	for ctx.Err() == nil {
		began := time.Now()
		err := p.Store.PublishFollowing(ctx, eventstore.PublicFollower{
			Name: Durable,
			Make: func(st eventstore.Stored) ([]eventstore.PublicMessage, error) { return p.Messages(ctx, st) },
			At:   p.OnPublished,
		})
		if ctx.Err() != nil {
			break
		}
		if time.Since(began) > time.Minute {
			pause = time.Second
		}
		p.log().Warn("public publisher stopped; restarting", "err", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
	return ctx.Err()
}

// Messages are one commit's public events, in the commit's order.
func (p *Publisher) Messages(ctx context.Context, st eventstore.Stored) ([]eventstore.PublicMessage, error) {
	var msgs []eventstore.PublicMessage
	var c *contract.Context
	for _, e := range st.Commit.Events {
		if !contract.Public(e.Type) {
			continue
		}
		if c == nil {
			// The referral is the public event's context. For a commit of
			// the referral itself: as of that commit or later, from the
			// engine's cache when it holds the commit (the command was run
			// here). A commit of another aggregate (a child's care, whose
			// missing episodes are public) is not on the referral's
			// subject: the referral as it stands.
			var ref aggregates.Referral
			var stored []eventstore.Stored
			var err error
			if st.Subject == events.ReferralSubject(e.AggregateID) {
				ref, stored, err = engine.LoadHolding(ctx, p.Engine, aggregates.Referrals, e.AggregateID, st.Sequence)
			} else {
				ref, stored, err = p.Engine.Load(ctx, e.AggregateID)
			}
			if err != nil {
				return nil, err
			}
			c = &contract.Context{Referral: ref, Region: p.Registry.RegionOf(ref.ReceivingAuthority)}
			if ref.ReceivingAuthority == "" {
				// Referred into the scheme, not yet accepted: its region.
				c.Region, _ = refdata.RegionByName(ref.Region)
			}
			// (A first message an operator voided has no events.)
			if len(stored) > 0 && len(stored[0].Commit.Events) > 0 {
				switch d := stored[0].Commit.Events[0].Data.(type) {
				case events.ReferralReceived:
					c.TransferringAuthority = d.TransferringAuthority
				case events.ReferralReferred:
					c.TransferringAuthority = d.TransferringAuthority
				}
			}
		}
		m, ok, err := contract.Encode(e, *c)
		if err != nil {
			p.log().Error("public event not encodable; skipped", "event", e.ID, "err", err)
			continue
		}
		if ok {
			msgs = append(msgs, eventstore.PublicMessage(m))
		}
	}
	return msgs, nil
}

func (p *Publisher) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}
