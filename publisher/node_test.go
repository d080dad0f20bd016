package publisher_test

import (
	"testing"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/wiring"
)

// testDeadline is the deadline rule the tests' receipts record: due a week
// after receipt, warned a day before.
const testDeadline = `{"version":"nts-test","routes":{"hotel":{"duration":"168h"},"entry-authority":{"duration":"168h"}},"warnBefore":{"duration":"24h"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`

// buildEngine is serve's engine (wiring.Build) on store, with the test's
// deadline rule: the publisher is fed what production writes.
func buildEngine(t testing.TB, store *eventstore.Store) *engine.Engine {
	t.Helper()
	p, err := deadline.ParsePolicy([]byte(testDeadline))
	if err != nil {
		t.Fatal(err)
	}
	node, err := wiring.Build(wiring.Config{Store: store, Log: quiet, Deadline: &p})
	if err != nil {
		t.Fatal(err)
	}
	return node.Engine
}
