package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/engine"
)

// The operators' page: is the engine ready, where each view stands and
// whether one has stopped, the messages the consumers parked (with their
// replay), and the log's last verification. Each part is app's operations
// use case, the API's too (/readyz, GET /v1/views, GET /v1/parked, POST
// /v1/parked/replay, GET /v1/audit/verify).

// ops are the operators' use cases.
func (s *Server) ops() app.Operations {
	var key []byte
	if s.Engine != nil {
		key = s.Engine.ChainKey
	}
	return app.Operations{Store: s.EventStore, Views: s.Views, Ready: s.Ready, Verifier: s.Verifier, ChainKey: key, Engine: s.Engine, Log: s.log()}
}

type operationsData struct {
	Ready       bool
	NotReady    string
	Stream      string
	NoViews     bool
	Views       []viewRow
	Parked      []parkedRow
	ParkedMax   bool
	MayReplay   bool
	Audit       auditData
	MayVerify   bool
	Replayed    []replayedRow
	ReplayError string
	// Done says what an operator's rebuild or void did; Problem why it
	// did nothing, for the view (ProblemView) it was asked of.
	Done, Problem, ProblemView string
	// Reason and Force are a refused void's answers, shown again.
	Reason string
	Force  bool
}

type viewRow struct {
	Name, Position, Behind, LastApplied, Rebuilding, Stop string
	Stopped                                               bool
	// StopSubject and StopSequence name the message a stopped view
	// stopped before: what a void of it names.
	StopSubject  string
	StopSequence uint64
}

type parkedRow struct {
	Sequence                                          uint64
	Consumer, Subject, Event, Deliveries, Error, When string
}

type replayedRow struct {
	Sequence                uint64
	Consumer, Outcome, Note string
}

func (s *Server) operations(w http.ResponseWriter, r *http.Request, c *call) {
	s.renderOperations(w, r, c, http.StatusOK, nil, "")
}

func (s *Server) renderOperations(w http.ResponseWriter, r *http.Request, c *call, code int, replayed []replayedRow, replayErr string) {
	s.renderOperationsWith(w, r, c, code, operationsData{Replayed: replayed, ReplayError: replayErr})
}

func (s *Server) renderOperationsWith(w http.ResponseWriter, r *http.Request, c *call, code int, d operationsData) {
	if !c.app().WatchesEngine() {
		s.forbidden(w, c, "see the engine's state")
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	ops := s.ops()
	d.MayReplay, d.MayVerify = c.app().Operates(), c.app().Verifies()
	rd := ops.Readiness(ctx)
	d.Ready, d.NotReady = rd.Ready, rd.Reason
	vr, err := ops.ViewStatuses(ctx, c.app())
	switch {
	case errors.Is(err, app.ErrNoViews):
		d.NoViews = true
	case err != nil:
		s.unavailable(w, c, err)
		return
	default:
		d.Stream = thousands(int(vr.StreamSequence))
		for _, v := range vr.Views {
			row := viewRow{Name: v.Name, Position: thousands(int(v.Sequence)), Behind: plural(int(vr.StreamSequence-min(v.Sequence, vr.StreamSequence)), "event")}
			if !v.LastApplied.IsZero() {
				row.LastApplied = londonSeconds(v.LastApplied)
			}
			if v.Rebuilding != nil {
				row.Rebuilding = "Rebuilding"
			}
			if st := v.Stalled; st != nil {
				row.Stopped, row.StopSubject, row.StopSequence = true, st.Subject, st.Sequence
				row.Stop = "Stopped before event " + thousands(int(st.Sequence)) + " (" + st.Type + ", on " + st.Subject + ") since " + londonSeconds(st.Since) +
					". It will not move until an engine that reads that event runs, or an operator voids the message."
			}
			d.Views = append(d.Views, row)
		}
	}
	parked, err := ops.Parked(ctx, c.app())
	if err != nil {
		s.unavailable(w, c, err)
		return
	}
	d.ParkedMax = len(parked) >= app.ParkedLimit
	for _, p := range parked {
		d.Parked = append(d.Parked, parkedRow{Sequence: p.Sequence, Consumer: p.Consumer, Subject: p.Subject, Event: thousands(int(p.StreamSequence)),
			Deliveries: plural(int(p.Deliveries), "delivery"), Error: p.Error, When: londonSeconds(p.ParkedAt)})
	}
	if d.MayVerify {
		d.Audit = s.auditData(c)
	}
	s.render(w, code, "operations", page{Title: "Operations", Nav: "operations", C: c, Data: d})
}

// replay hands one parked message (or every one) back to its consumer, as
// POST /v1/parked/replay does, and shows the outcome on the page.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, c *call) {
	var seq uint64
	if v := strings.TrimSpace(r.PostForm.Get("sequence")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			s.renderOperations(w, r, c, http.StatusBadRequest, nil, "Choose a parked message from the list: "+strconv.Quote(v)+" is not one.")
			return
		}
		seq = n
	}
	out, err := s.ops().Replay(r.Context(), c.app(), seq)
	if err != nil {
		if code, why, ok := s.operationRefused(w, c, err, "replay parked messages", "Nothing was replayed."); ok {
			s.renderOperations(w, r, c, code, nil, why)
		}
		return
	}
	var rows []replayedRow
	for _, o := range out {
		row := replayedRow{Sequence: o.Sequence, Consumer: o.Consumer, Outcome: replayWords[o.Outcome], Note: o.Err}
		if row.Outcome == "" {
			row.Outcome = o.Outcome
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		rows = []replayedRow{{Outcome: "Nothing was parked, so nothing was replayed."}}
	}
	s.renderOperations(w, r, c, http.StatusOK, rows, "")
}

