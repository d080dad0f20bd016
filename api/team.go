package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
)

// The receiving authority's team: its social workers and the allocation of
// each child it receives to one of them by rota. Staff data, the
// authority's own: the authority changes it; the authority and auditors
// read it.

// teamCommand: PUT .../team/workers/{staffId}, POST .../absences, POST
// .../leaving. body is a fresh command to decode the request into.
func (s *Server) teamCommand(w http.ResponseWriter, r *http.Request, body any) {
	staffID := r.PathValue("staffId")
	var cmd aggregates.TeamCommand
	meta, ok := s.decodeCommand(w, r, body)
	if !ok {
		return
	}
	code, ok := s.Authorities.Canonical(r.PathValue("code"))
	if !ok {
		writeError(w, apiError(http.StatusNotFound, "not_found", "code", "%s is not an authority with children's services", r.PathValue("code")))
		return
	}
	switch c := body.(type) {
	case *aggregates.SetWorker:
		cmd = *c
	case *aggregates.MarkWorkerAway:
		cmd = *c
	case *aggregates.RecordWorkerLeft:
		cmd = *c
	}
	out, err := app.Teams{Engine: s.Engine}.Change(r.Context(), caller(r), code, staffID, cmd, meta)
	s.answerAggregate(w, r, authorityResult, out, err)
}

// allocateWorker: POST /v1/referrals/{id}/social-worker.
func (s *Server) allocateWorker(w http.ResponseWriter, r *http.Request) {
	var c aggregates.AllocateWorker
	meta, ok := s.decodeCommand(w, r, &c)
	if !ok {
		return
	}
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
}

// team: GET /v1/authorities/{code}/team.
func (s *Server) team(w http.ResponseWriter, r *http.Request) {
	code, ok := s.Authorities.Canonical(r.PathValue("code"))
	if !ok {
		writeError(w, apiError(http.StatusNotFound, "not_found", "code", "%s is not an authority with children's services", r.PathValue("code")))
		return
	}
	t, err := app.Teams{Engine: s.Engine}.Team(r.Context(), caller(r), code)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	v := TeamView{Authority: code, Version: t.Version, Workers: []WorkerView{}}
	now := s.now()
	for i, id := range t.Order {
		wk := t.Workers[id]
		wv := WorkerView{Position: i + 1, StaffID: id, Name: wk.Name, Unaccompanied: len(wk.Children), OtherCases: wk.OtherCases,
			Caseload: wk.Caseload(), CaseloadCap: wk.CaseloadCap, Left: wk.Left, Children: append([]string{}, wk.Children...)}
		if now.Before(wk.AwayUntil) {
			until := wk.AwayUntil
			wv.AwayUntil, wv.AwayReason = &until, wk.AwayReason
		}
		v.Workers = append(v.Workers, wv)
	}
	if len(t.Order) > 0 {
		v.Next = t.Order[t.Next%len(t.Order)]
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(t.Version)))
	writeJSON(w, http.StatusOK, v)
}
