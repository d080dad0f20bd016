// Package audit is what auditors use: proof that nothing in the log was
// altered (Verify walks every aggregate's HMAC chain and the stream's
// sequence), and the log itself for offline analysis (Export).
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Kind      string `json:"kind"` // gap, altered, broken-link, corrupt
	Aggregate string `json:"aggregate,omitempty"`
	Sequence  uint64 `json:"sequence"`
	Detail    string `json:"detail"`
}

// Report is Verify's answer.
type Report struct {
	Commits    uint64    `json:"commits"`
	Events     uint64    `json:"events"`
	Aggregates int       `json:"aggregates"`
	LastSeq    uint64    `json:"lastSequence"`
	Problems   []Problem `json:"problems"`
	Checked    time.Time `json:"checked"`
}

// OK reports whether nothing was found wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify reads the whole log in order and checks that no stream sequence
// is missing, that every event's hash is the HMAC of its stored bytes under
// key, and that every event links to the one before it on its aggregate.
// A deleted message shows as a gap and as a broken link on the next event
// of its aggregate; a forged one as an altered event (and a broken link).
func Verify(ctx context.Context, store *eventstore.Store, key []byte, progress func(done, total uint64)) (Report, error) {
	rep := Report{Checked: time.Now().UTC(), Problems: []Problem{}}
	last, err := store.LastSequence(ctx)
	if err != nil {
		return rep, err
	}
	rep.LastSeq = last
	prev := map[string]string{}
	var expect uint64 = 1
	lastReport := time.Now()
	err = store.ReadRange(ctx, 1, last, func(st eventstore.Stored) error {
		agg := strings.TrimPrefix(st.Subject, events.SubjectPrefix)
		if st.Sequence > expect {
			rep.Problems = append(rep.Problems, Problem{Kind: "gap", Aggregate: "", Sequence: expect, Detail: fmt.Sprintf("stream sequences %d to %d are missing: messages were deleted", expect, st.Sequence-1)})
		}
		expect = st.Sequence + 1
		rep.Commits++
		if _, seen := prev[agg]; !seen {
			prev[agg] = ""
		}
		raws, err := events.RawEvents(st.Raw)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: "corrupt", Aggregate: agg, Sequence: st.Sequence, Detail: "the message is not a commit: " + err.Error()})
			return nil
		}
		for i, raw := range raws {
			rep.Events++
			h, err := events.VerifyStored(key, raw, prev[agg])
			switch {
			case err == events.ErrChainHash:
				rep.Problems = append(rep.Problems, Problem{Kind: "altered", Aggregate: agg, Sequence: st.Sequence, Detail: fmt.Sprintf("event %d of the commit: %v", i, err)})
			case err == events.ErrChainLink:
				rep.Problems = append(rep.Problems, Problem{Kind: "broken-link", Aggregate: agg, Sequence: st.Sequence, Detail: fmt.Sprintf("event %d of the commit: %v", i, err)})
			case err != nil:
				rep.Problems = append(rep.Problems, Problem{Kind: "corrupt", Aggregate: agg, Sequence: st.Sequence, Detail: err.Error()})
			}
			prev[agg] = h
		}
		if progress != nil && time.Since(lastReport) > time.Second {
			lastReport = time.Now()
			progress(st.Sequence, last)
		}
		return nil
	})
	rep.Aggregates = len(prev)
	if progress != nil {
		progress(rep.LastSeq, last)
	}
	return rep, err
}

// ExportLine is one event of an export.
type ExportLine struct {
	Sequence uint64 `json:"sequence"`
	Subject  string `json:"subject"`
	events.Event
}

// Export writes, one JSON object per line, every event recorded between
// since and until (zero: unbounded), in stream order. It returns how many
// events it wrote.
func Export(ctx context.Context, store *eventstore.Store, since, until time.Time, w io.Writer, progress func(done, total uint64)) (int, error) {
	last, err := store.LastSequence(ctx)
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	n := 0
	lastReport := time.Now()
	err = store.ReadRange(ctx, 1, last, func(st eventstore.Stored) error {
		if st.Err != nil {
			return nil
		}
		for _, e := range st.Commit.Events {
			if (!since.IsZero() && e.RecordedAt.Before(since)) || (!until.IsZero() && e.RecordedAt.After(until)) {
				continue
			}
			if err := enc.Encode(ExportLine{Sequence: st.Sequence, Subject: st.Subject, Event: e}); err != nil {
				return err
			}
			n++
		}
		if progress != nil && time.Since(lastReport) > time.Second {
			lastReport = time.Now()
			progress(st.Sequence, last)
		}
		return nil
	})
	return n, err
}
