package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/wiring"
)

// scrapeAfterARun drives a referral to a breach and a placement, with
// personal data in, and returns the /metrics text.
func scrapeAfterARun(t *testing.T) string {
	n := storetest.Start(t, storetest.Options{})
	quiet := slog.New(slog.DiscardHandler)
	reg, cal := refdata.Default(), calendar.Default()
	var pop strings.Builder
	pop.WriteString("ons_code,population_0_17,year,source\n")
	for _, a := range reg.Authorities() {
		fmt.Fprintf(&pop, "%s,50000,test,test figures\n", a.Code)
	}
	popFile := filepath.Join(t.TempDir(), "pop.csv")
	os.WriteFile(popFile, []byte(pop.String()), 0o600)
	if err := reg.LoadPopulation(popFile); err != nil {
		t.Fatal(err)
	}
	// Receipts record a deadline a week on, warned a day before.
	policy, err := deadline.ParsePolicy([]byte(`{"version":"p","routes":{"hotel":{"duration":"168h"},"entry-authority":{"duration":"168h"}},"warnBefore":{"duration":"24h"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	node, err := wiring.Build(wiring.Config{Store: n.Store, Log: quiet, Authorities: reg, Calendar: cal, Deadline: &policy, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m, eng := node.Metrics, node.Engine
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// The allocation saga does nothing in this run (no referral is
	// allocated); it runs for its durable consumers' metrics.
	go func() { node.Run(ctx, wiring.Views, wiring.Publisher, wiring.AllocationSaga); close(done) }()
	defer func() { cancel(); <-done }()

	received := time.Now().Add(-20 * 24 * time.Hour).UTC()
	due := received.Add(7 * 24 * time.Hour)
	for _, step := range []struct {
		id string
		c  aggregates.Command
	}{
		{"r1", aggregates.ReceiveReferral{ReferralID: "r1", ReceivingAuthority: "E08000007", Route: "hotel", Hotel: "Secret Hotel", ChildReference: "HO-SECRET", Nationality: "Eritrean", Languages: []string{"Tigrinya"}, Needs: []string{"asthma"}, DateOfBirth: "2010-02-03", ReceivedAt: received}},
		{"r1", aggregates.RecordDeadlineBreach{Deadline: due, WorkingDaysElapsed: 6, EscalatedTo: "team-leader"}},
		{"r1", aggregates.Place{PlacementType: "U1", Provider: "p", PlacedAt: received.Add(9 * 24 * time.Hour)}},
		{"r2", aggregates.ReceiveReferral{ReferralID: "r2", ReceivingAuthority: "E09000001", Route: "hotel", Hotel: "H", ChildReference: "HO-2", ReceivedAt: received}},
	} {
		if _, err := eng.Handle(ctx, step.id, step.c, engine.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	// r1 goes missing two days after its placement (early), nine days ago:
	// missing longer than the policy's alert time.
	placedAt := received.Add(9 * 24 * time.Hour)
	if _, err := engine.Handle(ctx, eng, aggregates.Cares, "r1", aggregates.CareCommand(aggregates.ReportMissing{MissingAt: placedAt.Add(48 * time.Hour), LastSeen: "Piccadilly Gardens at dusk", PoliceReference: "GMP-SECRET-77",
		Child: aggregates.ChildInCare{Status: aggregates.StatusPlaced, Authority: "E08000007", Region: "North West", PlacedAt: placedAt}, Rules: safeguarding.DefaultPolicy().Rules()}), engine.Meta{}); err != nil {
		t.Fatal(err)
	}
	m.OnRecorded(events.TypeDeadlineBreached, aggregates.Referral{ReceivingAuthority: "E08000007"})
	m.OnFired("breach", time.Now().Add(-800*time.Millisecond), time.Now().Add(-700*time.Millisecond), time.Now())
	m.ObserveCommand("placement", 200, 3*time.Millisecond)
	last, _ := n.Store.LastSequence(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for _, w := range []func(context.Context, uint64) error{node.Views.Capacity.WaitFor, node.Views.Timeliness.WaitFor, node.Views.Referrals.WaitFor, node.Views.Safeguarding.WaitFor} {
		if err := w(wctx, last); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	scrape := func() string {
		res, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	// The publisher has caught up when its own metric says so.
	var out string
	if !storetest.WaitFor(10*time.Second, func() bool {
		out = scrape()
		return strings.Contains(out, "\nntsflow_publisher_pending_events 0\n")
	}) {
		t.Fatal("the publisher did not catch up")
	}
	return out
}

func TestMetricsAfterAScriptedRun(t *testing.T) {
	out := scrapeAfterARun(t)
	for _, want := range []string{
		`ntsflow_deadline_breaches_total{region="North West"} 1`,
		`ntsflow_referrals_open{authority="E09000001",deadline_state="breached",region="London"} 1`,
		`ntsflow_referrals_placed{region="North West"} 1`,
		`ntsflow_referrals_placed_within_deadline{region="North West"} 0`,
		`ntsflow_placement_workdays_count{region="North West"} 1`,
		`ntsflow_capacity_headroom_children{region="North West"}`,
		`ntsflow_publisher_pending_events`,
		`ntsflow_appends_total 5`,
		`ntsflow_missing_early_total{region="North West"} 1`,
		`ntsflow_missing_early_total{region="London"} 0`,
		`ntsflow_children_missing{region="North West"} 1`,
		`ntsflow_children_missing_over_alert{region="North West"} 1`,
		`ntsflow_children_missing_over_alert{region="London"} 0`,
		`ntsflow_view_snapshot_failures_total{view="safeguarding"} 0`,
		`ntsflow_projection_lag_events{view="capacity"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Personal data stays in: no value about a child appears in any label.
	for _, bad := range []string{"SECRET", "Eritrean", "Tigrinya", "asthma", "2010-02-03", "HO-", "r1", "r2"} {
		if strings.Contains(out, `"`+bad) || strings.Contains(out, bad+`"`) {
			t.Errorf("/metrics carries %q", bad)
		}
	}
	// Nor anything of a missing episode, anywhere.
	for _, bad := range []string{"Piccadilly", "GMP-SECRET"} {
		if strings.Contains(out, bad) {
			t.Errorf("/metrics carries %q", bad)
		}
	}
	if promtool(t) != "" {
		cmd := exec.Command(promtool(t), "check", "metrics")
		cmd.Stdin = strings.NewReader(out)
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, o)
		}
	}
}

// promtool finds promtool; CI (NTSFLOW_REQUIRE_PROMTOOL=1) insists on it.
func promtool(t *testing.T) string {
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("NTSFLOW_REQUIRE_PROMTOOL") != "" {
			t.Fatal("promtool is required (NTSFLOW_REQUIRE_PROMTOOL) and not on PATH")
		}
		return ""
	}
	return p
}

