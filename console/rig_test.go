package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/console"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/views"
	"github.com/ntsflow/ntsflow/wiring"
)

// A policy in seconds for the hotel route (warned 3s before a 6s deadline,
// escalated to the director 2s after it), and two hours for the entry
// authority route, so a referral walked through the forms stays in time.
const testPolicy = `{"version":"console-test-seconds","routes":{"hotel":{"duration":"6s"},"entry-authority":{"duration":"2h"}},"warnBefore":{"duration":"3s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"},{"after":{"duration":"2s"},"to":"director"}]}`

// The allocated contact answers within two hours in the tests.
const testAllocationPolicy = `{"version":"console-test-allocation","respondWithin":{"duration":"2h"},"remindAt":0.5,"escalateTo":"rsmp-lead"}`

// rig is what `ntsflow serve` runs, in the test process: an embedded
// JetStream server, the engine, the live views, the deadline saga, the API
// and the console on one handler, on a real HTTP listener.
type rig struct {
	t      testing.TB
	base   string
	eng    *engine.Engine
	views  *views.Set
	reg    *refdata.Registry
	tokens map[string]string // role -> bearer token
	// With sign-in on: the token file and the tokens in force, reloaded
	// from it as serve does.
	tokenFile string
	auth      *auth.Tokens
	reads     *app.ReadAudit
}

// rigOptions: sign-in on or off; the console's clock (default time.Now),
// which also times its sessions and the limit on failed sign-ins.
type rigOptions struct {
	signIn bool
	now    func() time.Time
	// safeguarding runs the safeguarding saga too (it tells the police and
	// the hub of a missing child, and times the clocks).
	safeguarding bool
	// retention is the retention policy the views' due dates follow (nil:
	// the shipped one). The rig runs no retention saga: nothing is disposed.
	retention *retention.Policy
	// deadlines is the deadline policy (empty: testPolicy, whose hotel
	// route is warned 3 s after receipt).
	deadlines string
}

// calmPolicy gives both routes two hours (warned ten minutes before), for
// a walk through the forms that must not meet the deadline saga on the
// way: a form opened before a warning or breach was recorded is refused as
// stale when sent after, and a hotel referral received an hour ago is
// breached at once under testPolicy.
const calmPolicy = `{"version":"console-test-calm","routes":{"hotel":{"duration":"2h"},"entry-authority":{"duration":"2h"}},"warnBefore":{"duration":"10m"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`

// roles the rig makes tokens for, when sign-in is on.
var roles = []struct{ name, role string }{
	{"Sam Stockport", "authority:E08000007"},
	{"Nia Northwest", "region:North West"},
	{"Ada Auditor", "auditor"},
	{"Oli Operator", "operator"},
	{"Dee Protection", "data-protection"},
}

func newRig(t testing.TB, signIn bool) *rig {
	t.Helper()
	return newRigWith(t, rigOptions{signIn: signIn})
}

func newRigWith(t testing.TB, o rigOptions) *rig {
	t.Helper()
	signIn := o.signIn
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	log := slog.New(slog.DiscardHandler)
	kctx, kcancel := context.WithTimeout(ctx, 10*time.Second)
	key, err := node.Store.ChainKey(kctx)
	kcancel()
	if err != nil {
		t.Fatal(err)
	}
	reg, cal := refdata.Default(), calendar.Default()
	policyJSON := testPolicy
	if o.deadlines != "" {
		policyJSON = o.deadlines
	}
	policy, err := deadline.ParsePolicy([]byte(policyJSON))
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := allocation.ParsePolicy([]byte(testAllocationPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, reg: reg, tokens: map[string]string{}}
	var tokens *auth.Tokens
	if signIn {
		var f auth.File
		for _, ro := range roles {
			tok, e := auth.NewToken(ro.name, ro.role)
			r.tokens[ro.role] = tok
			f.Tokens = append(f.Tokens, e)
		}
		path := filepath.Join(t.TempDir(), "tokens.json")
		b, _ := json.Marshal(f)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if tokens, err = auth.Load(path, reg); err != nil {
			t.Fatal(err)
		}
		tokens.Attempts.Now = o.now
		r.tokenFile, r.auth = path, tokens
		wg.Add(1)
		go func() { defer wg.Done(); tokens.Watch(ctx, 20*time.Millisecond, func(err error) { t.Error(err) }) }()
	}
	// Sessions in the event store's bucket, as serve keeps them.
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	sessions, err := node.Store.Sessions(sctx, console.DefaultSessionMaxAge)
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	n, err := wiring.Build(wiring.Config{Store: node.Store, Log: log, ChainKey: key, Calendar: cal, Authorities: reg,
		Deadline: &policy, Allocation: &alloc, Retention: o.retention, Tokens: tokens, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	n.Console.RefreshEvery, n.Console.Now = time.Second, o.now
	r.eng, r.views, r.reads = n.Engine, n.Views, n.Reads
	wg.Add(1)
	parts := []wiring.Part{wiring.Views, wiring.DeadlineSaga, wiring.ReadAudit}
	if o.safeguarding {
		parts = append(parts, wiring.SafeguardingSaga)
	}
	go func() { defer wg.Done(); n.Run(ctx, parts...) }()
	hs := httptest.NewServer(n.Handler())
	t.Cleanup(hs.Close)
	r.base = hs.URL
	return r
}

// do runs a command as the API would, for setting the scene; the browser
// tests change referrals through the forms.
func (r *rig) do(id string, c aggregates.Command) engine.Outcome {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := r.eng.Handle(ctx, id, c, engine.Meta{Actor: "test setup"})
	if err != nil {
		r.t.Fatalf("%s %s: %v", c.CommandName(), id, err)
	}
	return out
}

// receive opens a referral for authority, received at.
func (r *rig) receive(key, authority, route string, at time.Time) string {
	r.t.Helper()
	c := aggregates.ReceiveReferral{ReceivingAuthority: authority, Route: route, ChildReference: "HO-" + key, ReceivedAt: at}
	if route == "hotel" {
		c.Hotel = "Interim hotel A"
	} else {
		c.TransferringAuthority = "E09000008"
	}
	c.ReferralID = engine.NewReferralID(authority, key)
	return r.do(c.ReferralID, c).AggregateID
}

// refer refers a child into the scheme for the North West (entry
// authority route: two hours in the test policy).
func (r *rig) refer(key string) string {
	r.t.Helper()
	c := aggregates.ReceiveReferral{Region: "north-west", Route: "entry-authority", TransferringAuthority: "E09000008", ChildReference: "HO-" + key, ReceivedAt: time.Now()}
	c, err := c.Resolve(r.reg)
	if err != nil {
		r.t.Fatal(err)
	}
	c.ReferralID = engine.NewReferralID("region:"+c.Region, key)
	return r.do(c.ReferralID, c).AggregateID
}

// settle waits until every view has read everything in the log.
func (r *rig) settle() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := r.eng.Store.LastSequence(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, wait := range []func(context.Context, uint64) error{r.views.Capacity.WaitFor, r.views.Timeliness.WaitFor, r.views.Referrals.WaitFor, r.views.Children.WaitFor, r.views.Safeguarding.WaitFor, r.views.Records.WaitFor} {
		if err := wait(ctx, last); err != nil {
			r.t.Fatalf("views did not reach sequence %d: %v", last, err)
		}
	}
}

// waitFor polls cond until it holds, or fails the test after within.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	if !storetest.WaitFor(within, cond) {
		t.Fatalf("%s: not within %v", what, within)
	}
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}
