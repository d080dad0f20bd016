package app

import (
	"context"
	"sort"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
)

// Team reads the team of the authority code (its current ONS code): its
// social workers, their caseloads and the rota's next. Staff data: the
// authority reads its own, auditors every authority's.
func (u Teams) Team(ctx context.Context, c Caller, code string) (aggregates.Team, error) {
	if !c.ReadsTeam(code) {
		return aggregates.Team{}, c.forbidden("see or change the social workers of "+code+"; the authority does", "")
	}
	t, _, err := engine.Load(ctx, u.Engine.Store, aggregates.Teams, code)
	return t, err
}

// Roster is a team as both faces show it: its workers in rota order, whom
// the rota would give the next child to and whom it would pass over, and
// the children waiting for a social worker.
type Roster struct {
	Team aggregates.Team
	// Workers are the team's workers in rota order, leavers included.
	Workers []RosterWorker
	// Next is the staff id the rota tries first ("" with no workers).
	Next string
	// Proposal is the rota's choice for the next child, the team's rule
	// run dry: the worker, and every worker passed over with the reason
	// the rule gives. NoProposal, when the rule would pass over everyone,
	// is its refusal.
	Proposal   *events.WorkerAllocated
	NoProposal error
	// ToAllocate are the children the authority received that have no
	// social worker, or whose worker left (empty on a node without views).
	ToAllocate []ChildToAllocate
}

// RosterWorker is one worker with the caseload split the faces show.
type RosterWorker struct {
	aggregates.Worker
	Position int // in the rota, from 1
	// Unaccompanied are the children allocated here; Other the rest of
	// the caseload, as the team leader recorded it.
	Unaccompanied, Other, Caseload int
	// AwayNow is true while an absence runs; AwayUntil and AwayReason
	// stay on the worker after it ends.
	AwayNow bool
	// PassedOver is the reason the rota would pass the worker over for
	// the next child (events.SkipWorkerAway, events.SkipWorkerAtCap), or
	// "" for a worker it would not reach or would choose.
	PassedOver string
}

// ChildToAllocate is a child waiting for a social worker.
type ChildToAllocate struct {
	ReferralID, ChildReference string
	Status                     aggregates.Status
	// LeftWorker is the staff id of the worker who left, for a child to
	// reallocate; "" for a child never allocated.
	LeftWorker string
}

// rosterProbe names no referral: the dry run asks the rule about a child
// it has never seen, so a real child's allocation cannot colour the answer.
const rosterProbe = "rota-probe"

// Roster reads the team of the authority code as Team does, and runs the
// rota's rule on it without writing anything, as rota.Propose does for
// the region's authorities.
func (u Teams) Roster(ctx context.Context, c Caller, code string, now time.Time) (Roster, error) {
	t, err := u.Team(ctx, c, code)
	if err != nil {
		return Roster{}, err
	}
	out := Roster{Team: t}
	probe := aggregates.AllocateWorker{ReferralID: rosterProbe, Received: true}
	evs, err := aggregates.DecideTeam(t, probe, now)
	passed := map[string]string{}
	switch {
	case err != nil:
		out.NoProposal = err
	case len(evs) == 1:
		if a, ok := evs[0].Data.(events.WorkerAllocated); ok {
			out.Proposal = &a
			for _, s := range a.Skipped {
				passed[s.StaffID] = s.Reason
			}
		}
	}
	if out.NoProposal != nil && len(t.Order) > 0 {
		// The rule passed over everyone: its refusal says so in one
		// sentence. Ask it again with one more worker, free, last in the
		// turn, so its event names each worker passed over and why.
		for _, s := range withFreeWorker(t, now).Skipped {
			passed[s.StaffID] = s.Reason
		}
	}
	for i, id := range t.Order {
		w := t.Workers[id]
		out.Workers = append(out.Workers, RosterWorker{Worker: w, Position: i + 1, Unaccompanied: len(w.Children), Other: w.OtherCases,
			Caseload: w.Caseload(), AwayNow: now.Before(w.AwayUntil), PassedOver: passed[id]})
	}
	if len(t.Order) > 0 {
		out.Next = t.Order[t.Next%len(t.Order)]
	}
	out.ToAllocate, err = u.toAllocate(ctx, t, code, now)
	return out, err
}

// freeWorker is a worker the rule would always choose. Its staff id is
// one no command can give (a space is not allowed), so it cannot stand
// for anyone real.
const freeWorker = "free worker"

