package app_test

import (
	"log/slog"
	"testing"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/wiring"
)

// built is production's engine on store, from the composition root, so
// the use cases are tested against the referral decider serve runs.
func built(t *testing.T, store *eventstore.Store, key []byte) *engine.Engine {
	t.Helper()
	n, err := wiring.Build(wiring.Config{Store: store, Log: slog.New(slog.DiscardHandler), ChainKey: key, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	return n.Engine
}
