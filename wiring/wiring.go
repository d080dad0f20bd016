// Package wiring is the composition root: the one place that puts an
// ntsflow node together (the engine, the live views, the metrics, the
// sagas, the public publisher, the API and the console) the way `serve`
// runs it. Test rigs and the benchmarks build their nodes here too, so
// they run production's wiring (the referral decider that records the
// deadline in the receipt, the metrics hooks, the sagas fed by the views)
// and leave out only what they say they leave out.
//
//ntsflow:shell
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/api"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/console"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/publisher"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/views"
)

// Config is what a node is built from. Only Store is required; every other
// field's zero value is production's default (the shipped calendar,
// authorities and policies, time.Now, a discarding logger).
type Config struct {
	Store *eventstore.Store
	Log   *slog.Logger
	// ChainKey keys the events' HMAC chain and the console's and API's
	// tokens derived from it.
	ChainKey    []byte
	Calendar    *calendar.Calendar
	Authorities *refdata.Registry
	// The policies, as loaded by serve from its flags (nil: the shipped one).
	Deadline     *deadline.Policy
	Allocation   *allocation.Policy
	Safeguarding *safeguarding.Policy
	LeavingCare  *leavingcare.Policy
	Retention    *retention.Policy
	// Tokens turns authentication on for the API and sign-in for the
	// console.
	Tokens *auth.Tokens
	// Sessions keeps the console's sessions (nil: in memory).
	Sessions console.SessionStore
	// SessionIdle and SessionMaxAge bound the console's sessions (0: the
	// console's defaults).
	SessionIdle, SessionMaxAge time.Duration
	// Secure marks the console's cookie for TLS.
	Secure bool
	// Version is the build the metrics report.
	Version string
	// Now is the engine's clock; tests move it (nil: time.Now).
	Now func() time.Time

	// NoViews leaves the views out of the API and the console (they answer
	// that this instance serves none), for tests about commands alone. The
	// sagas still read them.
	NoViews bool
	// ReadPolicy says on which views a reader must give a reason (nil: the
	// default, app.DefaultReadPolicy).
	ReadPolicy *app.ReadPolicy
	// Referrals replaces production's referral decider. Leave it unset: it
	// exists for tests about referrals recorded before receipts carried
	// their deadline, and must say so where it is used.
	Referrals *aggregates.Decider[aggregates.Referral, aggregates.Command]
}

// Part is a long-running part of a node that Run can start.
type Part int

// The parts Run can start. Views come first: the deadline saga asks them
// who is due.
const (
	Views Part = iota
	DeadlineSaga
	AllocationSaga
	SafeguardingSaga
	LeavingCareSaga
	Publisher
	// ReadAudit writes the read audit's queue to its stream.
	ReadAudit
	// RetentionSaga disposes of children's records when their retention
	// ends (issue 24). Its daily sweep asks the records view who is due:
	// run it with Views.
	RetentionSaga
)

// All is every part serve runs; ViewsOnly what `serve --no-sagas` runs.
var (
	All       = []Part{Views, DeadlineSaga, AllocationSaga, SafeguardingSaga, LeavingCareSaga, Publisher, ReadAudit, RetentionSaga}
	ViewsOnly = []Part{Views, ReadAudit}
)

func (p Part) String() string {
	switch p {
	case Views:
		return "views"
	case DeadlineSaga:
		return "deadline saga"
	case AllocationSaga:
		return "allocation saga"
	case SafeguardingSaga:
		return "safeguarding saga"
	case LeavingCareSaga:
		return "leaving-care saga"
	case Publisher:
		return "publisher"
	case ReadAudit:
		return "read audit"
	case RetentionSaga:
		return "retention saga"
	}
	return fmt.Sprintf("part %d", int(p))
}

// Node is one ntsflow instance, put together. Its fields are the parts as
// built; a test may adjust a field (an API's MaxWait, a console's clock)
// before it calls Handler or Run.
type Node struct {
	Store   *eventstore.Store
	Engine  *engine.Engine
	Views   *views.Set
	Metrics *metrics.Metrics
	API     *api.Server
	Console *console.Server

	Deadline  *sagarun.Deadline
	Publisher *publisher.Publisher
	// Reads is the read audit the API and the console record reads in.
	Reads *app.ReadAudit

	// Policies in force, as the sagas, the API and the console use them.
	DeadlinePolicy     deadline.Policy
	AllocationPolicy   allocation.Policy
	SafeguardingPolicy safeguarding.Policy
	LeavingCarePolicy  leavingcare.Policy
	RetentionPolicy    retention.Policy

	runs map[Part]func(context.Context) error
	// joinReferralSagas, called when Run starts every saga that reads each
	// referral commit, gives them one consumer of those commits.
	joinReferralSagas func() *sagarun.Joined
}

// ErrNoStore is Build's answer to a Config without a store.
var ErrNoStore = errors.New("wiring: a node needs an event store (Config.Store)")

