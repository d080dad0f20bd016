package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// useCaseRig is a real embedded JetStream and production's engine on it,
// from the composition root, so the use cases are tested against the
// referral decider serve runs; ctx bounds the test's calls.
func useCaseRig(t *testing.T) (context.Context, *engine.Engine) {
	t.Helper()
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	key, err := node.Store.ChainKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := wiring.Build(wiring.Config{Store: node.Store, Log: slog.New(slog.DiscardHandler), ChainKey: key, NoViews: true})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, n.Engine
}

// viewsRig is useCaseRig with production's live views running too, for
// the queries; ctx bounds the test's calls.
func viewsRig(t *testing.T) (context.Context, *wiring.Node) {
	t.Helper()
	node := storetest.Start(t, storetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	n, err := wiring.Build(wiring.Config{Store: node.Store, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(runCtx, wiring.Views); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return ctx, n
}
