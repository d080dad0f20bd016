package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/auth"
)

// history and subject-access take their flags after the referral too
// ("history REF --token-file F"): a token file named there is the one the
// tool sends, as one named before the referral is.
func TestAReferralToolSendsTheTokenFileNamedAfterTheReferral(t *testing.T) {
	dir := t.TempDir()
	auditor, auditorEntry := auth.NewToken("auditor", "auditor")
	writer, writerEntry := auth.NewToken("Stockport", "authority:E08000007")
	b, _ := json.Marshal(auth.File{Tokens: []auth.Entry{auditorEntry, writerEntry}})
	tokens := filepath.Join(dir, "tokens.json")
	if err := os.WriteFile(tokens, b, 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := startServe(t, t.TempDir(), "--tokens", tokens, "--no-sagas")
	defer stop()
	req, _ := http.NewRequest("POST", base+"/v1/referrals", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-1","receivedAt":"2025-06-02T10:00:00Z"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+writer)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")
	tokenFile := filepath.Join(dir, "auditor.token")
	if err := os.WriteFile(tokenFile, []byte(auditor+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"history", "--server", base, id, "--token-file", tokenFile}, &out, &errb); code != 0 || !strings.Contains(out.String(), "referral.received") {
		t.Fatalf("history REF --token-file F: exit %d: %s %s", code, out.String(), errb.String())
	}
}
