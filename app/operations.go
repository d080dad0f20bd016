package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/views"
)

// Operations are the operators' use cases: whether the engine is ready,
// where each view stands, the messages the consumers parked and their
// replay, and the log's last verification. The API's /readyz, /v1/views,
// /v1/parked and /v1/audit/verify and the console's operations page are
// adapters over them, so both say the same thing of the same moment.
type Operations struct {
	// Store is the log itself: parked messages and verification read more
	// of it than the engine's port gives.
	Store *eventstore.Store
	Views *views.Set // nil: this node serves no views
	// Ready says whether the node can serve (nil: always ready).
	Ready func(context.Context) error
	// Verifier keeps the last verification, shared by every face of the
	// node (nil: verifications are run but not kept).
	Verifier *Verifier
	// ChainKey checks the hash chain.
	ChainKey []byte
	// Engine records an operator's void (nil: this node records none).
	Engine *engine.Engine
	Log    *slog.Logger
}

// Readiness is what /readyz says: ready, or not and why.
type Readiness struct {
	Ready  bool
	Reason string
}

// Readiness asks whether the node can serve now. Load balancers ask it
// without signing in, so it takes no caller.
func (o Operations) Readiness(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if o.Ready != nil {
		if err := o.Ready(ctx); err != nil {
			return Readiness{Reason: err.Error()}
		}
	}
	return Readiness{Ready: true}
}

// ViewsReport is where each view stands against the log's last sequence.
type ViewsReport struct {
	StreamSequence uint64             `json:"streamSequence"`
	Views          []views.ViewStatus `json:"views"`
}

// ViewStatuses reads each view's position, rebuild and any stop.
func (o Operations) ViewStatuses(ctx context.Context, c Caller) (ViewsReport, error) {
	if !c.WatchesEngine() {
		return ViewsReport{}, c.forbidden("see the views' status", "")
	}
	if o.Views == nil {
		return ViewsReport{}, ErrNoViews
	}
	last, err := o.Store.LastSequence(ctx)
	if err != nil {
		return ViewsReport{}, err
	}
	return ViewsReport{StreamSequence: last, Views: o.Views.Statuses()}, nil
}

// ParkedLimit is the most parked messages a list shows.
const ParkedLimit = 1000

// Parked lists the messages the sagas and the publisher parked, oldest
// first.
func (o Operations) Parked(ctx context.Context, c Caller) ([]eventstore.Parked, error) {
	if !c.WatchesEngine() {
		return nil, c.forbidden("see the parked messages", "")
	}
	return o.Store.ListParked(ctx, ParkedLimit)
}

// NotParked: no parked message has the sequence a replay named.
type NotParked struct{ Sequence uint64 }

func (e *NotParked) Error() string {
	return fmt.Sprintf("no parked message has sequence %d", e.Sequence)
}

