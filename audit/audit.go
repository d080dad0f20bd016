// Package audit is what auditors use: proof that nothing in the log was
// altered (Verify walks every aggregate's HMAC chain and the stream's
// sequence), and the log itself for offline analysis (Export).
//
//ntsflow:shell
package audit

import (
	"context"
	"encoding/json"
	"errors"
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
	// Voided lists the messages operators voided (engine.Void), each with
	// what verify found wrong with it: those findings are not problems,
	// since a void on the record, itself verified, accounts for them.
	Voided  []Voided  `json:"voided"`
	Checked time.Time `json:"checked"`
}

// Voided is one voided message and the void that accounts for it.
type Voided struct {
	Aggregate string `json:"aggregate"`
	// Sequence is the voided message's; VoidSequence the void's.
	Sequence     uint64    `json:"sequence"`
	VoidSequence uint64    `json:"voidSequence"`
	Reason       string    `json:"reason"`
	Problem      string    `json:"problem"`
	Forced       bool      `json:"forced,omitempty"`
	Actor        string    `json:"actor"`
	RecordedAt   time.Time `json:"recordedAt"`
	Findings     []Problem `json:"findings"`
}

// OK reports whether nothing was found wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify reads the whole log in order and checks that no stream sequence
// is missing, that every event's hash is the HMAC of its stored bytes under
// key, and that every event links to the one before it on its aggregate.
// A deleted message shows as a gap and as a broken link on the next event
// of its aggregate; a forged one as an altered event (and a broken link).
func Verify(ctx context.Context, store *eventstore.Store, key []byte, progress func(done, total uint64)) (Report, error) {
	rep := Report{Checked: time.Now().UTC(), Problems: []Problem{}, Voided: []Voided{}}
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
		if err == nil && len(raws) == 0 {
			err = errors.New("it holds no events")
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: "corrupt", Aggregate: agg, Sequence: st.Sequence, Detail: "the message is not a commit: " + err.Error()})
			return nil
		}
		before := len(rep.Problems)
		defer func() {
			// A void counts only if it verifies itself: a forged one
			// hides nothing.
			if len(rep.Problems) == before && st.Err == nil {
				rep.Voided = append(rep.Voided, voidsIn(agg, st)...)
			}
		}()
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
		if st.Err != nil && len(rep.Problems) == before {
			// Every hash checks, yet it does not read as a commit: hashed
			// by someone with the key, or wrongly written. No fold can
			// apply it.
			rep.Problems = append(rep.Problems, Problem{Kind: "corrupt", Aggregate: agg, Sequence: st.Sequence, Detail: "the message does not decode: " + st.Err.Error()})
		}
		if progress != nil && time.Since(lastReport) > time.Second {
			lastReport = time.Now()
			progress(st.Sequence, last)
		}
		return nil
	})
	rep.Aggregates = len(prev)
	settleVoids(&rep)
	if progress != nil {
		progress(rep.LastSeq, last)
	}
	return rep, err
}

func voidsIn(agg string, st eventstore.Stored) []Voided {
	var out []Voided
	for _, e := range st.Commit.Events {
		if v, ok := e.Data.(events.SequenceVoided); ok && v.Sequence > 0 && uint64(v.Sequence) < st.Sequence {
			out = append(out, Voided{Aggregate: agg, Sequence: uint64(v.Sequence), VoidSequence: st.Sequence, Reason: v.Reason, Problem: v.Problem,
				Forced: v.Forced, Actor: e.Who(), RecordedAt: e.RecordedAt, Findings: []Problem{}})
		}
	}
	return out
}

// settleVoids moves what verify found wrong with each voided message from
// the problems to its void. A void accounts only for a message of its own
// aggregate: one naming another's message leaves that one's problems.
func settleVoids(rep *Report) {
	if len(rep.Voided) == 0 {
		return
	}
	type key struct {
		agg string
		seq uint64
	}
	at := map[key]int{}
	for i, v := range rep.Voided {
		at[key{v.Aggregate, v.Sequence}] = i
	}
	kept := rep.Problems[:0]
	for _, p := range rep.Problems {
		if i, ok := at[key{p.Aggregate, p.Sequence}]; ok {
			rep.Voided[i].Findings = append(rep.Voided[i].Findings, p)
			continue
		}
		kept = append(kept, p)
	}
	rep.Problems = kept
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
