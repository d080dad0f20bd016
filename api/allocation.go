package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
)

// The regional partnership's allocation: referrals into the scheme, the
// rota, pauses, the authority's single point of contact, and the national
// equity view. The rules are the deciders'; this file supplies what they
// weigh (the region's authorities, the capacity view, the response policy)
// and applies the roles.

// regionOf finds a region by the slug in the path.
func (s *Server) regionOf(w http.ResponseWriter, r *http.Request, slug string) (name string, ok bool) {
	name, ok = refdata.RegionByName(slug)
	if !ok || refdata.Slug(name) != slug {
		writeError(w, apiError(http.StatusNotFound, "not_found", "region", "no region %q; regions are named by slug, e.g. north-west", slug))
		return "", false
	}
	return name, true
}

// regions are the partnership's use cases, on this server's engine.
func (s *Server) regions() app.Regions {
	return app.Regions{Engine: s.Engine, Authorities: s.Authorities}
}

// rota is where the allocation's facts come from: package rota, shared
// with the console.
func (s *Server) rota() rota.Facts {
	return rota.Facts{Authorities: s.Authorities, Views: s.Views, Policy: s.AllocationPolicy, Calendar: s.cal()}
}

// allocationRoute serves one of the allocation's commands on a referral:
// POST /v1/referrals/{id}/allocation ({} for the rota's choice or
// {"authority","reason"} for the coordinator's), and the allocated
// authority's contact's .../acceptance and .../allocation-exception. The
// body decodes into C; run gives it to its use case.
func allocationRoute[C aggregates.Command](s *Server, run func(r *http.Request, id string, c C, meta engine.Meta) (engine.Outcome, error)) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta) {
		id := r.PathValue("id")
		// An id that cannot name a referral, or names none the caller may
		// read, is a 404 here even with sign-in off, as it always was (the
		// engine would call it invalid).
		if _, _, ok := s.load(w, r, id); !ok {
			return
		}
		out, err := run(r, id, c, meta)
		s.answer(w, r, id, c, out, err, http.StatusOK)
	})
}

// allocate is the allocation by the rota or the coordinator.
func (s *Server) allocate(r *http.Request, id string, c aggregates.Allocate, meta engine.Meta) (engine.Outcome, error) {
	return s.referrals().Allocate(r.Context(), caller(r), id, c, meta, nil, s.now())
}

// answerAllocation is the contact's answer, the referral's action.
func answerAllocation[C aggregates.Command](s *Server, action string) http.HandlerFunc {
	return allocationRoute(s, func(r *http.Request, id string, c C, meta engine.Meta) (engine.Outcome, error) {
		return s.referrals().Act(r.Context(), caller(r), id, action, c, meta)
	})
}

// RotaView is a region's rota as the partnership reads it.
type RotaView struct {
	Region  string          `json:"region"`
	Version int             `json:"version"`
	Order   []RotaAuthority `json:"order"`
	// Next is the authority the rota tries first for the next child.
	Next string `json:"next"`
	// Proposal is whom the rota would allocate the next child to now, with
	// every authority it would pass over and why; absent when it would
	// pass over all of them.
	Proposal *events.ReferralAllocated `json:"proposal,omitempty"`
	// NoProposal says why there is none.
	NoProposal string `json:"noProposal,omitempty"`
}

// RotaAuthority is one authority in the rota.
type RotaAuthority struct {
	Position int `json:"position"`
	projections.CapacityRow
	PausedUntil *time.Time `json:"pausedUntil,omitempty"`
	PauseReason string     `json:"pauseReason,omitempty"`
}

// rotaView: GET /v1/regions/{region}/rota.
func (s *Server) rotaView(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("region")
	name, ok := s.regionOf(w, r, slug)
	if !ok {
		return
	}
	now := s.now()
	rd, err := s.regions().Rota(r.Context(), caller(r), name, s.rota(), now)
	if err != nil {
		writeError(w, errorFor(err, noVersion))
		return
	}
	g := rd.Region
	view := RotaView{Region: slug, Version: g.Version, Order: []RotaAuthority{}, Proposal: rd.Proposal}
	for i, code := range rd.Order {
		a := RotaAuthority{Position: i + 1, CapacityRow: rd.Capacity[code]}
		if a.Code == "" {
			au, _ := s.Authorities.Lookup(code)
			a.Code, a.Name, a.Region = code, au.Name, au.Region
		}
		if p, on := g.Paused(code, now); on {
			until := p.Until
			a.PausedUntil, a.PauseReason = &until, p.Reason
		}
		view.Order = append(view.Order, a)
	}
	if len(rd.Order) > 0 {
		view.Next = rd.Order[g.Next%len(rd.Order)]
	}
	if rd.NoProposal != nil {
		view.NoProposal = rd.NoProposal.Error()
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(g.Version)))
	writeJSON(w, http.StatusOK, view)
}

// regionRoute serves one of the partnership's commands on a region: PUT
// /v1/regions/{region}/rota, POST .../pauses, and POST
// .../pauses/{authority}/end (ending an authority's pause early,
// {"reason"}). The body decodes into C; fromPath, if any, adds what the
// path names.
func regionRoute[C aggregates.RegionCommand](s *Server, fromPath func(*C, *http.Request)) http.HandlerFunc {
	return withCommand(s, func(w http.ResponseWriter, r *http.Request, c C, meta engine.Meta) {
		name, ok := s.regionOf(w, r, r.PathValue("region"))
		if !ok {
			return
		}
		if fromPath != nil {
			fromPath(&c, r)
		}
		out, err := s.regions().Change(r.Context(), caller(r), name, c, meta)
		s.answerAggregate(w, r, regionResult, out, err)
	})
}

// pausedAuthority is the authority whose pause .../pauses/{authority}/end
// ends.
func pausedAuthority(c *aggregates.EndPause, r *http.Request) { c.Authority = r.PathValue("authority") }

// setContact: PUT /v1/authorities/{code}/contact.
func (s *Server) setContact(w http.ResponseWriter, r *http.Request, c aggregates.SetContact, meta engine.Meta) {
	code, ok := s.pathAuthority(w, r)
	if !ok {
		return
	}
	out, err := app.Authorities{Engine: s.Engine}.Change(r.Context(), caller(r), code, c, meta)
	s.answerAggregate(w, r, authorityResult, out, err)
}

// national: GET /v1/capacity/national.
func (s *Server) national(w http.ResponseWriter, r *http.Request) {
	year := r.URL.Query().Get("year")
	if year == "" {
		year = strconv.Itoa(s.now().Year())
	} else if y, err := strconv.Atoi(year); err != nil || y < 2016 || y > 2100 {
		writeError(w, apiError(http.StatusBadRequest, "invalid_query", "year", "year is a calendar year from 2016, e.g. 2025"))
		return
	}
	rd, err := s.queries().National(year, s.now())
	answerRead(s, w, r, "", rd, err, same)
}

// answer writes a command's outcome or its error, as run does.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, id string, c aggregates.Command, out engine.Outcome, err error, okStatus int) {
	if err != nil {
		e := errorFor(err, func() (int, bool) {
			ref, _, err := s.Engine.Load(r.Context(), id)
			return ref.Version, err == nil
		})
		if e.status >= 500 {
			s.log().Error("command failed", "command", c.CommandName(), "referral", id, "err", err)
		}
		writeError(w, e)
		return
	}
	if out.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(out.Version)))
	writeJSON(w, okStatus, s.commandResult(r, out))
}