var metricName = regexp.MustCompile(`\b(ntsflow_[a-z_]+|up)\b`)

// Every metric named by the dashboard and the alert rules is one the
// binary exports, and every dashboard expression parses.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	out := scrapeAfterARun(t)
	exported := map[string]bool{"up": true} // up is Prometheus's own, per scrape target
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			exported[f[2]] = true
			if f[3] == "histogram" {
				for _, s := range []string{"_bucket", "_count", "_sum"} {
					exported[f[2]+s] = true
				}
			}
		}
	}
	dash, err := os.ReadFile("../deploy/grafana/dashboards/ntsflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	alerts, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(alerts), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "expr:") {
			exprs = append(exprs, strings.TrimSpace(strings.TrimPrefix(l, "expr:")))
		}
	}
	if len(exprs) < 15 {
		t.Fatalf("only %d expressions found", len(exprs))
	}
	var missing []string
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			if !exported[name] {
				missing = append(missing, name+" (in "+e+")")
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("named but not exported:\n%s", strings.Join(missing, "\n"))
	}
	pt := promtool(t)
	if pt == "" {
		t.Log("promtool not installed: expressions not parsed")
		return
	}
	// The dashboard's expressions, as recording rules, through promtool.
	var rules bytes.Buffer
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		fmt.Fprintf(&rules, "      - record: dashboard:expr_%d\n        expr: %q\n", i, e)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	os.WriteFile(path, rules.Bytes(), 0o600)
	if o, err := exec.Command(pt, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules (dashboard expressions): %v\n%s", err, o)
	}
	if o, err := exec.Command(pt, "test", "rules", "../deploy/prometheus/alerts_test.yml").CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, o)
	}
}

// viewGauges are read from a view by every instance: summing them across
// instances counts each referral once per engine.
var viewGauges = []string{"ntsflow_referrals_open", "ntsflow_referrals_awaiting", "ntsflow_referrals_placed", "ntsflow_referrals_placed_within_deadline", "ntsflow_capacity_looked_after", "ntsflow_capacity_headroom_children", "ntsflow_children_missing", "ntsflow_children_missing_over_alert"}

// Every dashboard and alert expression reads a view gauge through
// max by (...) over labels that leave out the instance, so the figures are
// right with any number of engines.
func TestViewGaugesAreNotSummedAcrossInstances(t *testing.T) {
	dash, err := os.ReadFile("../deploy/grafana/dashboards/ntsflow.json")
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(dash), `\"`, `"`) + "\n" + string(alerts)
	for _, g := range viewGauges {
		uses := regexp.MustCompile(`(?:(max|sum|min|avg) by \(([^)]*)\) \()?\b`+g+`\b[^_]`).FindAllStringSubmatch(text, -1)
		for _, u := range uses {
			if u[1] != "max" || strings.Contains(u[2], "instance") {
				t.Errorf("%s is read as %q: use max by (labels without instance) (%s...)", g, u[0], g)
			}
		}
	}
}
