package views_test

import (
	"testing"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/wiring"
)

// buildEngine is serve's engine (wiring.Build) on store: the views are fed
// what production writes, receipts carrying their deadline included.
func buildEngine(t testing.TB, store *eventstore.Store) *engine.Engine {
	t.Helper()
	node, err := wiring.Build(wiring.Config{Store: store, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return node.Engine
}
