package app

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
)

// The children in care after the transfer: the list of every child an
// authority received (the children view), and one child's journey from
// referral to leaving care, with the care actions the rules accept now.

// MaxChildReference is the longest child's reference a referral takes
// (the limit tag of aggregates.ReceiveReferral's childReference): a search
// for a longer one is refused in words.
const MaxChildReference = 64

// ChildSearchProblem says, in words, what is wrong with a search for a
// child's reference, or "" when nothing is: both faces refuse the same.
func ChildSearchProblem(child string) string {
	switch {
	case len(child) > MaxChildReference:
		return "a child's reference has at most " + strconv.Itoa(MaxChildReference) + " characters"
	case strings.IndexFunc(child, unicode.IsControl) >= 0:
		return "a child's reference has letters, digits and punctuation, no control characters such as tabs"
	}
	return ""
}

// ChildrenQuery is what is asked of the children in care.
type ChildrenQuery struct {
	Scope Scope
	// Child is the start of a child's reference, any case ("" for all).
	Child string
	// CareStatus is one of projections' Care* statuses ("" for all).
	CareStatus string
	// Page narrows a scope beyond the caller's instead of refusing it.
	Page bool
}

// Children reads the children in care in the part of the scope the caller
// may see. A role that does not see children's references (auditors) gets
// the list without them, and may not search by one: a search would tell
// which references exist.
func (q Queries) Children(ctx context.Context, c Caller, cq ChildrenQuery, at At) (Read[projections.ChildrenReport], Scope, error) {
	sc, err := q.scoped(c, cq.Scope, cq.Page, "children")
	if err != nil {
		return Read[projections.ChildrenReport]{}, sc, err
	}
	if cq.Child != "" && !c.SeesChild() {
		return Read[projections.ChildrenReport]{}, sc, c.forbidden("search by a child's reference", "child")
	}
	if q.Views == nil {
		return Read[projections.ChildrenReport]{}, sc, ErrNoViews
	}
	f := projections.ChildrenFilter{Region: sc.Region, Authority: sc.Authority, Child: cq.Child, CareStatus: cq.CareStatus}
	reg, cal := q.Views.Registry, q.Views.Calendar
	hide := !c.SeesChild()
	r, err := read(ctx, q.Views, q.Views.Children, projections.ChildrenSpec(), at, func(v *projections.Children, now time.Time) projections.ChildrenReport {
		rep := projections.ReportChildren(v, reg, cal, f, now)
		if hide {
			for i := range rep.Children {
				rep.Children[i].ChildReference = ""
			}
		}
		return rep
	})
	return r, sc, err
}

// ChildNamed is every child in the caller's scope whose reference is ref
// (any case): one, or none, or several where a reference was used twice
// (a child referred again, or two authorities' references alike), which a
// page must not settle by guessing.
func (q Queries) ChildNamed(ctx context.Context, c Caller, ref string, at At) ([]projections.ChildRow, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	r, _, err := q.Children(ctx, c, ChildrenQuery{Child: ref, Page: true}, at)
	if err != nil {
		return nil, err
	}
	var out []projections.ChildRow
	for _, row := range r.Result.Children {
		if strings.EqualFold(row.ChildReference, ref) {
			out = append(out, row)
		}
	}
	return out, nil
}

// CareFacts are what the care rules weigh that the care aggregate does not
// own: the authorities' regions and the safeguarding policy's times.
type CareFacts struct {
	Authorities *refdata.Registry
	Rules       aggregates.MissingRules
}

// Complete adds to a care command the facts the rules weigh of the
// referral: the child's status, authority and region, the policy's times,
// a date of birth's basis. Both faces send care commands through it.
func (f CareFacts) Complete(ref aggregates.Referral, cmd aggregates.CareCommand) aggregates.CareCommand {
	child := aggregates.ChildOf(ref, f.Authorities.RegionOf(ref.ReceivingAuthority))
	switch x := cmd.(type) {
	case aggregates.ReportMissing:
		x.Child, x.Rules = child, f.Rules
		return x
	case aggregates.RecordReturn:
		x.Rules = f.Rules
		return x
	case aggregates.SetDateOfBirth:
		x.Child, x.Basis = child, events.DOBRecorded
		return x
	}
	return cmd
}

// The care actions a person takes on a placed child, named as the
// console's routes name them.
const (
	ActReportMissing = "report-missing"
	ActReturned      = "record-return"
	ActStrategy      = "strategy-discussion"
	ActInterview     = "return-interview"
	ActDateOfBirth   = "date-of-birth"
)

