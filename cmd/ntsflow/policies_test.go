package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// serve reads the sagas' policies one after another and stops on the
// first that is bad, naming it; a policy not named is the shipped one.
func TestServeReadsEachPolicyAndStopsOnTheFirstBadOne(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "safeguarding.json")
	if err := os.WriteFile(bad, []byte(`{"version":"v","notify":["the press"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var r policyReader
	alloc := readPolicy(&r, allocation.Policies, "")
	safe := readPolicy(&r, safeguarding.Policies, bad)
	retain := readPolicy(&r, retention.Policies, filepath.Join(dir, "missing.json"))
	if alloc.Version != allocation.DefaultPolicy().Version {
		t.Errorf("no file named: %+v, not the shipped policy", alloc)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "safeguarding policy "+bad) || !strings.Contains(r.err.Error(), "the press") {
		t.Fatalf("the bad file is not named: %v", r.err)
	}
	if safe.Version != "" || retain.Version != "" {
		t.Errorf("a policy after the first error was read: %+v %+v", safe, retain)
	}
}
