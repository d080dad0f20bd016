// Package metrics is what operators see in Prometheus and Grafana: counters
// and histograms the engine feeds as things happen, and gauges read from
// the views and the store at scrape time. Names follow Prometheus
// conventions (prefix ntsflow_, _total counters, base units); labels are
// bounded (authority, region, deadline state, view, kind, command) and
// carry no personal data.
//
//ntsflow:shell
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/publisher"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagarun"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/views"
)

// Metrics holds the engine's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	appends         prometheus.Counter
	appendConflicts prometheus.Counter
	appendErrors    prometheus.Counter
	commandDuration *prometheus.HistogramVec
	recorded        map[string]*prometheus.CounterVec // by event type
	responseTime    *prometheus.HistogramVec
	daysToPlacement *prometheus.HistogramVec
	fireLag         *prometheus.HistogramVec
	consumerFails   *prometheus.CounterVec
	snapshotFails   *prometheus.CounterVec
	earlyMissing    *prometheus.CounterVec
	authRefused     *prometheus.CounterVec

	views    *views.Set
	store    *eventstore.Store
	registry *refdata.Registry
	cal      *calendar.Calendar
	now      func() time.Time

	mu            sync.Mutex
	lastPublished time.Time
	// pubSeq is the last commit the publisher here has handled; pubKnown
	// says it has said so since it started.
	pubSeq   uint64
	pubKnown bool
}

// New registers the engine's metrics. views and store may be nil (no view
// or store gauges then).
func New(set *views.Set, store *eventstore.Store, reg *refdata.Registry, cal *calendar.Calendar, version string) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), views: set, store: store, registry: reg, cal: cal, now: time.Now}
	f := func(c prometheus.Collector) { m.Registry.MustRegister(c) }
	m.appends = prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_appends_total", Help: "Commits appended to the event log."})
	m.appendConflicts = prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_append_conflicts_total", Help: "Appends refused because another writer changed the aggregate first (the command is decided again)."})
	m.appendErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "ntsflow_append_errors_total", Help: "Appends the store could not take (unavailable, full)."})
	m.commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ntsflow_command_duration_seconds", Help: "HTTP command latency, by command and outcome (ok, refused, error).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"command", "outcome"})
	m.recorded = map[string]*prometheus.CounterVec{
		events.TypeDeadlineWarning:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_deadline_warnings_total", Help: "Deadline warnings recorded by this instance's saga, by region."}, []string{"region"}),
		events.TypeDeadlineBreached:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_deadline_breaches_total", Help: "Deadline breaches recorded by this instance's saga, by region."}, []string{"region"}),
		events.TypeDeadlineEscalated:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_deadline_escalations_total", Help: "Breaches escalated up the ladder by this instance's saga, by region."}, []string{"region"}),
		events.TypeAllocationReminded:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_allocation_reminders_total", Help: "Allocated authorities' contacts reminded half way to their response deadline, by this instance's saga, by region."}, []string{"region"}),
		events.TypeAllocationEscalated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_allocation_escalations_total", Help: "Allocations not answered in time and escalated to the partnership's lead, by this instance's saga, by region."}, []string{"region"}),
	}
	m.responseTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ntsflow_allocation_response_seconds", Help: "Time from allocation to the authority's answer (acceptance or exception), for answers recorded by this instance, by region.",
		Buckets: []float64{600, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 48 * 3600, 72 * 3600, 7 * 24 * 3600}}, []string{"region"})
	m.daysToPlacement = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ntsflow_placement_workdays", Help: "Working days from receipt to placement, for placements recorded by this instance, by region. (A working day is not a fixed number of seconds, so this is not in base units.)",
		Buckets: []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30}}, []string{"region"})
	m.fireLag = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ntsflow_saga_timer_fire_lag_seconds", Help: "Time from a deadline timer's due instant to its handling.",
		Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 300}}, []string{"kind"})
	m.consumerFails = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_consumer_failures_total", Help: "Saga and publisher handler failures on this instance, by consumer and what followed (retry, parked)."}, []string{"consumer", "outcome"})
	m.snapshotFails = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_view_snapshot_failures_total", Help: "View snapshots this instance failed to save, by view."}, []string{"view"})
	f(m.consumerFails)
	f(m.snapshotFails)
	for name := range Consumers {
		for _, o := range []string{eventstore.OutcomeRetry, eventstore.OutcomeParked} {
			m.consumerFails.WithLabelValues(name, o)
		}
	}
	for _, v := range views.Names() {
		m.snapshotFails.WithLabelValues(v)
	}
	m.earlyMissing = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ntsflow_missing_early_total", Help: "Children reported missing within the safeguarding policy's days of their placement (the early-missing risk of re-trafficking), recorded by this instance, by region."}, []string{"region"})
	f(m.earlyMissing)
	f(m.appends)
	f(m.appendConflicts)
	f(m.appendErrors)
	f(m.commandDuration)
	for _, c := range m.recorded {
		f(c)
	}
	f(m.daysToPlacement)
	f(m.responseTime)
	f(m.fireLag)
	// Every series exists from the start (at zero), so alerts and panels
	// see a value rather than nothing.
	for _, region := range refdata.Regions {
		for _, c := range m.recorded {
			c.WithLabelValues(region)
		}
		m.daysToPlacement.WithLabelValues(region)
		m.responseTime.WithLabelValues(region)
		m.earlyMissing.WithLabelValues(region)
	}
	for _, k := range []string{deadline.KindWarning, deadline.KindBreach, deadline.KindEscalation} {
		m.fireLag.WithLabelValues(k)
	}
	m.authRefused = newAuthRefused()
	f(m.authRefused)
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ntsflow_build_info", Help: "The running build.", ConstLabels: prometheus.Labels{"version": version}}, func() float64 { return 1 }))
	f(&scrape{m})
	return m
}