// withFreeWorker runs the rota's rule on t with a free worker placed last
// in the turn that starts at t.Next, and returns what it decided.
func withFreeWorker(t aggregates.Team, now time.Time) events.WorkerAllocated {
	n := t.Next % len(t.Order)
	order := append(append(append([]string{}, t.Order[:n]...), freeWorker), t.Order[n:]...)
	workers := make(map[string]aggregates.Worker, len(t.Workers)+1)
	for k, v := range t.Workers {
		workers[k] = v
	}
	workers[freeWorker] = aggregates.Worker{StaffID: freeWorker, CaseloadCap: 1}
	t.Order, t.Workers, t.Next = order, workers, n+1
	evs, err := aggregates.DecideTeam(t, aggregates.AllocateWorker{ReferralID: rosterProbe, Received: true}, now)
	if err != nil || len(evs) != 1 {
		return events.WorkerAllocated{}
	}
	a, _ := evs[0].Data.(events.WorkerAllocated)
	return a
}

// receivedForWorker is when a referral's child may be given a social
// worker: once the authority has received the child.
func receivedForWorker(s aggregates.Status) bool {
	return s == aggregates.StatusOpen || s == aggregates.StatusPlaced
}

// toAllocate lists the authority's received children with no social worker
// or one who left, oldest first.
func (u Teams) toAllocate(ctx context.Context, t aggregates.Team, code string, now time.Time) ([]ChildToAllocate, error) {
	if u.Views == nil {
		return nil, nil
	}
	var rows []projections.ReferralRow
	u.Views.Referrals.Read(func(v *projections.ReferralList, _ uint64) {
		for _, st := range []aggregates.Status{aggregates.StatusOpen, aggregates.StatusPlaced} {
			for off := 0; ; {
				p := projections.ListReferrals(v, u.Views.Registry, projections.ReferralFilter{Authority: code, Status: string(st), Offset: off, Limit: 500}, now)
				rows = append(rows, p.Referrals...)
				if p.Next == nil {
					break
				}
				off = *p.Next
			}
		}
	})
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ReceivedAt.Before(rows[j].ReceivedAt) })
	var out []ChildToAllocate
	for _, row := range rows {
		staff, has := t.Cases[row.ReferralID]
		if has && !t.Workers[staff].Left {
			continue
		}
		ref, _, err := u.Engine.Load(ctx, row.ReferralID)
		if err != nil {
			return nil, err
		}
		if !receivedForWorker(ref.Status) { // the view may lag the referral
			continue
		}
		ch := ChildToAllocate{ReferralID: row.ReferralID, ChildReference: ref.ChildReference, Status: ref.Status}
		if has {
			ch.LeftWorker = staff
		}
		out = append(out, ch)
	}
	return out, nil
}

// Reallocated is what became of one of a leaver's children: the worker the
// rota gave the child to, or why it could not.
type Reallocated struct {
	ReferralID string
	StaffID    string
	Err        error
}

// Leave records that the worker staffID left the team of the authority
// code and, with byRota, gives each of their children the rota's next
// worker, the leaving as the reason. The leaving stands even if a child
// cannot be reallocated (everyone passed over): that child stays on the
// team's list to allocate, and its Reallocated says why. Each
// reallocation is its own command, keyed from meta's key so a form sent
// twice reallocates once.
func (u Teams) Leave(ctx context.Context, c Caller, code, staffID string, byRota bool, meta engine.Meta) (engine.Outcome, []Reallocated, error) {
	out, err := u.Change(ctx, c, code, staffID, aggregates.RecordWorkerLeft{}, meta)
	if err != nil || !byRota {
		return out, nil, err
	}
	var children []string
	var name string
	for _, e := range out.Events {
		if d, ok := e.Data.(events.WorkerLeft); ok {
			children = d.Reallocate
		}
	}
	if t, err := u.Team(ctx, c, code); err == nil {
		name = t.Workers[staffID].Name
	}
	if name == "" {
		name = staffID
	}
	refs := Referrals{Engine: u.Engine, Authorities: u.Authorities}
	var done []Reallocated
	for _, id := range children {
		// The leaving was checked against the version the form showed;
		// each reallocation is decided on the team as it is then.
		m := meta
		m.ExpectedVersion, m.MsgID = nil, ""
		if meta.IdempotencyKey != "" {
			m.IdempotencyKey = meta.IdempotencyKey + "." + id
		}
		r := Reallocated{ReferralID: id}
		o, err := refs.AllocateWorker(ctx, c, id, aggregates.AllocateWorker{Reason: name + " left the team"}, m)
		r.Err = err
		for _, e := range o.Events {
			if d, ok := e.Data.(events.WorkerAllocated); ok {
				r.StaffID = d.StaffID
			}
		}
		done = append(done, r)
	}
	return out, done, nil
}
