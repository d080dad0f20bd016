package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/refdata"
)

// On a real store: one read queued (the writer not yet running), one
// written on the reader's time because the queue of one is full, and,
// with the store out of room, one refused because its record could not
// be written. /metrics counts each, and the queue empties once the
// writer runs.
func TestReadAuditMetrics(t *testing.T) {
	n := storetest.Start(t, storetest.Options{MaxStore: 2 << 20})
	m := metrics.New(nil, n.Store, refdata.Default(), calendar.Default(), "test")
	a := &app.ReadAudit{Log: n.Store, Queue: 1}
	m.WatchReadAudit(a.Stats)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	scrape := func() string {
		t.Helper()
		res, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	has := func(out string, want ...string) bool {
		for _, w := range want {
			if !strings.Contains(out, "\n"+w+"\n") {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sam := app.As(auth.Principal{Name: "Sam Stockport", Kind: auth.Authority, Authority: "E08000007"})
	read := func() error { return a.Record(ctx, sam, "r1", app.ReadOf{View: app.ViewReferral}) }

	if out := scrape(); !has(out, "ntsflow_read_audit_recorded_total 0", "ntsflow_read_audit_refused_total 0", "ntsflow_read_audit_queue_depth 0") {
		t.Fatalf("before any read:\n%s", grepReads(out))
	}
	for range 2 {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	if out := scrape(); !has(out, "ntsflow_read_audit_recorded_total 1", "ntsflow_read_audit_direct_total 1", "ntsflow_read_audit_refused_total 0", "ntsflow_read_audit_queue_depth 1") {
		t.Fatalf("one queued, one written directly:\n%s", grepReads(out))
	}

	free := fillStore(ctx, t, n)
	if err := read(); !errors.Is(err, app.ErrReadNotRecorded) {
		t.Fatalf("a read with the store full: %v", err)
	}
	if out := scrape(); !has(out, "ntsflow_read_audit_recorded_total 1", "ntsflow_read_audit_direct_total 2", "ntsflow_read_audit_refused_total 1") {
		t.Fatalf("one refused:\n%s", grepReads(out))
	}

	free()
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { stop(); <-done }()
	if !storetest.WaitFor(10*time.Second, func() bool {
		return has(scrape(), "ntsflow_read_audit_recorded_total 2", "ntsflow_read_audit_queue_depth 0", "ntsflow_read_audit_refused_total 1")
	}) {
		t.Fatalf("the writer did not empty the queue:\n%s", grepReads(scrape()))
	}
}

func grepReads(out string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ntsflow_read_audit") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
