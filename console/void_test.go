package console_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The audit page lists the messages operators voided, as verify reports
// them, beside the verdict.
func TestAuditPageListsVoids(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	// A message written past the engine, straight to JetStream, as a
	// foreign writer would: the rig's engine runs on the real store.
	bad, err := r.eng.Store.(*eventstore.Store).JetStream().Publish(ctx, events.ReferralSubject("vv1"), []byte(`not a commit`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Void(ctx, r.eng, engine.VoidRequest{Subject: events.ReferralSubject("vv1"), Sequence: bad.Sequence, Reason: "Published by hand (INC-7)"}, engine.Meta{Actor: "Oli Operator"}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Get(r.base + "/console/audit")
	if err != nil {
		t.Fatal(err)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(readBody(t, res))
	if csrf == nil {
		t.Fatal("no CSRF token on the audit page")
	}
	if res, err = c.PostForm(r.base+"/console/audit/verify", url.Values{"csrf": {csrf[1]}}); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("verify: %v %v", res, err)
	}
	readBody(t, res)
	var page string
	if !storetest.WaitFor(20*time.Second, func() bool {
		res, err := c.Get(r.base + "/console/audit")
		if err != nil {
			t.Fatal(err)
		}
		page = readBody(t, res)
		return strings.Contains(page, `id="verify-ok"`)
	}) {
		t.Fatalf("verify did not pass:\n%s", page)
	}
	if !strings.Contains(page, `id="voided"`) || !strings.Contains(page, "INC-7") || !strings.Contains(page, "Oli Operator") || !strings.Contains(page, "referral.vv1") {
		t.Fatalf("the audit page does not list the void:\n%s", page)
	}
}