// WatchReadAudit exports what the read audit did (stats: its Stats), read
// at scrape time: the reads recorded, those refused because their record
// could not be written (read_not_recorded), those written on the reader's
// time because the queue was full, and the queue's depth.
func (m *Metrics) WatchReadAudit(stats func() app.ReadStats) {
	counter := func(name, help string, v func(app.ReadStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	m.Registry.MustRegister(
		counter("ntsflow_read_audit_recorded_total", "Reads of a child's record this instance recorded in the read audit (by its writer, or on the reader's time when the queue was full).",
			func(s app.ReadStats) uint64 { return s.Recorded }),
		counter("ntsflow_read_audit_refused_total", "Reads this instance refused because their record could not be written to the read audit (answered 503 read_not_recorded).",
			func(s app.ReadStats) uint64 { return s.Refused }),
		counter("ntsflow_read_audit_direct_total", "Reads whose record this instance wrote on the reader's time because the read audit's queue was full (its writer behind or not running).",
			func(s app.ReadStats) uint64 { return s.Direct }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ntsflow_read_audit_queue_depth", Help: "Read records waiting in this instance's queue to be written to the read audit."},
			func() float64 { return float64(stats().Waiting) }),
	)
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// OnAppend counts an append attempt's result (engine.Engine.OnAppend).
func (m *Metrics) OnAppend(err error) {
	switch {
	case err == nil:
		m.appends.Inc()
	case isConflict(err):
		m.appendConflicts.Inc()
	default:
		m.appendErrors.Inc()
	}
}

// OnCommitted observes working days to placement and allocation response
// times, and counts early missing episodes (engine.Engine.OnCommitted).
func (m *Metrics) OnCommitted(state any, recorded []events.Event) {
	if _, ok := state.(aggregates.Care); ok {
		for _, e := range recorded {
			if d, ok := e.Data.(events.MissingReported); ok && d.Early {
				m.earlyMissing.WithLabelValues(m.regionOf(d.Authority)).Inc()
			}
		}
		return
	}
	after, ok := state.(aggregates.Referral)
	if !ok {
		return
	}
	for _, e := range recorded {
		switch e.Type {
		case events.TypeAllocationAccepted, events.TypeAllocationException:
			if !after.AllocatedAt.IsZero() {
				region, _ := refdata.RegionByName(after.Region)
				m.responseTime.WithLabelValues(region).Observe(e.RecordedAt.Sub(after.AllocatedAt).Seconds())
			}
		}
		if e.Type == events.TypeReferralPlaced {
			days := m.cal.WorkingDaysBetween(calendar.DateOf(after.ReceivedAt), calendar.DateOf(after.PlacedAt))
			m.daysToPlacement.WithLabelValues(m.regionOf(after.ReceivingAuthority)).Observe(float64(days))
		}
	}
}

// OnRecorded counts the saga's warnings, breaches and escalations
// (sagarun.Deadline.OnRecorded), by the region of the referral's receiving
// authority or, while it awaits allocation, the region it was referred to.
func (m *Metrics) OnRecorded(eventType string, ref aggregates.Referral) {
	c, ok := m.recorded[eventType]
	if !ok {
		return
	}
	region := m.regionOf(ref.ReceivingAuthority)
	if ref.ReceivingAuthority == "" {
		if r, found := refdata.RegionByName(ref.Region); found {
			region = r
		}
	}
	c.WithLabelValues(region).Inc()
}

// OnAllocationRecorded counts the allocation saga's reminders and
// escalations (sagarun.Deps.OnRecorded), by the region's slug.
func (m *Metrics) OnAllocationRecorded(eventType, regionSlug string) {
	if c, ok := m.recorded[eventType]; ok {
		region, _ := refdata.RegionByName(regionSlug)
		c.WithLabelValues(region).Inc()
	}
}

// OnFired observes a timer's fire lag, from due to handled
// (sagarun.Deadline.OnFired).
func (m *Metrics) OnFired(kind string, due, _, handled time.Time) {
	m.fireLag.WithLabelValues(kind).Observe(max(0, handled.Sub(due).Seconds()))
}

// OnPublished notes the publisher's progress (publisher.Publisher.OnPublished).
func (m *Metrics) OnPublished(seq uint64, stored time.Time) {
	m.mu.Lock()
	m.pubSeq, m.pubKnown, m.lastPublished = seq, true, stored
	m.mu.Unlock()
}

// Consumers are the engine's consumers, by name, with the stream their
// durable consumer reads: their failures and parked messages are exported,
// and the backlog of those with a durable consumer. The publisher keeps none
// (its backlog is ntsflow_publisher_pending_events); what it parked is
// under its name. The deadline,
// allocation and leaving-care sagas' consumers of referral events are
// there while those sagas run apart, and what they parked before
// referral-sagas took over from them stays to be seen.
var Consumers = map[string]string{
	publisher.Durable:                   "",
	sagarun.ReferralSagasConsumer:       eventstore.EventsStream,
	sagarun.DeadlineEventsConsumer:      eventstore.EventsStream,
	sagarun.DeadlineTimersConsumer:      eventstore.TimersStream,
	sagarun.AllocationEventsConsumer:    eventstore.EventsStream,
	sagarun.AllocationTimersConsumer:    eventstore.TimersStream,
	sagarun.SafeguardingEventsConsumer:  eventstore.EventsStream,
	sagarun.SafeguardingTimersConsumer:  eventstore.TimersStream,
	sagarun.LeavingCareReferralConsumer: eventstore.EventsStream,
	sagarun.LeavingCareCareConsumer:     eventstore.EventsStream,
	sagarun.LeavingCareTimersConsumer:   eventstore.TimersStream,
}

// OnConsumerFailure counts a handler failure
// (eventstore.ConsumerPolicy.OnFailure).
func (m *Metrics) OnConsumerFailure(f eventstore.ConsumerFailure) {
	m.consumerFails.WithLabelValues(f.Consumer, f.Outcome).Inc()
}

// OnSnapshotFailure counts a view snapshot that could not be saved
// (views.Set.OnSnapshotFailure).
func (m *Metrics) OnSnapshotFailure(view string, _ error) {
	m.snapshotFails.WithLabelValues(view).Inc()
}

// ObserveCommand records an HTTP command's latency.
func (m *Metrics) ObserveCommand(command string, status int, took time.Duration) {
	outcome := "ok"
	switch {
	case status >= 500:
		outcome = "error"
	case status >= 400:
		outcome = "refused"
	}
	m.commandDuration.WithLabelValues(command, outcome).Observe(took.Seconds())
}

func (m *Metrics) regionOf(authority string) string {
	if r := m.registry.RegionOf(authority); r != "" {
		return r
	}
	return "unknown"
}

func isConflict(err error) bool {
	_, ok := err.(*eventstore.ConflictError)
	return ok
}

// scrape reads the views and the store when Prometheus scrapes.
type scrape struct{ m *Metrics }

var (
	descAwaiting      = prometheus.NewDesc("ntsflow_referrals_awaiting", "Referrals into the scheme awaiting allocation by the partnership or an authority's acceptance, by region and stage.", []string{"region", "stage"}, nil)
	descOpen          = prometheus.NewDesc("ntsflow_referrals_open", "Open referrals (received, not placed or withdrawn), by authority, region and deadline state.", []string{"authority", "region", "deadline_state"}, nil)
	descPlaced        = prometheus.NewDesc("ntsflow_referrals_placed", "Referrals placed, by region (all time).", []string{"region"}, nil)
	descPlacedWithin  = prometheus.NewDesc("ntsflow_referrals_placed_within_deadline", "Referrals placed by their deadline, by region (all time).", []string{"region"}, nil)
	descLookedAfter   = prometheus.NewDesc("ntsflow_capacity_looked_after", "UASC looked after now (placed, not left care), by region.", []string{"region"}, nil)
	descHeadroom      = prometheus.NewDesc("ntsflow_capacity_headroom_children", "Children the region's authorities can still take before their thresholds (needs the population file).", []string{"region"}, nil)
	descLagEvents     = prometheus.NewDesc("ntsflow_projection_lag_events", "Commits in the log a view has not applied yet.", []string{"view"}, nil)
	descLagSeconds    = prometheus.NewDesc("ntsflow_projection_lag_seconds", "How stale a view is: 0 when caught up, else the time since it last applied a commit.", []string{"view"}, nil)
	descUnknown       = prometheus.NewDesc("ntsflow_projection_skipped_events", "Events a view skipped, by reason (unknown type, corrupt commit, voided by an operator).", []string{"view", "reason"}, nil)
	descStalled       = prometheus.NewDesc("ntsflow_projection_stalled", "1 when a view has stopped at an event this build cannot read (it does not pass it; GET /v1/views says which), else 0.", []string{"view"}, nil)
	descLastSeq       = prometheus.NewDesc("ntsflow_stream_last_sequence", "The events stream's last sequence.", nil, nil)
	descTimers        = prometheus.NewDesc("ntsflow_saga_timers_pending", "Deadline timers scheduled on the server and not yet fired.", nil, nil)
	descPubPending    = prometheus.NewDesc("ntsflow_publisher_pending_events", "Commits the public publisher on this instance has not yet handled (it keeps no consumer on the server: each instance runs one).", nil, nil)
	descPubLagSeconds = prometheus.NewDesc("ntsflow_publisher_lag_seconds", "How far behind the public publisher is: 0 when caught up, else the age of the last commit it published.", nil, nil)
	descParked        = prometheus.NewDesc("ntsflow_parked_messages", "Messages a saga or the publisher could not handle, parked on NTS_PARKED for an operator to replay (GET /v1/parked), by consumer.", []string{"consumer"}, nil)
	descConsPending   = prometheus.NewDesc("ntsflow_consumer_pending_messages", "Messages a saga's durable consumer has yet to handle (its backlog), by consumer.", []string{"consumer"}, nil)
	descMissing       = prometheus.NewDesc("ntsflow_children_missing", "Children missing now (an open missing episode), by region.", []string{"region"}, nil)
	descMissingLong   = prometheus.NewDesc("ntsflow_children_missing_over_alert", "Children missing now for longer than the safeguarding policy's alert time (alertMissingLongerThan), by region.", []string{"region"}, nil)
	descStoreUp       = prometheus.NewDesc("ntsflow_store_up", "1 when the event store answered this scrape and can take writes; 0 when it cannot be reached or cannot write (a full disk, its storage limit).", nil, nil)
)

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAwaiting, descOpen, descPlaced, descPlacedWithin, descLookedAfter, descHeadroom, descLagEvents, descLagSeconds, descUnknown, descStalled, descLastSeq, descTimers, descPubPending, descPubLagSeconds, descParked, descConsPending, descMissing, descMissingLong, descStoreUp} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	m := s.m
	now := m.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var last uint64
	if m.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		last, err = m.store.LastSequence(ctx)
		up := 1.0
		// A full disk still answers reads: only readiness's view of writes
		// tells it, and an operator must be called to free the space.
		if err != nil || m.store.Ping(ctx) != nil {
			up = 0
		}
		gauge(descStoreUp, up)
		gauge(descLastSeq, float64(last))
		if n, err := m.store.PendingTimers(ctx); err == nil {
			gauge(descTimers, float64(n))
		}
		// The publisher keeps no consumer on the server: where it stands
		// is what it said last (an instance not running one says nothing).
		m.mu.Lock()
		pubSeq, pubKnown, published := m.pubSeq, m.pubKnown, m.lastPublished
		m.mu.Unlock()
		if pubKnown && err == nil {
			n := uint64(0)
			if last > pubSeq {
				n = last - pubSeq
			}
			gauge(descPubPending, float64(n))
			lag := 0.0
			if n > 0 && !published.IsZero() {
				lag = now.Sub(published).Seconds()
			}
			gauge(descPubLagSeconds, lag)
		}
		if counts, err := m.store.ParkedCounts(ctx); err == nil {
			for name := range Consumers {
				gauge(descParked, float64(counts[name]), name)
			}
		}
		for name, stream := range Consumers {
			if stream == "" {
				continue // no durable consumer
			}
			if n, err := m.store.ConsumerPending(ctx, stream, name); err == nil {
				gauge(descConsPending, float64(n), name)
			}
		}
	}
	if m.views == nil {
		return
	}
	for _, st := range m.views.Statuses() {
		behind := float64(0)
		if last > st.Sequence {
			behind = float64(last - st.Sequence)
		}
		gauge(descLagEvents, behind, st.Name)
		lag := 0.0
		if behind > 0 && !st.LastApplied.IsZero() {
			lag = now.Sub(st.LastApplied).Seconds()
		}
		gauge(descLagSeconds, lag, st.Name)
		gauge(descUnknown, float64(st.Stats.Unknown), st.Name, "unknown-type")
		gauge(descUnknown, float64(st.Stats.Corrupt), st.Name, "corrupt")
		gauge(descUnknown, float64(st.Stats.Voided), st.Name, "voided")
		stalled := 0.0
		if st.Stalled != nil {
			stalled = 1
		}
		gauge(descStalled, stalled, st.Name)
	}

	type key struct{ authority, state string }
	open := map[key]int{}
	awaiting := map[key]int{} // region slug, stage
	m.views.Referrals.Read(func(v *projections.ReferralList, _ uint64) {
		v.Each(func(r projections.ReferralRow) {
			if r.Status == string(aggregates.StatusAwaitingAllocation) || r.Status == string(aggregates.StatusAwaitingAcceptance) {
				awaiting[key{r.RegionSlug, r.Status}]++
				return
			}
			if r.Status != string(aggregates.StatusOpen) {
				return
			}
			st := aggregates.Referral{Status: aggregates.StatusOpen, DueAt: r.DueAt, WarningAt: r.WarningAt, Breached: r.Breached}.DeadlineState(now)
			open[key{r.Authority, st}]++
		})
	})
	for _, a := range m.registry.Authorities() {
		for _, st := range []string{aggregates.StatePending, aggregates.StateOnTrack, aggregates.StateAtRisk, aggregates.StateBreached} {
			gauge(descOpen, float64(open[key{a.Code, st}]), a.Code, a.Region, st)
		}
	}
	for _, region := range refdata.Regions {
		for _, stage := range []aggregates.Status{aggregates.StatusAwaitingAllocation, aggregates.StatusAwaitingAcceptance} {
			gauge(descAwaiting, float64(awaiting[key{refdata.Slug(region), string(stage)}]), region, string(stage))
		}
	}
	var rep projections.TimelinessReport
	m.views.Timeliness.Read(func(v *projections.Timeliness, _ uint64) {
		rep = projections.ReportTimeliness(v, m.registry, projections.TimelinessFilter{}, now)
	})
	placed, within := map[string]int{}, map[string]int{}
	for _, r := range rep.ByRegionMonth {
		placed[r.Region] += r.Placed
		within[r.Region] += r.PlacedWithin
	}
	var capRep projections.CapacityReport
	m.views.Capacity.Read(func(v *projections.Capacity, _ uint64) { capRep = projections.ReportCapacity(v, m.registry) })
	var missing, over map[string]int
	m.views.Safeguarding.Read(func(v *projections.Safeguarding, _ uint64) {
		missing, over = projections.MissingOverAlert(v, m.registry, now, m.views.MissingAlertAfter)
	})
	for _, region := range refdata.Regions {
		gauge(descMissing, float64(missing[region]), region)
		gauge(descMissingLong, float64(over[region]), region)
		delete(missing, region)
	}
	for region, n := range missing { // an authority no longer in the registry: still counted
		gauge(descMissing, float64(n), region)
		gauge(descMissingLong, float64(over[region]), region)
	}
	for _, r := range capRep.Regions {
		gauge(descPlaced, float64(placed[r.Name]), r.Name)
		gauge(descPlacedWithin, float64(within[r.Name]), r.Name)
		gauge(descLookedAfter, float64(r.LookedAfter), r.Name)
		if r.Headroom != nil {
			gauge(descHeadroom, float64(*r.Headroom), r.Name)
		}
	}
}
