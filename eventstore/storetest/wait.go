package storetest

import "time"

// WaitFor polls cond until it holds, and reports whether it did within
// the bound: the one way a test waits on something that happens in the
// background (a view's sequence, a consumer's pending count, readiness, a
// metric) instead of pausing for a guessed time. The caller says what
// failed, with what it last saw.
func WaitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
