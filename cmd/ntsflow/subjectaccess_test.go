package main

import (
	"archive/zip"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// subject-access writes the engine's export to a file, never over one.
func TestSubjectAccessCommandWritesTheExport(t *testing.T) {
	base, stop := startServe(t, t.TempDir())
	defer stop()
	res, err := http.Post(base+"/v1/referrals", "application/json", strings.NewReader(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-SAR","nationality":"Sudanese","receivedAt":"2025-06-02T10:00:00Z"}`))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("receive: %v %v", res, err)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/v1/referrals/")
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errb := cli("subject-access", "--server", base, id); code != 2 || !strings.Contains(errb, "--reason") {
		t.Fatalf("no reason: exit %d %s", code, errb)
	}
	file := filepath.Join(t.TempDir(), "export.zip")
	code, out, errb := cli("subject-access", "--server", base, "--reason", "the child asked", "--out", file, id)
	if code != 0 || !strings.Contains(out, "recorded as event") {
		t.Fatalf("export: exit %d %s %s", code, out, errb)
	}
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	found := false
	for _, f := range zr.File {
		if f.Name == "record.html" {
			rc, _ := f.Open()
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			found = strings.Contains(b.String(), "Sudanese")
		}
	}
	if !found {
		t.Error("record.html does not hold the child's nationality")
	}
	before, _ := os.ReadFile(file)
	if code, _, errb := cli("subject-access", "--server", base, "--reason", "again", "--out", file, id); code != 1 || !strings.Contains(errb, "exists") {
		t.Errorf("over an existing file: exit %d %s", code, errb)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("the earlier export was overwritten")
	}
	if code, _, errb := cli("subject-access", "--server", base, "--reason", "x", "--out", filepath.Join(t.TempDir(), "n.zip"), "no-such-referral"); code != 1 || !strings.Contains(errb, "404") {
		t.Errorf("no referral: exit %d %s", code, errb)
	}
}
