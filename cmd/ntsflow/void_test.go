package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// The whole way out, as an operator meets it: two mistaken publishes into
// a stopped engine's log (a message that is not a commit on one referral's
// subject, an event of a type no release reads on another's). The engine
// starts with the first referral answering 500 and every view stopped
// (not ready); verify fails. `ntsflow void` on each heals both, verify
// passes and lists them, the views count what follows, and all of it
// holds across a restart.
func TestVoidCommandHealsAReferralAndTheViews(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	body := `{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-%d","receivedAt":"2025-06-02T10:00:00Z"}`
	receive := func(n int) string {
		t.Helper()
		res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(fmt.Sprintf(body, n)))
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("receive: %v %v", res, err)
		}
		return strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")
	}
	a, b := receive(1), receive(2)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	st, closeStore, err := localStore(ctx, "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	garbage, err := st.JetStream().Publish(ctx, events.ReferralSubject(a), []byte(`not a commit`))
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := st.JetStream().Publish(ctx, events.ReferralSubject(b), []byte(fmt.Sprintf(`{"command":"teleport","events":[{"id":"x1","type":"referral.teleported","schemaVersion":1,"aggregateId":%q,"occurredAt":"2025-06-03T10:00:00Z","recordedAt":"2025-06-03T10:00:00Z","actor":"someone","data":{}}]}`, b)))
	if err != nil {
		t.Fatal(err)
	}
	closeStore()

	base, stop = startServe(t, dir)
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waitReady := func(want int, says string) {
		t.Helper()
		var code int
		var b string
		if !storetest.WaitFor(20*time.Second, func() bool {
			code, b = get("/readyz")
			return code == want && strings.Contains(b, says)
		}) {
			t.Fatalf("readyz: %d %s, want %d saying %q", code, b, want, says)
		}
	}
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}

	// Given: the referral answers 500, the views stop, verify fails.
	if code, b := get("/v1/referrals/" + a); code != 500 || !strings.Contains(b, "corrupt_history") {
		t.Fatalf("the referral with a message that is not a commit: %d %s", code, b)
	}
	waitReady(503, "referral.teleported")
	if code, out, _ := cli("verify", "--server", base); code != 1 || !strings.Contains(out, "PROBLEM corrupt") {
		t.Fatalf("verify before: exit %d\n%s", code, out)
	}

	// Refused by the command itself, or by the engine, in words.
	if code, _, errb := cli("void", "--server", base, "--subject", events.ReferralSubject(a), "--sequence", fmt.Sprint(garbage.Sequence)); code != 2 || !strings.Contains(errb, "--reason") {
		t.Fatalf("void without a reason: exit %d %s", code, errb)
	}
	if code, _, errb := cli("void", "--server", base, "--subject", events.ReferralSubject(a), "--sequence", "1", "--reason", "oops"); code != 1 || !strings.Contains(errb, "not voided (readable)") {
		t.Fatalf("void of a readable commit: exit %d %s", code, errb)
	}

	// When: an operator voids both.
	code, out, errb := cli("void", "--server", base, "--subject", events.ReferralSubject(a), "--sequence", fmt.Sprint(garbage.Sequence), "--reason", "published by hand (INC-1)")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("voided stream sequence %d", garbage.Sequence)) {
		t.Fatalf("void: exit %d %s %s", code, out, errb)
	}
	if code, out, errb := cli("void", "--server", base, "--subject", "referral."+b, "--sequence", fmt.Sprint(unknown.Sequence), "--reason", "published by hand (INC-1)"); code != 0 {
		t.Fatalf("void of the unknown event: exit %d %s %s", code, out, errb)
	}

	// Then: the referral reads, the views go on and count what follows,
	// verify passes and lists both voids.
	if code, b := get("/v1/referrals/" + a); code != 200 || !strings.Contains(b, `"status":"open"`) {
		t.Fatalf("after the void: %d %s", code, b)
	}
	waitReady(200, "ready")
	c := receive(3)
	var list string
	if !storetest.WaitFor(20*time.Second, func() bool {
		_, list = get("/v1/referrals")
		return strings.Contains(list, c) && strings.Contains(list, a) && strings.Contains(list, b)
	}) {
		t.Fatalf("the referral list does not count what followed the voids: %s", list)
	}
	if code, out, _ := cli("history", "--server", base, a); code != 0 || !strings.Contains(out, events.TypeSequenceVoided) || !strings.Contains(out, "reason=published by hand (INC-1)") {
		t.Fatalf("history after the void: exit %d\n%s", code, out)
	}
	code, out, _ = cli("verify", "--server", base)
	if code != 0 || strings.Count(out, "VOIDED") != 2 || !strings.Contains(out, "no problems") || !strings.Contains(out, "INC-1") {
		t.Fatalf("verify after: exit %d\n%s", code, out)
	}

	// And across a restart.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	base, stop = startServe(t, dir)
	defer stop()
	waitReady(200, "ready")
	if code, b := get("/v1/referrals/" + a); code != 200 {
		t.Fatalf("after a restart: %d %s", code, b)
	}
}