// Build puts a node together. It starts nothing: Run starts the views, the
// sagas and the publisher; Handler serves the API and the console.
func Build(cfg Config) (*Node, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cal := cfg.Calendar
	if cal == nil {
		cal = calendar.Default()
	}
	reg := cfg.Authorities
	if reg == nil {
		reg = refdata.Default()
	}
	n := &Node{Store: cfg.Store, DeadlinePolicy: deadline.DefaultPolicy(), AllocationPolicy: allocation.DefaultPolicy(),
		SafeguardingPolicy: safeguarding.DefaultPolicy(), LeavingCarePolicy: leavingcare.DefaultPolicy(), RetentionPolicy: retention.DefaultPolicy()}
	if cfg.Retention != nil {
		n.RetentionPolicy = *cfg.Retention
	}
	if cfg.Deadline != nil {
		n.DeadlinePolicy = *cfg.Deadline
	}
	if cfg.Allocation != nil {
		n.AllocationPolicy = *cfg.Allocation
	}
	if cfg.Safeguarding != nil {
		n.SafeguardingPolicy = *cfg.Safeguarding
	}
	if cfg.LeavingCare != nil {
		n.LeavingCarePolicy = *cfg.LeavingCare
	}
	store := cfg.Store
	if len(cfg.ChainKey) > 0 {
		// Personal fields are sealed from the first command on
		// (docs/design/privacy.md).
		kctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := store.OpenKeys(kctx, events.KeyStoreKey(cfg.ChainKey))
		cancel()
		if err != nil {
			return nil, err
		}
		// The views are about to read every sealed event: the keys in one
		// pass, not one request per child. Not fatal: a key not preloaded
		// is read when it is needed.
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		start := time.Now()
		if n, err := store.PreloadKeys(pctx); err != nil {
			log.Warn("children's keys not preloaded; each is read when first needed", "err", err)
		} else {
			log.Info("children's keys preloaded", "keys", n, "took", time.Since(start).Round(time.Millisecond))
		}
		cancel()
	}

	n.Views = views.NewSet(store, reg, cal, log.With("component", "views"))
	n.Views.MissingAlertAfter = time.Duration(n.SafeguardingPolicy.AlertMissingLongerThan)
	n.Views.RetentionPolicy = n.RetentionPolicy
	lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if last, err := store.LastSequence(lctx); err == nil {
		n.Views.CatchUpTo(last)
	} else {
		log.Warn("the log's last sequence could not be read: readiness will not wait for the views to catch up", "err", err)
	}
	cancel()
	n.Metrics = metrics.New(n.Views, store, reg, cal, cfg.Version)
	n.Views.OnSnapshotFailure(n.Metrics.OnSnapshotFailure)
	store.Consumers = eventstore.ConsumerPolicy{Log: log.With("component", "consumers"), OnFailure: n.Metrics.OnConsumerFailure}

	rule := deadline.Saga{Policy: n.DeadlinePolicy, Calendar: cal}
	n.Engine = &engine.Engine{Store: store, Log: log, ChainKey: cfg.ChainKey, Now: cfg.Now, OnAppend: n.Metrics.OnAppend, OnCommitted: n.Metrics.OnCommitted,
		Referrals: aggregates.ReferralsSettingDeadlines(rule.Rule())}
	if cfg.Referrals != nil {
		n.Engine.Referrals = *cfg.Referrals
	}
	if len(cfg.ChainKey) > 0 {
		n.Engine.Keys = store
		// A key destroyed anywhere: what the engine decrypted with it goes.
		store.OnKeyDestroyed(func(child string) {
			n.Engine.Forget(events.ReferralSubject(child), events.CareSubject(child))
		})
	}

	n.Reads = &app.ReadAudit{Log: store, Logger: log.With("component", "read-audit"), Policy: app.DefaultReadPolicy(), Now: cfg.Now}
	if cfg.ReadPolicy != nil {
		n.Reads.Policy = *cfg.ReadPolicy
	}
	n.Metrics.WatchReadAudit(n.Reads.Stats)

	var served *views.Set
	ready := store.Ping
	if !cfg.NoViews {
		served = n.Views
		ready = func(ctx context.Context) error {
			if err := store.Ping(ctx); err != nil {
				return err
			}
			return n.Views.Ready()
		}
	}
	// One last verification for the node, whichever face ran it.
	verifier := &app.Verifier{}
	n.API = &api.Server{Engine: n.Engine, EventStore: store, Log: log, Ready: ready, Calendar: cal, Authorities: reg, Views: served, Metrics: n.Metrics,
		ReadTokenSecret: cfg.ChainKey, AllocationPolicy: &n.AllocationPolicy, SafeguardingPolicy: &n.SafeguardingPolicy, Tokens: cfg.Tokens, Verifier: verifier, Reads: n.Reads}
	n.Console = &console.Server{Engine: n.Engine, EventStore: store, Views: served, Authorities: reg, Calendar: cal, Tokens: cfg.Tokens, Log: log.With("component", "console"),
		Secure: cfg.Secure, Key: cfg.ChainKey, AllocationPolicy: &n.AllocationPolicy, Metrics: n.Metrics, Sessions: cfg.Sessions,
		SessionIdle: cfg.SessionIdle, SessionMaxAge: cfg.SessionMaxAge, SafeguardingPolicy: &n.SafeguardingPolicy, Ready: ready, Verifier: verifier, Reads: n.Reads}

	n.Deadline = &sagarun.Deadline{Saga: rule, Engine: n.Engine, Store: store, Log: log.With("component", "deadline-saga"),
		OnFired: n.Metrics.OnFired, OnRecorded: n.Metrics.OnRecorded, Due: n.Views.DueDeadlines, Upcoming: n.Views.UpcomingDeadlines}
	n.Publisher = &publisher.Publisher{Engine: n.Engine, Store: store, Registry: reg, Log: log.With("component", "publisher"), OnPublished: n.Metrics.OnPublished}
	deps := func(component string, onRecorded func(eventType, label string)) sagarun.Deps {
		return sagarun.Deps{Engine: n.Engine, Store: store, Log: log.With("component", component), OnRecorded: onRecorded}
	}
	alloc := sagarun.New(allocation.New(n.AllocationPolicy, cal), deps("allocation-saga", n.Metrics.OnAllocationRecorded))
	safe := sagarun.New(safeguarding.New(n.SafeguardingPolicy), deps("safeguarding-saga", nil))
	leaving := sagarun.New(leavingcare.New(n.LeavingCarePolicy), deps("leaving-care-saga", nil))
	retainDeps := deps("retention-saga", nil)
	retainDeps.Effects = map[string]func(context.Context, string) error{
		retention.EffectDestroyKey: func(ctx context.Context, id string) error {
			at := time.Now()
			if cfg.Now != nil {
				at = cfg.Now()
			}
			return store.DestroyKey(ctx, id, at)
		},
	}
	// The sweep asks the records view who is due: run with the Views part.
	retainDeps.Due = views.RecordsDue(n.Views.Records, n.RetentionPolicy)
	retain := sagarun.New(retention.New(n.RetentionPolicy), retainDeps)
	n.joinReferralSagas = func() *sagarun.Joined {
		n.Deadline.EventsElsewhere = true
		alloc.Elsewhere = []string{sagarun.AllocationEventsConsumer}
		leaving.Elsewhere = []string{sagarun.LeavingCareReferralConsumer}
		return &sagarun.Joined{Consumer: sagarun.ReferralSagasConsumer, Subject: events.ReferralSubject("*"), Store: store,
			Log: log.With("component", "referral-sagas"),
			Handlers: []sagarun.Handler{
				{Saga: "deadline saga", Handle: n.Deadline.HandleCommit},
				{Saga: "allocation saga", Handle: mustTrigger(alloc.Trigger(sagarun.AllocationEventsConsumer))},
				{Saga: "leaving-care saga", Handle: mustTrigger(leaving.Trigger(sagarun.LeavingCareReferralConsumer))}},
			From: []string{sagarun.DeadlineEventsConsumer, sagarun.AllocationEventsConsumer, sagarun.LeavingCareReferralConsumer}}
	}
	n.runs = map[Part]func(context.Context) error{
		Views:            func(ctx context.Context) error { n.Views.Run(ctx); return nil },
		DeadlineSaga:     n.Deadline.Run,
		AllocationSaga:   alloc.Run,
		SafeguardingSaga: safe.Run,
		LeavingCareSaga:  leaving.Run,
		Publisher:        n.Publisher.Run,
		ReadAudit:        n.Reads.Run,
		RetentionSaga:    retain.Run,
	}
	return n, nil
}

