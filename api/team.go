package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
)

// The receiving authority's team: its social workers and the allocation of
// each child it receives to one of them by rota. Staff data, the
// authority's own: the authority changes it; the authority and auditors
// read it.

// teamRoute serves one of the team's commands on a worker: PUT
// .../team/workers/{staffId}, POST .../absences, POST .../leaving. The body
// decodes into C.
func teamRoute[C aggregates.TeamCommand](s *Server) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta) {
		code, ok := s.pathAuthority(w, r)
		if !ok {
			return
		}
		out, err := app.Teams{Engine: s.Engine}.Change(r.Context(), caller(r), code, r.PathValue("staffId"), c, meta)
		s.answerAggregate(w, r, authorityResult, out, err)
	})
}

// allocateWorker: POST /v1/referrals/{id}/social-worker.
func (s *Server) allocateWorker(w http.ResponseWriter, r *http.Request, c aggregates.AllocateWorker, meta engine.Meta) {
	// The command changes the team, so its result (and version) is the
	// team's: named by the authority, not as the referral.
	out, err := s.referrals().AllocateWorker(r.Context(), caller(r), r.PathValue("id"), c, meta)
	s.answerAggregate(w, r, authorityResult, out, err)
}

// TeamView is an authority's team and its caseloads, so mixed caseloads
// are visible.
type TeamView struct {
	Authority string       `json:"authority"`
	Version   int          `json:"version"`
	Next      string       `json:"next,omitempty"` // the worker the rota tries first for the next child
	Workers   []WorkerView `json:"workers"`
	// Proposal is whom the rota would give the next child to now, with
	// every worker it would pass over and why (the rule run dry);
	// NoProposal, when it would pass over everyone, says why.
	Proposal   *WorkerProposal `json:"proposal,omitempty"`
	NoProposal string          `json:"noProposal,omitempty"`
	// ToAllocate are the children the authority received that have no
	// social worker, or whose worker left.
	ToAllocate []ChildToAllocate `json:"childrenToAllocate"`
}

// WorkerProposal is the rota's choice for the next child.
type WorkerProposal struct {
	StaffID  string              `json:"staffId"`
	Position int                 `json:"position"`
	Skipped  []events.WorkerSkip `json:"skipped"`
}

// ChildToAllocate is a child waiting for a social worker.
type ChildToAllocate struct {
	ReferralID string `json:"referralId"`
	LeftWorker string `json:"leftWorker,omitempty"` // the worker who left, for a child to reallocate
}

// WorkerView is one worker's caseload.
type WorkerView struct {
	Position      int        `json:"position"`
	StaffID       string     `json:"staffId"`
	Name          string     `json:"name"`
	Unaccompanied int        `json:"unaccompaniedChildren"` // allocated here
	OtherCases    int        `json:"otherCases"`
	Caseload      int        `json:"caseload"`
	CaseloadCap   int        `json:"caseloadCap"`
	AwayUntil     *time.Time `json:"awayUntil,omitempty"`
	AwayReason    string     `json:"awayReason,omitempty"`
	Left          bool       `json:"left,omitempty"`
	Children      []string   `json:"children"`
	// PassedOver is why the rota would pass the worker over for the next
	// child: "away" or "at-caseload-cap".
	PassedOver string `json:"passedOver,omitempty"`
}

// team: GET /v1/authorities/{code}/team.
func (s *Server) team(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathAuthority(w, r)
	if !ok {
		return
	}
	now := s.now()
	ro, err := app.Teams{Engine: s.Engine, Views: s.Views, Authorities: s.Authorities}.Roster(r.Context(), caller(r), code, now)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	t := ro.Team
	v := TeamView{Authority: code, Version: t.Version, Next: ro.Next, Workers: []WorkerView{}, ToAllocate: []ChildToAllocate{}}
	for _, wk := range ro.Workers {
		wv := WorkerView{Position: wk.Position, StaffID: wk.StaffID, Name: wk.Name, Unaccompanied: wk.Unaccompanied, OtherCases: wk.Other,
			Caseload: wk.Caseload, CaseloadCap: wk.CaseloadCap, Left: wk.Left, Children: append([]string{}, wk.Children...), PassedOver: wk.PassedOver}
		if wk.AwayNow {
			until := wk.AwayUntil
			wv.AwayUntil, wv.AwayReason = &until, wk.AwayReason
		}
		v.Workers = append(v.Workers, wv)
	}
	if p := ro.Proposal; p != nil {
		v.Proposal = &WorkerProposal{StaffID: p.StaffID, Position: p.Position, Skipped: append([]events.WorkerSkip{}, p.Skipped...)}
	} else if ro.NoProposal != nil {
		v.NoProposal = app.Classify(ro.NoProposal).Message
	}
	for _, ch := range ro.ToAllocate {
		v.ToAllocate = append(v.ToAllocate, ChildToAllocate{ReferralID: ch.ReferralID, LeftWorker: ch.LeftWorker})
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(t.Version)))
	writeJSON(w, http.StatusOK, v)
}

// AuthoritySettings is what an authority records about itself.
type AuthoritySettings struct {
	Authority string `json:"authority"`
	Name      string `json:"name"`
	Region    string `json:"region"`
	Version   int    `json:"version"`
	// Pledge is null until the authority sets one.
	Pledge  *int              `json:"pledge"`
	Contact *AuthorityContact `json:"contact"`
}

// AuthorityContact is the authority's single point of contact.
type AuthorityContact struct {
	Name    string `json:"name"`
	Mailbox string `json:"mailbox"`
}

// authority: GET /v1/authorities/{code}.
func (s *Server) authority(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathAuthority(w, r)
	if !ok {
		return
	}
	a, err := app.Authorities{Engine: s.Engine, Registry: s.Authorities}.Settings(r.Context(), caller(r), code)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	au, _ := s.Authorities.Lookup(code)
	v := AuthoritySettings{Authority: code, Name: au.Name, Region: au.Region, Version: a.Version}
	if a.PledgeSet {
		p := a.Pledge
		v.Pledge = &p
	}
	if a.Contact.Mailbox != "" {
		v.Contact = &AuthorityContact{Name: a.Contact.Name, Mailbox: a.Contact.Mailbox}
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(a.Version)))
	writeJSON(w, http.StatusOK, v)
}

// pathAuthority is the authority the path's {code} names, by its current
// code; ok is false when it has written the answer.
func (s *Server) pathAuthority(w http.ResponseWriter, r *http.Request) (string, bool) {
	code, ok := s.Authorities.Canonical(r.PathValue("code"))
	if !ok {
		writeError(w, apiError(http.StatusNotFound, "not_found", "code", "%s is not an authority with children's services", r.PathValue("code")))
	}
	return code, ok
}
