package sagarun_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/sagarun"
)

// A fired timer of a kind its saga can never handle (a safeguarding timer
// naming no step) is parked on its first delivery, with words that say
// why, rather than retried until the consumer gives up on it.
func TestRunnerParksATimerOfAKindItCannotHandle(t *testing.T) {
	r := newRig(t, t.TempDir())
	r.safeguardingRunner()
	ctx := context.Background()
	if err := r.node.Store.Schedule(ctx, "safeguarding.m1.1.bogus", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the timer parked", 10*time.Second, func() bool {
		n, err := r.node.Store.ParkedCounts(ctx)
		return err == nil && n[sagarun.SafeguardingTimersConsumer] == 1
	})
	parked, err := r.node.Store.ListParked(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].Deliveries != 1 || !strings.Contains(parked[0].Error, `timer kind "1.bogus" is not known`) {
		t.Fatalf("parked: %+v", parked)
	}
}
