package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ntsflow/ntsflow/views"
)

// The view names the CLI accepts and lists are the registry's: a view
// that is not one is refused naming every view, and one the API does not
// serve is refused with where to replay it, rather than asked for at an
// address that is no route.
func TestReplayNamesTheRegisteredViews(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"replay", "--as-of", "2025-06-30T23:59:59Z", "--view", "nosuch", "--server", "http://127.0.0.1:1"}, &out, &errb); code != 2 {
		t.Fatalf("an unknown view: exit %d, want 2:\n%s", code, errb.String())
	}
	for _, name := range views.Names() {
		if !strings.Contains(errb.String(), name) {
			t.Errorf("the refusal of an unknown view does not name %s:\n%s", name, errb.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"replay", "--as-of", "2025-06-30T23:59:59Z", "--view", "deadlines", "--server", "http://127.0.0.1:1"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--data-dir") {
		t.Fatalf("the deadlines view from a running engine: exit %d, want 2 and where to replay it from:\n%s", code, errb.String())
	}
}
