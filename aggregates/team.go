package aggregates

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/events"
)

// The team's rules, all of them, in this file: a receiving authority's
// social workers and the allocation of each child it receives to one of
// them by rota. Stockport allocates incoming unaccompanied children by rota
// to all its social workers (mixed caseloads, no separate team, so no one
// burns out), skipping those away or at their caseload cap.

// Team is the state an authority's team events fold to.
type Team struct {
	Authority string
	Version   int
	Order     []string // staff ids, in rota order (joining order)
	Workers   map[string]Worker
	Next      int               // index in Order of the next slot to try
	Cases     map[string]string // referral id -> staff id
}

// Worker is one social worker of the team.
type Worker struct {
	StaffID     string
	Name        string
	CaseloadCap int
	OtherCases  int
	AwayUntil   time.Time
	AwayReason  string
	Left        bool
	Children    []string // referral ids allocated here, in order
}

// Caseload is the children on the worker's caseload: those allocated here
// and the others recorded.
func (w Worker) Caseload() int { return len(w.Children) + w.OtherCases }

// TeamCommand is any of the team's commands.
type TeamCommand interface {
	Command
	teamCommand()
}

type (
	// SetWorker adds a social worker to the team's rota (at its end), or
	// updates one: name, caseload cap, and children on the caseload besides
	// those allocated here.
	SetWorker struct {
		StaffID     string `json:"-"`
		Name        string `json:"name" limit:"max=100"`
		CaseloadCap *int   `json:"caseloadCap" limit:"min=1,max=100"`
		OtherCases  int    `json:"otherCases" limit:"min=0,max=100"`
	}
	// MarkWorkerAway records that a worker is away until a time.
	MarkWorkerAway struct {
		StaffID string    `json:"-"`
		Until   time.Time `json:"until"`
		Reason  string    `json:"reason" limit:"max=500"`
	}
	// RecordWorkerLeft records that a worker left; their children need
	// reallocating (each with AllocateWorker).
	RecordWorkerLeft struct {
		StaffID string `json:"-"`
	}
	// AllocateWorker allocates a child the authority received to a social
	// worker: with no StaffID the rota's next available worker, else that
	// worker for the team leader's Reason. Reallocating a child whose worker
	// left or is changed needs a reason too.
	AllocateWorker struct {
		ReferralID string `json:"-"`
		StaffID    string `json:"staffId,omitempty" limit:"max=64"`
		Reason     string `json:"reason,omitempty" limit:"max=500"`
		// The referral's state, which the shell supplies: the child must be
		// received (or placed) by this team's authority.
		Received bool `json:"-"`
	}
)

func (SetWorker) CommandName() string        { return "set-worker" }
func (MarkWorkerAway) CommandName() string   { return "mark-worker-away" }
func (RecordWorkerLeft) CommandName() string { return "record-worker-left" }
func (AllocateWorker) CommandName() string   { return "allocate-worker" }
func (SetWorker) teamCommand()               {}
func (MarkWorkerAway) teamCommand()          {}
func (RecordWorkerLeft) teamCommand()        {}
func (AllocateWorker) teamCommand()          {}

// MaxCaseload bounds a caseload cap to what no one could mean by mistake.
const MaxCaseload = 100

// DecideTeam answers a team command.
func DecideTeam(t Team, cmd TeamCommand, now time.Time) ([]events.Event, error) {
	switch c := cmd.(type) {
	case SetWorker:
		if !events.ValidID(c.StaffID) {
			return nil, invalid("staffId", "a staff id is 1 to 64 letters, digits, '-' or '_'")
		}
		if !present(c.Name) || len([]rune(c.Name)) > 100 {
			return nil, invalid("name", "give the worker's display name (1 to 100 characters)")
		}
		if c.CaseloadCap == nil || *c.CaseloadCap < 1 || *c.CaseloadCap > MaxCaseload {
			return nil, invalid("caseloadCap", "a caseload cap is 1 to %d children", MaxCaseload)
		}
		if c.OtherCases < 0 || c.OtherCases > MaxCaseload {
			return nil, invalid("otherCases", "other cases are 0 to %d children", MaxCaseload)
		}
		w, known := t.Workers[c.StaffID]
		if known && w.Left {
			return nil, illegal(CodeWorkerLeft, "%s left the team", c.StaffID)
		}
		if !known {
			return one(now, events.WorkerJoined{Authority: t.Authority, StaffID: c.StaffID, Name: c.Name, CaseloadCap: *c.CaseloadCap, OtherCases: c.OtherCases}), nil
		}
		if w.Name == c.Name && w.CaseloadCap == *c.CaseloadCap && w.OtherCases == c.OtherCases {
			return nil, illegal(CodeWorkerUnchanged, "%s is already recorded so", c.StaffID)
		}
		return one(now, events.WorkerUpdated{StaffID: c.StaffID, Name: c.Name, CaseloadCap: *c.CaseloadCap, OtherCases: c.OtherCases}), nil
	case MarkWorkerAway:
		if _, err := t.current(c.StaffID); err != nil {
			return nil, err
		}
		if !c.Until.After(now) {
			return nil, invalid("until", "an absence ends in the future")
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "say why (leave, training, sickness ...)")
		}
		return one(now, events.WorkerAway{StaffID: c.StaffID, Until: c.Until, Reason: c.Reason}), nil
	case RecordWorkerLeft:
		w, err := t.current(c.StaffID)
		if err != nil {
			return nil, err
		}
		return one(now, events.WorkerLeft{StaffID: c.StaffID, Reallocate: slices.Clone(w.Children)}), nil
	case AllocateWorker:
		return t.allocate(c, now)
	}
	return nil, fmt.Errorf("team: unknown command %T", cmd)
}

