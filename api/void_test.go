package api_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/events"
)

// An operator's mistaken publish on a referral's subject, with the
// engine's credentials: today the referral answers 500 for ever. A void
// on the record is the way out: the referral reads and takes commands
// again, its history shows the void, and verify passes and lists it.
func TestVoidingAnUndecodableMessageHealsTheReferral(t *testing.T) {
	ts, n := newServer(t)
	ctx := context.Background()
	id := create(t, ts.URL)
	other := create(t, ts.URL)
	bad, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject(id), []byte(`{"oops": "published by hand"}`))
	if err != nil {
		t.Fatal(err)
	}
	notify := `{"professions":["health","police"],"notifiedBy":"team leader"}`

	// Given: the referral cannot be read or changed, and verify says why.
	if r := do(t, "GET", ts.URL+"/v1/referrals/"+id, ""); r.status != 500 {
		t.Fatalf("a referral holding an undecodable message: %d %s", r.status, r.body)
	} else if code, _ := r.errCode(t); code != "corrupt_history" {
		t.Fatalf("code %s", code)
	}
	if r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/notifications", notify); r.status != 500 {
		t.Fatalf("a command on it: %d %s", r.status, r.body)
	}
	rep := verify(t, ts.URL)
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != "corrupt" || rep.Problems[0].Sequence != bad.Sequence {
		t.Fatalf("verify before the void: %+v", rep.Problems)
	}

	// Refused, with nothing recorded: what a person could get wrong.
	voids := ts.URL + "/v1/voids"
	subject := events.ReferralSubject(id)
	for _, c := range []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"no reason", fmt.Sprintf(`{"subject":%q,"sequence":%d}`, subject, bad.Sequence), 422, "invalid_value", "reason"},
		{"a reason with a control character", fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":"a\u0000b"}`, subject, bad.Sequence), 422, "invalid_value", "reason"},
		{"a reason too long", fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":%q}`, subject, bad.Sequence, strings.Repeat("x", 501)), 422, "invalid_value", "reason"},
		{"no subject", fmt.Sprintf(`{"sequence":%d,"reason":"mistaken publish"}`, bad.Sequence), 422, "invalid_value", "subject"},
		{"a subject outside the log", fmt.Sprintf(`{"subject":"nts.public.referral.placed","sequence":%d,"reason":"mistaken publish"}`, bad.Sequence), 422, "invalid_value", "subject"},
		{"no sequence", fmt.Sprintf(`{"subject":%q,"reason":"mistaken publish"}`, subject), 422, "invalid_value", "sequence"},
		{"a sequence the log does not hold", fmt.Sprintf(`{"subject":%q,"sequence":99999,"reason":"mistaken publish"}`, subject), 404, "not_found", ""},
		{"another referral's message", fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":"mistaken publish"}`, events.ReferralSubject(other), bad.Sequence), 409, "not_on_subject", "sequence"},
		{"a commit the engine reads", fmt.Sprintf(`{"subject":%q,"sequence":1,"reason":"mistaken publish"}`, subject), 409, "readable", "sequence"},
		{"an unknown field", fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":"mistaken publish","sequense":1}`, subject, bad.Sequence), 400, "", ""},
	} {
		r := do(t, "POST", voids, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if code, field := r.errCode(t); c.code != "" && (code != c.code || field != c.field) {
			t.Errorf("%s: %s on %q, want %s on %q: %s", c.name, code, field, c.code, c.field, r.body)
		}
	}
	if r := do(t, "GET", ts.URL+"/v1/referrals/"+id, ""); r.status != 500 {
		t.Fatalf("a refused void changed the referral: %d", r.status)
	}

	// When: an operator voids it, naming the subject without its prefix
	// (tokens are off here, so X-Actor is who acted).
	r := do(t, "POST", voids, fmt.Sprintf(`{"subject":"referral.%s","sequence":%d,"reason":"published by hand during the incident of 4 June"}`, id, bad.Sequence), "X-Actor", "J. Operator")
	if r.status != 201 {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	var out struct {
		Subject          string
		Voided, Sequence uint64
		Problem          string
	}
	json.Unmarshal(r.body, &out)
	if out.Subject != subject || out.Voided != bad.Sequence || out.Sequence <= bad.Sequence || !strings.Contains(out.Problem, "does not decode") {
		t.Fatalf("void outcome %s", r.body)
	}

	// Then: the referral reads and takes commands, its history shows the
	// void, verify passes and lists it with what was wrong.
	g := do(t, "GET", ts.URL+"/v1/referrals/"+id, "")
	// Version 3: the receipt (the referral and its deadline), then the void.
	if g.status != 200 || g.json(t)["status"] != "open" || g.json(t)["version"] != float64(3) {
		t.Fatalf("after the void: %d %s", g.status, g.body)
	}
	if r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/notifications", notify); r.status != 200 {
		t.Fatalf("a command after the void: %d %s", r.status, r.body)
	}
	h := do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "")
	var hist struct {
		Version int
		Events  []struct {
			Sequence uint64
			Type     string
			Actor    string
			Person   string
			Data     map[string]any
		}
	}
	json.Unmarshal(h.body, &hist)
	if len(hist.Events) != 4 || hist.Version != 4 || hist.Events[1].Type != events.TypeDeadlineSet {
		t.Fatalf("history after the void and a command: %s", h.body)
	}
	v := hist.Events[2]
	if v.Type != events.TypeSequenceVoided || v.Sequence != out.Sequence || v.Data["sequence"] != float64(bad.Sequence) || v.Actor != "J. Operator" ||
		!strings.Contains(v.Data["reason"].(string), "incident") {
		t.Fatalf("the void in the history: %+v", v)
	}
	rep = verify(t, ts.URL)
	if !rep.OK() || len(rep.Voided) != 1 {
		t.Fatalf("verify after the void: problems %+v, voided %+v", rep.Problems, rep.Voided)
	}
	if vd := rep.Voided[0]; vd.Sequence != bad.Sequence || vd.VoidSequence != out.Sequence || vd.Aggregate != "referral."+id ||
		len(vd.Findings) != 1 || vd.Findings[0].Kind != "corrupt" || !strings.Contains(vd.Reason, "incident") {
		t.Fatalf("verify's void: %+v", vd)
	}

	// Voiding it again is refused, naming the void there is.
	r = do(t, "POST", voids, fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":"again"}`, subject, bad.Sequence))
	if code, _ := r.errCode(t); r.status != 409 || code != "already_voided" || !strings.Contains(string(r.body), fmt.Sprint(out.Sequence)) {
		t.Fatalf("a second void: %d %s", r.status, r.body)
	}
}

// A void that does not verify (published by hand, like the message it
// names) hides nothing from verify.
func TestAForgedVoidHidesNothing(t *testing.T) {
	ts, n := newServer(t)
	ctx := context.Background()
	id := create(t, ts.URL)
	bad, _ := n.Store.JetStream().Publish(ctx, events.ReferralSubject(id), []byte(`garbage`))
	forged := fmt.Sprintf(`{"command":"void-sequence","events":[{"id":"f1","type":%q,"schemaVersion":1,"aggregateId":%q,"occurredAt":"2025-06-05T12:00:00Z","recordedAt":"2025-06-05T12:00:00Z","actor":"x","data":{"sequence":%d,"reason":"r","problem":"p"},"hash":"00"}]}`,
		events.TypeSequenceVoided, id, bad.Sequence)
	if _, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject(id), []byte(forged)); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, ts.URL)
	kinds := map[string]bool{}
	for _, p := range rep.Problems {
		kinds[p.Kind] = true
	}
	if !kinds["corrupt"] || !kinds["altered"] || len(rep.Voided) != 0 {
		t.Fatalf("verify with a forged void: problems %+v, voided %+v", rep.Problems, rep.Voided)
	}
}

// An event of a type this build does not read: one published by hand
// (its hash does not verify) is voided at once; one an engine with the
// chain key wrote, most likely a newer build's, only with force.
func TestVoidingAnUnknownEvent(t *testing.T) {
	ts, n := newServer(t)
	ctx := context.Background()
	id := create(t, ts.URL)
	notify := `{"professions":["health"],"notifiedBy":"team leader"}`
	g := do(t, "GET", ts.URL+"/v1/referrals/"+id+"/history", "")
	var hist struct {
		Events []struct{ Hash string }
	}
	json.Unmarshal(g.body, &hist)
	prev := hist.Events[len(hist.Events)-1].Hash

	// Signed as the engine signs (newServer's engine has no chain key:
	// HMAC under the empty key).
	unsigned := fmt.Sprintf(`{"id":"n1","type":"referral.teleported","schemaVersion":1,"aggregateId":%q,"occurredAt":"2025-06-05T12:00:00Z","recordedAt":"2025-06-05T12:00:00Z","actor":"newer","data":{},"prevHash":%q,"hash":""}`, id, prev)
	m := hmac.New(sha256.New, nil)
	m.Write([]byte(unsigned))
	signed := strings.Replace(unsigned, `"hash":""`, `"hash":"`+hex.EncodeToString(m.Sum(nil))+`"`, 1)
	newer, err := n.Store.JetStream().Publish(ctx, events.ReferralSubject(id), []byte(`{"command":"teleport","events":[`+signed+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, ts.URL); !rep.OK() {
		t.Fatalf("the newer engine's event does not verify: %+v", rep.Problems)
	}
	if r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/notifications", notify); r.status != 409 {
		t.Fatalf("a command on a history it cannot read: %d %s", r.status, r.body)
	}
	body := fmt.Sprintf(`{"subject":%q,"sequence":%d,"reason":"rolled back from 2.0"}`, events.ReferralSubject(id), newer.Sequence)
	r := do(t, "POST", ts.URL+"/v1/voids", body)
	if code, field := r.errCode(t); r.status != 409 || code != "force_required" || field != "force" {
		t.Fatalf("voiding a signed event without force: %d %s", r.status, r.body)
	}
	r = do(t, "POST", ts.URL+"/v1/voids", strings.Replace(body, `}`, `,"force":true}`, 1))
	if r.status != 201 || r.json(t)["event"].(map[string]any)["data"].(map[string]any)["forced"] != true {
		t.Fatalf("voiding it with force: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", ts.URL+"/v1/referrals/"+id+"/notifications", notify); r.status != 200 {
		t.Fatalf("a command after the void: %d %s", r.status, r.body)
	}
	rep := verify(t, ts.URL)
	if !rep.OK() || len(rep.Voided) != 1 || !rep.Voided[0].Forced || len(rep.Voided[0].Findings) != 0 {
		t.Fatalf("verify: problems %+v, voided %+v", rep.Problems, rep.Voided)
	}
}

func TestOnlyOperatorsVoid(t *testing.T) {
	ts, rs := newAuthServer(t)
	body := `{"subject":"nts.events.referral.x1","sequence":99999,"reason":"mistaken publish"}`
	for _, c := range []struct {
		name, tok string
		status    int
	}{{"an authority", rs.stockport, 403}, {"a region", rs.northWest, 403}, {"an auditor", rs.auditor, 403}, {"an operator", rs.operator, 404}} {
		if r := do(t, "POST", ts.URL+"/v1/voids", body, bearer(c.tok)...); r.status != c.status {
			t.Errorf("%s voids: %d, want %d: %s", c.name, r.status, c.status, r.body)
		}
	}
}

func verify(t *testing.T, base string) audit.Report {
	t.Helper()
	r := do(t, "GET", base+"/v1/audit/verify", "")
	var rep audit.Report
	if r.status != 200 || json.Unmarshal(r.body, &rep) != nil {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	return rep
}
