package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// firstOutcome finds the commit a repeated command produced (by key, or at
// one of the given sequences) and rebuilds the outcome the first call had.
func firstOutcome(id string, stored []eventstore.Stored, match func(events.Commit) bool, hash string, atSeq ...uint64) (Outcome, bool, error) {
	version := 0
	voided := eventstore.VoidedIn(stored)
	for _, st := range stored {
		if voided[st.Sequence] {
			continue // as fold counts
		}
		version += len(st.Commit.Events)
		if len(atSeq) > 0 && st.Sequence != atSeq[0] {
			continue
		}
		if !match(st.Commit) {
			continue
		}
		if st.Commit.RequestHash != hash {
			return Outcome{}, true, ErrKeyReused
		}
		return Outcome{AggregateID: id, Version: version, Sequence: st.Sequence, Events: st.Commit.Events, Replayed: true}, true, nil
	}
	return Outcome{}, false, nil
}

// RequestHash fingerprints a command, so a key reused for a different
// request is told apart from an honest retry.
func RequestHash(cmd aggregates.Command) string {
	b, _ := json.Marshal(struct {
		Name string
		Cmd  aggregates.Command
	}{cmd.CommandName(), cmd})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