func (t Team) current(staffID string) (Worker, error) {
	w, ok := t.Workers[staffID]
	switch {
	case !ok:
		return w, illegal(CodeNotFound, "no social worker %q in this team", staffID)
	case w.Left:
		return w, illegal(CodeWorkerLeft, "%s left the team", staffID)
	}
	return w, nil
}

func (t Team) allocate(c AllocateWorker, now time.Time) ([]events.Event, error) {
	if !events.ValidID(c.ReferralID) {
		return nil, invalid("referralId", "name the child's referral (1 to 64 letters, digits, '-' or '_')")
	}
	if !c.Received {
		return nil, illegal(CodeNotReceived, "the authority has not received this child: allocate a social worker once the referral is received or accepted")
	}
	previous := t.Cases[c.ReferralID]
	if previous != "" && !t.Workers[previous].Left && c.StaffID == "" && c.Reason == "" {
		return nil, illegal(CodeAlreadyAllocated, "the child is allocated to %s; to change it, name the worker and give a reason", previous)
	}
	if previous != "" && !present(c.Reason) {
		return nil, invalid("reason", "a reallocation needs a reason (the worker left, a change the child needs)")
	}
	if c.StaffID != "" {
		w, err := t.current(c.StaffID)
		if err != nil {
			return nil, err
		}
		if c.StaffID == previous {
			return nil, illegal(CodeAlreadyAllocated, "the child is already allocated to %s", previous)
		}
		if !present(c.Reason) {
			return nil, invalid("reason", "choosing a worker other than the rota's needs a reason (an experienced practitioner for these needs, a language)")
		}
		return one(now, events.WorkerAllocated{ReferralID: c.ReferralID, StaffID: w.StaffID, Position: slices.Index(t.Order, w.StaffID) + 1, Chosen: true, Reason: c.Reason, Previous: previous}), nil
	}
	if len(t.Order) == 0 {
		return nil, illegal(CodeNoWorkerAvailable, "the team has no social workers on its rota")
	}
	var skipped []events.WorkerSkip
	for k := range t.Order {
		i := (t.Next + k) % len(t.Order)
		w := t.Workers[t.Order[i]]
		switch {
		case w.Left:
			continue // no longer on the rota
		case now.Before(w.AwayUntil):
			skipped = append(skipped, events.WorkerSkip{StaffID: w.StaffID, Reason: events.SkipWorkerAway})
		case w.Caseload() >= w.CaseloadCap:
			skipped = append(skipped, events.WorkerSkip{StaffID: w.StaffID, Reason: events.SkipWorkerAtCap})
		default:
			return one(now, events.WorkerAllocated{ReferralID: c.ReferralID, StaffID: w.StaffID, Position: i + 1, Skipped: skipped, Reason: c.Reason, Previous: previous}), nil
		}
	}
	why := make([]string, len(skipped))
	for i, s := range skipped {
		why[i] = s.StaffID + " " + s.Reason
	}
	return nil, illegal(CodeNoWorkerAvailable, "every social worker on the rota was passed over: %s; name one with a reason", strings.Join(why, ", "))
}

// EvolveTeam folds one event into a team's state.
func EvolveTeam(t Team, e events.Event) Team {
	t.Version++
	switch d := e.Data.(type) {
	case events.WorkerJoined:
		t.Authority = d.Authority
		t.Order = append(slices.Clip(t.Order), d.StaffID)
		t = t.withWorker(Worker{StaffID: d.StaffID, Name: d.Name, CaseloadCap: d.CaseloadCap, OtherCases: d.OtherCases})
	case events.WorkerUpdated:
		w := t.Workers[d.StaffID]
		w.Name, w.CaseloadCap, w.OtherCases = d.Name, d.CaseloadCap, d.OtherCases
		t = t.withWorker(w)
	case events.WorkerAway:
		w := t.Workers[d.StaffID]
		w.AwayUntil, w.AwayReason = d.Until, d.Reason
		t = t.withWorker(w)
	case events.WorkerLeft:
		w := t.Workers[d.StaffID]
		w.Left = true
		t = t.withWorker(w)
	case events.WorkerAllocated:
		cases := make(map[string]string, len(t.Cases)+1)
		for k, v := range t.Cases {
			cases[k] = v
		}
		if prev, ok := t.Workers[d.Previous]; ok {
			prev.Children = slices.DeleteFunc(slices.Clone(prev.Children), func(id string) bool { return id == d.ReferralID })
			t = t.withWorker(prev)
		}
		w := t.Workers[d.StaffID]
		w.Children = append(slices.Clip(w.Children), d.ReferralID)
		t = t.withWorker(w)
		cases[d.ReferralID] = d.StaffID
		t.Cases = cases
		if !d.Chosen {
			// The rota moves past the worker it gave the child to; a
			// worker the team leader named does not move it.
			t.Next = d.Position
		}
	}
	return t
}

// withWorker returns t with w set, copying the map so that states a caller
// holds are never changed under it.
func (t Team) withWorker(w Worker) Team {
	workers := make(map[string]Worker, len(t.Workers)+1)
	for k, v := range t.Workers {
		workers[k] = v
	}
	workers[w.StaffID] = w
	t.Workers = workers
	return t
}
