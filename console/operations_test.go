package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// apiAs calls the API with a role's bearer token.
func apiAs(t *testing.T, r *rig, role, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.tokens[role])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// signedIn is a visitor signed in with role.
func signedIn(t *testing.T, r *rig, role string) *visitor {
	t.Helper()
	v := newVisitor(t, r.base)
	if res := v.signIn(r.tokens[role], ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", role, res.StatusCode)
	}
	return v
}

// The operator signs in to the operations page, never to a refusal, and
// is sent there from everyone else's first page.
func TestOperatorLandsOnOperations(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	v := newVisitor(t, r.base)
	res := v.signIn(r.tokens["operator"], "")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/console/operations" {
		t.Fatalf("operator signs in to %d %q, want /console/operations", res.StatusCode, loc)
	}
	for _, p := range []string{"/", "/console/", "/console/at-risk"} {
		res, _ := v.get(p)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/console/operations" {
			t.Errorf("operator at %s: %d %q, want a redirect to /console/operations", p, res.StatusCode, loc)
		}
	}
	res, page := v.get("/console/operations")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `<h1 class="govuk-heading-l">Operations</h1>`) || !strings.Contains(page, `id="readiness"`) {
		t.Fatalf("operations page: %d\n%s", res.StatusCode, page)
	}
	// The children's pages are not the operator's; the page says why.
	res, page = v.get("/console/capacity")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "watches the engine, not the children") {
		t.Errorf("operator at capacity: %d", res.StatusCode)
	}
	// Others keep their first page; an authority does not see the engine.
	sam := signedIn(t, r, "authority:E08000007")
	if res, _ := sam.get("/"); res.StatusCode != http.StatusOK {
		t.Errorf("authority at /: %d", res.StatusCode)
	}
	if res, _ := sam.get("/console/operations"); res.StatusCode != http.StatusForbidden {
		t.Errorf("authority at operations: %d", res.StatusCode)
	}
}

