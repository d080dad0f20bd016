// Package contract is the public contract, as pure functions: which
// internal events other services see, and the privacy-safe CloudEvents 1.0
// (binary mode: ce-* headers, JSON body) each becomes. Package publisher
// publishes them. docs/asyncapi.yaml documents every channel and field; a
// test keeps the two in step.
//
// What a subscriber gets: the pseudonymous referral id, authority and
// region codes, route, times, placement type, deadline and escalation. What
// it never gets: anything about the child (name, date of birth,
// nationality, languages, needs, the child's reference), nor the hotel.
package contract

import (
	"encoding/json"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// Source is the CloudEvents source of every public event.
const Source = "urn:ntsflow:referrals"

// Public event names: the last token of the subject, and the CloudEvents
// type with its version suffix.
var publicTypes = map[string]string{
	events.TypeReferralReceived:  "received",
	events.TypeReferralPlaced:    "placed",
	events.TypeReferralWithdrawn: "withdrawn",
	events.TypeDeadlineWarning:   "deadline-warning",
	events.TypeDeadlineBreached:  "deadline-breached",
	events.TypeDeadlineEscalated: "deadline-escalated",
	// The partnership's allocation: which authority, by which rota
	// position, passing over whom (codes only), and its answer. Never the
	// coordinator's or the contact's free-text reasons.
	events.TypeReferralAllocated:   "allocated",
	events.TypeAllocationAccepted:  "allocation-accepted",
	events.TypeAllocationException: "allocation-exception",
	events.TypeAllocationEscalated: "allocation-escalated",
	// Safeguarding: a missing child's police and hub notified, the return,
	// and a return interview not offered in time. The episode number, the
	// party and the early flag only: never where the child was last seen
	// or found, nor the police reference.
	events.TypeMissingNotified:         "missing-notified",
	events.TypeMissingReturned:         "missing-returned",
	events.TypeReturnInterviewBreached: "return-interview-breached",
}

// PayloadVersion is the version of the public payload; it is in every
// CloudEvents type ("org.ntsflow.referral.placed.v1").
const PayloadVersion = "v1"

// Subject of a public event.
func Subject(name string) string { return events.PublicSubjectPrefix + "referral." + name }

// CEType is a public event's CloudEvents type.
func CEType(name string) string { return "org.ntsflow.referral." + name + "." + PayloadVersion }

// Public reports whether events of this internal type are part of the
// contract.
func Public(eventType string) bool {
	_, ok := publicTypes[eventType]
	return ok
}

// Message is one public event, ready to publish.
type Message struct {
	Subject string
	Headers map[string]string
	Data    []byte
	// MsgID deduplicates a republish (the source event's id).
	MsgID string
}

// Names lists the public event names.
func Names() []string {
	var out []string
	for _, n := range publicTypes {
		out = append(out, n)
	}
	return out
}

// Payload is the data of every public event. Fields that do not apply to
// an event are absent.
type Payload struct {
	ReferralID            string        `json:"referralId"`
	Authority             string        `json:"authority"`
	Region                string        `json:"region"`
	Route                 string        `json:"route"`
	TransferringAuthority string        `json:"transferringAuthority,omitempty"`
	OccurredAt            time.Time     `json:"occurredAt"`
	RecordedAt            time.Time     `json:"recordedAt"`
	ReceivedAt            time.Time     `json:"receivedAt"`
	PlacementType         string        `json:"placementType,omitempty"`
	PlacedAt              *time.Time    `json:"placedAt,omitempty"`
	WithdrawalReason      string        `json:"withdrawalReason,omitempty"`
	Deadline              *Deadline     `json:"deadline,omitempty"`
	EscalatedTo           string        `json:"escalatedTo,omitempty"`
	Allocation            *Allocation   `json:"allocation,omitempty"`
	Safeguarding          *Safeguarding `json:"safeguarding,omitempty"`
}

// Safeguarding is the missing episode on safeguarding events.
type Safeguarding struct {
	Episode int    `json:"episode"`
	Party   string `json:"party,omitempty"`
	// DueAt: when the return interview was due (return-interview-breached,
	// missing-returned).
	DueAt *time.Time `json:"dueAt,omitempty"`
}

// Allocation is the allocation on allocation events.
type Allocation struct {
	// Position is the authority's place in the rota (1-based).
	Position int `json:"position,omitempty"`
	// Override is true when the coordinator chose the authority (with a
	// reason, which stays inside) rather than the rota.
	Override bool          `json:"override,omitempty"`
	Skipped  []events.Skip `json:"skipped,omitempty"`
	// RespondBy is when the authority's contact must answer.
	RespondBy *time.Time `json:"respondBy,omitempty"`
}

// Deadline is the referral's deadline, on deadline events.
type Deadline struct {
	DueAt              time.Time `json:"dueAt"`
	WarningAt          time.Time `json:"warningAt,omitzero"`
	Policy             string    `json:"policy,omitempty"`
	WorkingDaysElapsed int       `json:"workingDaysElapsed"`
}

// Context is what the encoder knows of the referral besides the event:
// its current state and the region of its authority.
type Context struct {
	Referral              aggregates.Referral
	Region                string
	TransferringAuthority string
}

// Encode turns one internal event into its public message, or reports that
// it has none (most internal events are not part of the contract).
func Encode(e events.Event, c Context) (Message, bool, error) {
	name, ok := publicTypes[e.Type]
	if !ok {
		return Message{}, false, nil
	}
	r := c.Referral
	p := Payload{
		ReferralID: e.AggregateID, Authority: r.ReceivingAuthority, Region: c.Region, Route: r.Route,
		TransferringAuthority: c.TransferringAuthority,
		OccurredAt:            e.OccurredAt.UTC(), RecordedAt: e.RecordedAt.UTC(), ReceivedAt: r.ReceivedAt.UTC(),
	}
	switch d := e.Data.(type) {
	case events.ReferralReceived:
		// Only the codes: never the child's reference, age, birth date,
		// sex, nationality, languages or needs, nor the hotel.
		p.Authority, p.Route, p.TransferringAuthority, p.ReceivedAt = d.ReceivingAuthority, d.Route, d.TransferringAuthority, e.OccurredAt.UTC()
	case events.ReferralPlaced:
		at := d.PlacedAt.UTC()
		p.PlacementType, p.PlacedAt = d.PlacementType, &at
	case events.ReferralWithdrawn:
		p.WithdrawalReason = d.Reason // a code; the free-text detail stays inside
	case events.DeadlineWarning:
		p.Deadline = &Deadline{DueAt: d.Deadline.UTC(), WarningAt: r.WarningAt.UTC(), Policy: r.DeadlinePolicy, WorkingDaysElapsed: d.WorkingDaysElapsed}
		p.EscalatedTo = d.EscalatedTo
	case events.DeadlineBreached:
		p.Deadline = &Deadline{DueAt: d.Deadline.UTC(), WarningAt: r.WarningAt.UTC(), Policy: r.DeadlinePolicy, WorkingDaysElapsed: d.WorkingDaysElapsed}
		p.EscalatedTo = d.EscalatedTo
	case events.ReferralAllocated:
		by := d.RespondBy.UTC()
		p.Authority = d.Authority
		p.Allocation = &Allocation{Position: d.Position, Override: d.OverrideReason != "", Skipped: d.Skipped, RespondBy: &by}
	case events.AllocationAccepted:
		p.Authority = d.Authority
	case events.AllocationException:
		p.Authority = d.Authority // the reason is free text: it stays inside
	case events.AllocationEscalated:
		by := d.RespondBy.UTC()
		p.Authority, p.EscalatedTo = d.Authority, d.EscalatedTo
		p.Allocation = &Allocation{RespondBy: &by}
	case events.MissingNotified:
		p.Safeguarding = &Safeguarding{Episode: d.Episode, Party: d.Party}
	case events.MissingReturned:
		due := d.InterviewDueAt.UTC()
		p.Safeguarding = &Safeguarding{Episode: d.Episode, DueAt: &due}
	case events.ReturnInterviewBreached:
		due := d.DueAt.UTC()
		p.Safeguarding = &Safeguarding{Episode: d.Episode, DueAt: &due}
	case events.DeadlineEscalated:
		p.Deadline = &Deadline{DueAt: d.Deadline.UTC(), WarningAt: r.WarningAt.UTC(), Policy: r.DeadlinePolicy, WorkingDaysElapsed: d.WorkingDaysElapsed}
		p.EscalatedTo = d.EscalatedTo
	default:
		return Message{}, false, nil
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Message{}, false, err
	}
	return Message{
		Subject: Subject(name),
		Data:    data,
		MsgID:   e.ID,
		// CloudEvents NATS protocol binding, binary content mode: the
		// attributes are headers prefixed "ce-", the data is the body.
		Headers: map[string]string{
			"ce-specversion": "1.0",
			"ce-id":          e.ID,
			"ce-source":      Source,
			"ce-type":        CEType(name),
			"ce-time":        e.RecordedAt.UTC().Format(time.RFC3339Nano),
			"ce-subject":     e.AggregateID,
			"content-type":   "application/json",
		},
	}, true, nil
}
