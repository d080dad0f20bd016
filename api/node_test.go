package api_test

import (
	"context"
	"testing"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/wiring"
)

// buildNode puts together, on n's store, the node serve runs
// (wiring.Build), changed only as cfg says; the parts named run until the
// test ends. The tests serve its API alone (node.API.Handler()).
func buildNode(t testing.TB, n *storetest.Node, cfg wiring.Config, parts ...wiring.Part) *wiring.Node {
	t.Helper()
	cfg.Store = n.Store
	node, err := wiring.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { node.Run(ctx, parts...); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return node
}