// mustTrigger is a saga's trigger handler, which a saga renamed out from
// under the wiring would leave nil: a mistake in this file, said at once.
func mustTrigger(h func(context.Context, eventstore.Stored) error) func(context.Context, eventstore.Stored) error {
	if h == nil {
		panic("wiring: a joined saga has no trigger of that consumer's name")
	}
	return h
}

// Handler serves the console at / and /console/ and the API beside it, as
// serve mounts them.
func (n *Node) Handler() http.Handler { return n.Console.Mount(n.API.Handler()) }

// Run runs the parts named (each at most once) until ctx ends, and returns
// once every one has stopped.
//
// The sagas that react to every referral commit (deadline, allocation and
// leaving care), when all are started, share one durable consumer of those
// commits (sagarun.Joined), taken over from the three they ran apart
// before; started alone, each has its own.
func (n *Node) Run(ctx context.Context, parts ...Part) {
	var wg sync.WaitGroup
	if slices.Contains(parts, DeadlineSaga) && slices.Contains(parts, AllocationSaga) && slices.Contains(parts, LeavingCareSaga) {
		j := n.joinReferralSagas()
		wg.Add(1)
		go func() { defer wg.Done(); j.Run(ctx) }()
	}
	started := map[Part]bool{}
	for _, p := range parts {
		run, ok := n.runs[p]
		if !ok {
			panic(fmt.Sprintf("wiring: no such part of a node: %v", p))
		}
		if started[p] {
			continue
		}
		started[p] = true
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	wg.Wait()
}