var replayWords = map[string]string{
	"replayed": "Replayed: handled, and no longer parked",
	"failed":   "Failed again: still parked",
	"waiting":  "Waiting: an earlier message of the same subject is still parked; replay that first",
}

// rebuild starts a view's rebuild beside the live one, as POST
// /v1/views/{name}/rebuild does; the page then shows it rebuilding.
func (s *Server) rebuild(w http.ResponseWriter, r *http.Request, c *call) {
	name := r.PostForm.Get("view")
	_, err := s.ops().Rebuild(r.Context(), c.app(), name)
	if err != nil {
		if code, why, ok := s.operationRefused(w, c, err, "rebuild views", "Nothing was started."); ok {
			s.renderOperationsWith(w, r, c, code, operationsData{Problem: why})
		}
		return
	}
	s.renderOperationsWith(w, r, c, http.StatusAccepted, operationsData{Done: "The " + name + " view is being rebuilt from the whole log beside the live one, which keeps answering until the rebuilt one takes its place. Its state below says when it has finished; reload the page to see it."})
}

// void records an operator's void of the message a view stopped before,
// as POST /v1/voids does; the views then go on past it.
func (s *Server) void(w http.ResponseWriter, r *http.Request, c *call) {
	v := r.PostForm
	d := operationsData{ProblemView: v.Get("view"), Reason: strings.TrimSpace(v.Get("reason")), Force: v.Get("force") == "yes"}
	seq, err := strconv.ParseUint(v.Get("sequence"), 10, 64)
	if err != nil || seq == 0 {
		d.Problem = "This form is incomplete. Reload the page and send it again."
		s.renderOperationsWith(w, r, c, http.StatusBadRequest, d)
		return
	}
	out, err := s.ops().Void(r.Context(), c.app(), engine.VoidRequest{Subject: v.Get("subject"), Sequence: seq, Reason: d.Reason, Force: d.Force}, actor(c))
	if err != nil {
		if code, why, ok := s.operationRefused(w, c, err, "void messages", "Nothing was voided."); ok {
			d.Problem = why
			s.renderOperationsWith(w, r, c, code, d)
		}
		return
	}
	s.renderOperationsWith(w, r, c, http.StatusCreated, operationsData{Done: "Message " + thousands(int(out.Voided)) + " on " + out.Subject + " is voided, on the record (event " + thousands(int(out.Sequence)) + "): the views go on past it, and verify shows it with your reason."})
}

// operationRefused is why an operator's action (replay, rebuild, void) did
// nothing, in app's words, and the status to answer it with, for the
// operations page to show again; ok is false when the caller may not act at
// all, and the refusal page has been written.
func (s *Server) operationRefused(w http.ResponseWriter, c *call, err error, what, nothing string) (code int, why string, ok bool) {
	var denied *app.Forbidden
	if errors.As(err, &denied) {
		s.forbidden(w, c, what)
		return 0, "", false
	}
	o := app.Classify(err)
	return o.Status, capital(o.Message) + ". " + nothing, true
}