// CareActionNames lists the care actions in the order a page offers them.
var CareActionNames = []string{ActReportMissing, ActReturned, ActStrategy, ActInterview, ActDateOfBirth}

// careProbe is a well-formed care command for an action, as a person
// filling its form in correctly would send it: only the child's state can
// make the decider refuse it.
func careProbe(action string, ref aggregates.Referral, care aggregates.Care, now time.Time) aggregates.CareCommand {
	last, _ := care.Episode(0)
	switch action {
	case ActReportMissing:
		return aggregates.ReportMissing{MissingAt: later(later(now, ref.PlacedAt), last.ReturnedAt), LastSeen: "at the placement", PoliceReference: "a reference"}
	case ActReturned:
		return aggregates.RecordReturn{ReturnedAt: later(now, last.MissingAt), WhereFound: "at the placement"}
	case ActStrategy:
		return aggregates.RecordStrategyDiscussion{HeldAt: later(now, last.MissingAt), Attendees: []string{"police"}}
	case ActInterview:
		return aggregates.RecordReturnInterview{OfferedAt: later(now, last.ReturnedAt), OfferedBy: "an independent advocate"}
	case ActDateOfBirth:
		// A date other than the one recorded: recording the same again is
		// refused, a correction is not.
		dob := now.AddDate(-15, 0, 0).Format(time.DateOnly)
		if dob == care.DateOfBirth {
			dob = now.AddDate(-15, 0, -1).Format(time.DateOnly)
		}
		return aggregates.SetDateOfBirth{DateOfBirth: dob}
	}
	return nil
}

// AcceptsCare says whether the care decider would accept the action now,
// by dry-running it on the child's care, completed as a face completes it.
func AcceptsCare(action string, ref aggregates.Referral, care aggregates.Care, f CareFacts, now time.Time) bool {
	cmd := careProbe(action, ref, care, now)
	if cmd == nil {
		return false
	}
	_, err := aggregates.DecideCare(care, f.Complete(ref, cmd), now)
	return err == nil
}

// CareActions are the care actions the caller may take on the child now:
// those the role allows (the authority that placed the child changes its
// care) that the decider would accept.
func (c Caller) CareActions(ref aggregates.Referral, care aggregates.Care, f CareFacts, now time.Time) []string {
	if !c.ChangesReferral(ref) {
		return nil
	}
	var out []string
	for _, a := range CareActionNames {
		if AcceptsCare(a, ref, care, f, now) {
			out = append(out, a)
		}
	}
	return out
}

// Journey is one child's story from referral to leaving care, as the
// aggregates hold it.
type Journey struct {
	Referral   aggregates.Referral
	Stored     []eventstore.Stored
	Care       aggregates.Care
	CareStored []eventstore.Stored
	// Workers are the child's social workers, oldest first.
	Workers []WorkerSpell
}

// WorkerSpell is one social worker's time with the child.
type WorkerSpell struct {
	StaffID, Name string
	From          time.Time
	// Chosen by the team leader (with Reason) rather than by the rota.
	Chosen bool
	Reason string
	Left   bool
}

// Journey reads the referral the caller may see, the child's care and the
// social workers the team allocated the child to.
func (u Referrals) Journey(ctx context.Context, c Caller, id string, of ReadOf) (Journey, error) {
	ref, stored, err := u.Read(ctx, c, id, of)
	if err != nil {
		return Journey{}, err
	}
	j := Journey{Referral: ref, Stored: stored}
	if j.Care, j.CareStored, err = engine.LoadThrough(ctx, u.Engine, aggregates.Cares, id); err != nil {
		return j, err
	}
	if ref.ReceivingAuthority == "" {
		return j, nil
	}
	team, teamStored, err := engine.LoadThrough(ctx, u.Engine, aggregates.Teams, ref.ReceivingAuthority)
	if err != nil {
		return j, err
	}
	for _, st := range teamStored {
		for _, e := range st.Commit.Events {
			if d, ok := e.Data.(events.WorkerAllocated); ok && d.ReferralID == id {
				w := team.Workers[d.StaffID]
				j.Workers = append(j.Workers, WorkerSpell{StaffID: d.StaffID, Name: w.Name, From: e.OccurredAt, Chosen: d.Chosen, Reason: d.Reason, Left: w.Left})
			}
		}
	}
	return j, nil
}
