package events

import "time"

// A receiving authority's team: its social workers (staff data, not the
// child's), and the allocation of each child it receives to one of them by
// rota (Stockport's practice: mixed caseloads, no separate team).
const (
	TypeWorkerJoined    = "team.worker-joined"
	TypeWorkerUpdated   = "team.worker-updated"
	TypeWorkerAway      = "team.worker-away"
	TypeWorkerLeft      = "team.worker-left"
	TypeWorkerAllocated = "team.worker-allocated"
)

// Why the team's rota passed over a social worker.
const (
	SkipWorkerAway  = "away"
	SkipWorkerAtCap = "at-caseload-cap"
)

// WorkerJoined: a social worker joins the team's rota, at its end.
type WorkerJoined struct {
	Authority   string `json:"authority"`
	StaffID     string `json:"staffId"`
	Name        string `json:"name"`
	CaseloadCap int    `json:"caseloadCap"`
	OtherCases  int    `json:"otherCases"` // children on the caseload besides those allocated here
}

// WorkerUpdated: a worker's name, cap or other cases changed.
type WorkerUpdated struct {
	StaffID     string `json:"staffId"`
	Name        string `json:"name"`
	CaseloadCap int    `json:"caseloadCap"`
	OtherCases  int    `json:"otherCases"`
}

// WorkerAway: a worker is away (leave, training) until a time.
type WorkerAway struct {
	StaffID string    `json:"staffId"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
}

// WorkerLeft: a worker left the team; the children allocated to them need
// another (Reallocate lists them).
type WorkerLeft struct {
	StaffID    string   `json:"staffId"`
	Reallocate []string `json:"reallocate,omitempty"` // referral ids
}

// WorkerSkip is one worker the rota passed over, and why.
type WorkerSkip struct {
	StaffID string `json:"staffId"`
	Reason  string `json:"reason"`
}

// WorkerAllocated: a child (a referral received by the authority) is
// allocated to a social worker, by the rota or by the team leader's choice
// (Chosen), with the Reason for a choice or a reallocation.
type WorkerAllocated struct {
	ReferralID string       `json:"referralId"`
	StaffID    string       `json:"staffId"`
	Position   int          `json:"position"`
	Skipped    []WorkerSkip `json:"skipped,omitempty"`
	Chosen     bool         `json:"chosen,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	// Previous is the worker the child had before, on a reallocation.
	Previous string `json:"previous,omitempty"`
}

func (WorkerJoined) EventType() string    { return TypeWorkerJoined }
func (WorkerUpdated) EventType() string   { return TypeWorkerUpdated }
func (WorkerAway) EventType() string      { return TypeWorkerAway }
func (WorkerLeft) EventType() string      { return TypeWorkerLeft }
func (WorkerAllocated) EventType() string { return TypeWorkerAllocated }

const teamSubjectPrefix = SubjectPrefix + "team."

// TeamSubject is the subject of one authority's team events.
func TeamSubject(onsCode string) string { return teamSubjectPrefix + onsCode }