// The operations page says what the API says of the same moment: each
// view's position, the log's last sequence, the parked messages; a replay
// from the page is the API's replay; the last verification is the one the
// API ran.
func TestOperationsPageIsTheAPIs(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	id := r.receive("ops-1", "E08000007", "entry-authority", time.Now())
	waitFor(t, "the deadline set", 10*time.Second, func() bool {
		ref, _, err := r.eng.Load(context.Background(), id)
		return err == nil && !ref.DueAt.IsZero()
	})
	fix := parkOne(t, r, "nts.events.referral."+id)
	r.settle()
	op := signedIn(t, r, "operator")

	code, body := apiAs(t, r, "operator", "GET", "/v1/views", "")
	var vs struct {
		StreamSequence uint64 `json:"streamSequence"`
		Views          []struct {
			Name     string `json:"name"`
			Sequence uint64 `json:"sequence"`
		} `json:"views"`
	}
	if code != 200 || json.Unmarshal(body, &vs) != nil || len(vs.Views) == 0 {
		t.Fatalf("GET /v1/views: %d %s", code, body)
	}
	_, page := op.get("/console/operations")
	if got := strings.ReplaceAll(textOf(page, `id="stream-sequence"`), ",", ""); got != strconv.FormatUint(vs.StreamSequence, 10) {
		t.Errorf("stream sequence: page %q, API %d", got, vs.StreamSequence)
	}
	rows := rowCells(page, "data-view")
	if len(rows) != len(vs.Views) {
		t.Errorf("page shows %d views, API %d", len(rows), len(vs.Views))
	}
	for _, v := range vs.Views {
		if got := strings.ReplaceAll(rows[v.Name]["sequence"], ",", ""); got != strconv.FormatUint(v.Sequence, 10) {
			t.Errorf("view %s: page %q, API %d", v.Name, got, v.Sequence)
		}
	}
	if !strings.Contains(page, "govuk-tag--green\">Ready") {
		t.Errorf("readiness: the page does not say ready, as /readyz does")
	}

	code, body = apiAs(t, r, "operator", "GET", "/v1/parked", "")
	var parked struct {
		Parked []struct {
			Sequence uint64 `json:"sequence"`
			Consumer string `json:"consumer"`
		} `json:"parked"`
	}
	if code != 200 || json.Unmarshal(body, &parked) != nil || len(parked.Parked) != 1 {
		t.Fatalf("GET /v1/parked: %d %s", code, body)
	}
	seq := strconv.FormatUint(parked.Parked[0].Sequence, 10)
	if !strings.Contains(page, `data-parked="`+seq+`"`) || !strings.Contains(page, parked.Parked[0].Consumer) {
		t.Errorf("the page does not list parked message %s", seq)
	}

	// An auditor reads the page but is offered no replay, and a replay sent
	// anyway is refused; an authority may not see it at all.
	ada := signedIn(t, r, "auditor")
	if _, page := ada.get("/console/operations"); !strings.Contains(page, `data-parked="`+seq+`"`) || strings.Contains(page, `id="replay-`+seq+`"`) {
		t.Errorf("auditor: the parked message should be listed without a replay button")
	}
	if res, _ := ada.post("/console/operations/replay", url.Values{"csrf": {csrfOf(t, ada, "/console/operations")}, "sequence": {seq}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("auditor replays: %d", res.StatusCode)
	}

	// A replay of a sequence nobody parked says so, in words, as the API's 404.
	res, page := op.post("/console/operations/replay", url.Values{"csrf": {csrfOf(t, op, "/console/operations")}, "sequence": {"99999"}})
	if res.StatusCode != http.StatusNotFound || !strings.Contains(page, "No parked message has sequence 99999. Nothing was replayed.") {
		t.Errorf("replay of nothing: %d", res.StatusCode)
	}
	// Fixed, the operator replays it from the page; the API then lists none.
	fix()
	res, page = op.post("/console/operations/replay", url.Values{"csrf": {csrfOf(t, op, "/console/operations")}, "sequence": {seq}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Replayed: handled, and no longer parked") || !strings.Contains(page, `id="parked-none"`) {
		t.Errorf("replay: %d\n%s", res.StatusCode, textOf(page, `id="replayed"`))
	}
	if _, body := apiAs(t, r, "operator", "GET", "/v1/parked", ""); !strings.Contains(string(body), `"parked":[]`) {
		t.Errorf("after the replay the API lists %s", body)
	}

	// The last verification is the node's: run through the API, shown on
	// the page.
	if code, body := apiAs(t, r, "operator", "GET", "/v1/audit/verify", ""); code != 200 {
		t.Fatalf("operator verifies: %d %s", code, body)
	}
	if _, page := op.get("/console/operations"); !strings.Contains(page, `id="verify-ok"`) {
		t.Errorf("the verification the API ran is not on the page")
	}
}

// textOf is the text of the first element with attr, tags removed.
func textOf(page, attr string) string {
	i := strings.Index(page, attr)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	start := strings.Index(rest, ">")
	end := strings.Index(rest, "</")
	if start < 0 || end < start {
		return ""
	}
	return strings.TrimSpace(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(rest[start+1:end], ""))
}

func csrfOf(t *testing.T, v *visitor, path string) string {
	t.Helper()
	_, page := v.get(path)
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// The operator rebuilds a view and voids the message the views stopped
// before from the operations page, through the same use cases as POST
// /v1/views/{name}/rebuild and POST /v1/voids: a void without a reason is
// refused with the reason's words and keeps what was chosen; with one, the
// views go on. Roles that only watch see neither control and are refused
// if they post.
func TestOperatorRebuildsAndVoidsFromThePage(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	id := r.receive("ops-void-1", "E08000007", "entry-authority", time.Now())
	doc := `{"command":"future","events":[{"id":"e1","type":"referral.teleported","schemaVersion":1,"aggregateId":"` + id + `","occurredAt":"2025-01-01T00:00:00Z","recordedAt":"2025-01-01T00:00:00Z","actor":"x","data":{}}]}`
	bad, err := r.eng.Store.(*eventstore.Store).JetStream().Publish(context.Background(), events.ReferralSubject(id), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	op := signedIn(t, r, "operator")
	var page string
	waitFor(t, "the views stopped", 15*time.Second, func() bool {
		_, page = op.get("/console/operations")
		return strings.Contains(page, `id="void-capacity"`)
	})
	csrf := csrfRe.FindStringSubmatch(page)[1]
	seq := strconv.FormatUint(bad.Sequence, 10)
	form := url.Values{"csrf": {csrf}, "view": {"capacity"}, "subject": {events.ReferralSubject(id)}, "sequence": {seq}, "force": {"yes"}}

	// No reason: refused, in the void's words, the choice kept.
	res, page := op.post("/console/operations/void", form)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="operation-problem"`) || !strings.Contains(page, "Say why the message is voided") ||
		!strings.Contains(page, `id="void-force-capacity" name="force" type="checkbox" value="yes" checked`) {
		t.Fatalf("a void without a reason: %d\n%s", res.StatusCode, page)
	}
	form.Set("reason", "Written by hand during INC-9")
	form.Del("force")
	if res, page = op.post("/console/operations/void", form); res.StatusCode != http.StatusCreated || !strings.Contains(page, `id="operation-done"`) {
		t.Fatalf("the void: %d\n%s", res.StatusCode, page)
	}
	waitFor(t, "the views past the void", 15*time.Second, func() bool {
		_, page = op.get("/console/operations")
		return !strings.Contains(page, "govuk-tag--red\">Stopped")
	})
	if res, page = op.post("/console/operations/void", form); res.StatusCode != http.StatusConflict || !strings.Contains(page, "already voided") {
		t.Errorf("the same void again: %d", res.StatusCode)
	}

	// A rebuild, from the page: the view is then rebuilding or rebuilt,
	// as GET /v1/views says.
	if res, page = op.post("/console/operations/rebuild", url.Values{"csrf": {csrf}, "view": {"timeliness"}}); res.StatusCode != http.StatusAccepted || !strings.Contains(page, `id="operation-done"`) {
		t.Fatalf("rebuild: %d\n%s", res.StatusCode, page)
	}
	waitFor(t, "the rebuild's outcome", 20*time.Second, func() bool {
		code, body := apiAs(t, r, "operator", "GET", "/v1/views", "")
		return code == 200 && strings.Contains(string(body), `"name":"timeliness"`) && strings.Contains(string(body), `"lastRebuild"`)
	})
	if res, page = op.post("/console/operations/rebuild", url.Values{"csrf": {csrf}, "view": {"nonesuch"}}); res.StatusCode != http.StatusNotFound || !strings.Contains(page, "No view &#34;nonesuch&#34;") {
		t.Errorf("rebuild of no view: %d", res.StatusCode)
	}

	// Watching is not operating: no controls, and a post is refused.
	aud := signedIn(t, r, "auditor")
	if res, page = aud.get("/console/operations"); res.StatusCode == http.StatusOK && (strings.Contains(page, `id="rebuild-capacity"`) || strings.Contains(page, "/console/operations/void")) {
		t.Errorf("an auditor is offered the operator's controls")
	}
	acsrf := csrfRe.FindStringSubmatch(page)
	if acsrf != nil {
		if res, _ := aud.post("/console/operations/rebuild", url.Values{"csrf": {acsrf[1]}, "view": {"capacity"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("an auditor's rebuild: %d", res.StatusCode)
		}
	}
}
