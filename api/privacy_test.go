package api_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/wiring"
)

// Rectification, subject access and the read audit over HTTP, on a real
// embedded JetStream, with the roles in force.
func TestDataProtectionOverHTTP(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	reg := refdata.Default()
	tok, tokens := privacyTokens(t, reg)
	node := buildNode(t, n, wiring.Config{Log: slog.New(slog.DiscardHandler), Authorities: reg, Tokens: tokens, NoViews: true}, wiring.ReadAudit)
	ts := httptest.NewServer(node.API.Handler())
	t.Cleanup(ts.Close)
	sp, au, dpo := bearer(tok["authority:E08000007"]), bearer(tok["auditor"]), bearer(tok["data-protection"])
	with := func(h []string, kv ...string) []string { return append(append([]string{}, h...), kv...) }

	body := strings.Replace(receiveBody, `"languages"`, `"dateOfBirth":"2010-03-01","sex":"male","nationality":"Sudanese","languages"`, 1)
	r := do(t, "POST", ts.URL+"/v1/referrals", body, sp...)
	if r.status != 201 {
		t.Fatalf("receive: %d %s", r.status, r.body)
	}
	id := r.json(t)["referralId"].(string)
	ref := "/v1/referrals/" + id

	// The authority corrects the nationality; the referral shows it.
	r = do(t, "POST", ts.URL+ref+"/corrections", `{"field":"nationality","newValue":"Eritrean","reason":"the child's documents"}`, with(sp, "X-Actor", "Jane Smith")...)
	if r.status != 200 {
		t.Fatalf("correct: %d %s", r.status, r.body)
	}
	g := do(t, "GET", ts.URL+ref, "", with(sp, "X-Actor", "Jane Smith")...)
	var view struct {
		Child struct {
			ChildReference, Nationality, Sex, DateOfBirth string
			Corrections                                   int
		}
	}
	json.Unmarshal(g.body, &view)
	if g.status != 200 || view.Child.Nationality != "Eritrean" || view.Child.Sex != "male" || view.Child.DateOfBirth != "2010-03-01" || view.Child.Corrections != 1 || view.Child.ChildReference != "HO-123" {
		t.Errorf("the referral after the correction: %d %s", g.status, g.body)
	}
	h := do(t, "GET", ts.URL+ref+"/history", "", with(sp, "X-Read-Reason", "preparing the review")...)
	if !strings.Contains(string(h.body), `"Sudanese"`) || !strings.Contains(string(h.body), `"child.detail-corrected"`) {
		t.Errorf("the history does not keep both values: %s", h.body)
	}

	for _, c := range []struct {
		name, tok, method, path, body string
		status                        int
		code                          string
	}{
		{"the officer corrects the sex", tok["data-protection"], "POST", ref + "/corrections", `{"field":"sex","newValue":"female","reason":"the child asked"}`, 200, ""},
		{"the officer corrects the date of birth", tok["data-protection"], "POST", ref + "/corrections", `{"field":"dateOfBirth","newValue":"2011-03-01","reason":"the child asked"}`, 409, "not_your_correction"},
		{"the child's reference", tok["authority:E08000007"], "POST", ref + "/corrections", `{"field":"childReference","newValue":"HO-9","reason":"typo"}`, 422, "invalid_value"},
		{"the auditor corrects", tok["auditor"], "POST", ref + "/corrections", `{"field":"sex","newValue":"male","reason":"x"}`, 403, "forbidden"},
		{"the officer reads the referral", tok["data-protection"], "GET", ref, "", 403, "forbidden"},
		{"the authority reads the read audit", tok["authority:E08000007"], "GET", "/v1/privacy/reads/referrals/" + id, "", 403, "forbidden"},
		{"the auditor reads the read audit", tok["auditor"], "GET", "/v1/privacy/reads/referrals/" + id, "", 403, "forbidden"},
		{"the authority exports", tok["authority:E08000007"], "POST", ref + "/subject-access", `{"reason":"asked"}`, 403, "forbidden"},
		{"an export with no reason", tok["data-protection"], "POST", ref + "/subject-access", `{}`, 400, "reason_needed"},
		{"an export of no referral", tok["data-protection"], "POST", "/v1/referrals/no-such/subject-access", `{"reason":"asked"}`, 404, "not_found"},
		{"a limit too high", tok["data-protection"], "GET", "/v1/privacy/reads/referrals/" + id + "?limit=5001", "", 400, "invalid_query"},
	} {
		r := do(t, c.method, ts.URL+c.path, c.body, bearer(c.tok)...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if c.code != "" {
			if code, _ := r.errCode(t); code != c.code {
				t.Errorf("%s: code %s, want %s", c.name, code, c.code)
			}
		}
	}

	x := do(t, "POST", ts.URL+ref+"/subject-access", `{"reason":"request from the child's advocate"}`, with(dpo, "X-Actor", "Sam Jones")...)
	if x.status != 200 || x.header.Get("Content-Type") != "application/zip" || !strings.Contains(x.header.Get("Content-Disposition"), "subject-access-"+id) || x.header.Get("X-Export-Event") == "" {
		t.Fatalf("the export: %d %v", x.status, x.header)
	}
	zr, err := zip.NewReader(bytes.NewReader(x.body), int64(len(x.body)))
	if err != nil || len(zr.File) != 3 {
		t.Fatalf("the export is not the zip of three files: %v", err)
	}
	h = do(t, "GET", ts.URL+ref+"/history", "", au...)
	if !strings.Contains(string(h.body), x.header.Get("X-Export-Event")) || !strings.Contains(string(h.body), `"privacy.subject-access-exported"`) {
		t.Errorf("the export is not recorded in the child's history: %s", h.body)
	}

	// The read audit, newest first: the auditor's history read (after the
	// export, to check it), the export, the authority's history read and
	// its read of the referral.
	var reads struct {
		Reads []struct{ Actor, Person, Role, View, Reason, Referral string }
	}
	if !storetest.WaitFor(10*time.Second, func() bool {
		r := do(t, "GET", ts.URL+"/v1/privacy/reads/referrals/"+id, "", dpo...)
		json.Unmarshal(r.body, &reads)
		return r.status == 200 && len(reads.Reads) == 4
	}) {
		t.Fatalf("the reads of the child: %+v", reads)
	}
	if a, e, hist := reads.Reads[0], reads.Reads[1], reads.Reads[2]; e.View != "subject-access" || e.Actor != "DPO" || e.Person != "Sam Jones" || e.Reason == "" ||
		a.Actor != "Auditor" || hist.View != "history" || hist.Reason != "preparing the review" || hist.Role != "authority:E08000007" {
		t.Errorf("the reads: %+v", reads.Reads)
	}
	if g := reads.Reads[3]; g.View != "referral" || g.Person != "Jane Smith" || g.Actor != "Stockport team" {
		t.Errorf("the first read: %+v", g)
	}
	r = do(t, "GET", ts.URL+"/v1/privacy/reads/readers/"+url.PathEscape("Stockport team")+"?limit=1", "", dpo...)
	json.Unmarshal(r.body, &reads)
	if r.status != 200 || len(reads.Reads) != 1 || reads.Reads[0].View != "history" || reads.Reads[0].Referral != id {
		t.Errorf("Stockport's newest read: %d %s", r.status, r.body)
	}
}

// privacyTokens are tokens for Stockport's team, an auditor and the data
// protection officer, by role, loaded as serve loads them.
func privacyTokens(t *testing.T, reg *refdata.Registry) (map[string]string, *auth.Tokens) {
	t.Helper()
	tok := map[string]string{}
	var f auth.File
	for _, r := range []struct{ name, role string }{{"Stockport team", "authority:E08000007"}, {"Auditor", "auditor"}, {"DPO", "data-protection"}} {
		k, e := auth.NewToken(r.name, r.role)
		tok[r.role] = k
		f.Tokens = append(f.Tokens, e)
	}
	b, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "tokens.json")
	os.WriteFile(path, b, 0o600)
	tokens, err := auth.Load(path, reg)
	if err != nil {
		t.Fatal(err)
	}
	return tok, tokens
}