// Replay hands parked messages back to their consumers on this instance,
// once the cause is fixed: the one of parked sequence seq, or every one
// (oldest first) when seq is 0.
func (o Operations) Replay(ctx context.Context, c Caller, seq uint64) ([]eventstore.Replayed, error) {
	if !c.Operates() {
		return nil, c.forbidden("replay parked messages", "")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := o.Store.ReplayParked(ctx, seq)
	if errors.Is(err, eventstore.ErrNotParked) {
		return nil, &NotParked{Sequence: seq}
	}
	if err != nil {
		return nil, err
	}
	for _, r := range out {
		o.log().Info("parked message replay", "consumer", r.Consumer, "sequence", r.StreamSequence, "parked_sequence", r.Sequence, "outcome", r.Outcome, "by", c.by())
	}
	return out, nil
}

// UnknownView: a rebuild named no view the engine has.
type UnknownView struct{ Name string }

func (e *UnknownView) Error() string {
	return fmt.Sprintf("no view %q (views: %s)", e.Name, strings.Join(views.Names(), ", "))
}

// AlreadyRebuilding: the view named is being rebuilt now.
type AlreadyRebuilding struct{ Name string }

func (e *AlreadyRebuilding) Error() string {
	return fmt.Sprintf("the %s view is already rebuilding", e.Name)
}

// Rebuild starts a rebuild of the named view from zero beside the live
// one, which keeps answering until the rebuilt one is swapped in; it
// returns when it started. Its progress and outcome are in ViewStatuses.
// The rebuild outlives the request that asked for it.
func (o Operations) Rebuild(ctx context.Context, c Caller, name string) (time.Time, error) {
	if !c.Operates() {
		return time.Time{}, c.forbidden("rebuild views", "")
	}
	if !views.Known(name) {
		return time.Time{}, &UnknownView{Name: name}
	}
	if o.Views == nil {
		return time.Time{}, ErrNoViews
	}
	for _, st := range o.Views.Statuses() {
		if st.Name == name && st.Rebuilding != nil {
			return time.Time{}, &AlreadyRebuilding{Name: name}
		}
	}
	started := time.Now().UTC()
	o.log().Info("view rebuild started", "view", name, "by", c.by())
	go func() {
		if err := o.Views.Rebuild(context.WithoutCancel(ctx), name, nil); err != nil {
			o.log().Error("view rebuild failed", "view", name, "err", err)
		}
	}()
	return started, nil
}

// Void records an operator's void of one message nobody can read
// (engine.Void): the way out of a referral that answers "corrupt" for a
// message that does not decode, or of views stopped before an event this
// build does not read (docs/runbook.md#message-nobody-can-read).
func (o Operations) Void(ctx context.Context, c Caller, req engine.VoidRequest, meta engine.Meta) (engine.VoidOutcome, error) {
	if !c.Operates() {
		return engine.VoidOutcome{}, c.forbidden("void messages", "")
	}
	if o.Engine == nil {
		return engine.VoidOutcome{}, errors.New("this node records no commands")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return engine.Void(ctx, o.Engine, req, meta)
}

// Verify walks the whole log's hash chain now and keeps the report as the
// last verification.
func (o Operations) Verify(ctx context.Context, c Caller) (audit.Report, error) {
	if !c.Verifies() {
		return audit.Report{}, c.forbidden("verify the log", "")
	}
	return o.verifier().run(ctx, o.Store, o.ChainKey)
}

// StartVerify starts a walk of the whole log in the background (a long log
// takes a while) and returns a channel closed when it ends; a walk already
// running is not started twice, and the channel is then nil.
func (o Operations) StartVerify(ctx context.Context, c Caller) (<-chan struct{}, error) {
	if !c.Verifies() {
		return nil, c.forbidden("verify the log", "")
	}
	return o.verifier().start(ctx, o.Store, o.ChainKey, o.log()), nil
}

// LastVerification is the state of the log's verification: running since
// when, the last finished report and when it was made, or why the last
// walk did not finish.
func (o Operations) LastVerification(c Caller) (Verification, error) {
	if !c.SeesVerification() {
		return Verification{}, c.forbidden("see the log's verification", "")
	}
	return o.verifier().last(), nil
}

func (o Operations) verifier() *Verifier {
	if o.Verifier != nil {
		return o.Verifier
	}
	return &Verifier{}
}

// by names the caller in an operator's log line.
func (c Caller) by() string {
	if c.On {
		return c.P.Name
	}
	return "anonymous"
}

func (o Operations) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

// Verification is what is known of the log's verification.
type Verification struct {
	// Running is when the walk under way started (nil: none).
	Running *time.Time
	// Report is the last finished walk's (nil: none since the node
	// started).
	Report *audit.Report
	// Failed says why the last walk did not finish ("" if it did).
	Failed string
}

// Verifier keeps the last verification of the log for a node, whichever
// face ran it. Its zero value is ready to use.
type Verifier struct {
	mu      sync.Mutex
	running *time.Time
	report  *audit.Report
	failed  string
}

func (v *Verifier) run(ctx context.Context, store *eventstore.Store, key []byte) (audit.Report, error) {
	rep, err := audit.Verify(ctx, store, key, nil)
	v.keep(rep, err)
	return rep, err
}

func (v *Verifier) keep(rep audit.Report, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.failed = "The last verification could not finish: the event store did not answer. Run it again."
		return
	}
	v.report, v.failed = &rep, ""
}

func (v *Verifier) start(ctx context.Context, store *eventstore.Store, key []byte, log *slog.Logger) <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.running != nil {
		return nil
	}
	start := time.Now()
	v.running = &start
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The walk outlives the request that started it, up to an hour.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Hour)
		defer cancel()
		rep, err := audit.Verify(ctx, store, key, nil)
		if err != nil {
			// Nobody waits for this walk's answer: the page says it did
			// not finish, and the log says why.
			log.Error("verification of the log did not finish", "err", err)
		}
		v.keep(rep, err)
		v.mu.Lock()
		v.running = nil
		v.mu.Unlock()
	}()
	return done
}

func (v *Verifier) last() Verification {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := Verification{Failed: v.failed}
	if v.running != nil {
		t := *v.running
		out.Running = &t
	}
	if v.report != nil {
		rep := *v.report
		out.Report = &rep
	}
	return out
}
