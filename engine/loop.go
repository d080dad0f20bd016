package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The one command loop. Handle (one aggregate), HandlePair (two decided
// together) and HandleBatch (many commands written together) are each a
// job for it: a set of parts, one per aggregate written, that land all at
// once or not at all. Whatever a command is made of, it gets the same
// cache rule, idempotency lookup, If-Match check, message id, refusal rule,
// conflict handling, duplicate read-back and OnCommitted hook, because
// there is only this code to give them.

// part is one aggregate's share of a job.
type part struct {
	kind, id, subject string
	// name and hash are the command's, recorded in the part's commit.
	name, hash string
	// meta is the caller's for a part that answers; a part written
	// alongside (a pair's first) carries only who acted and why, so the
	// idempotency key, If-Match and message id stay the answer's.
	meta Meta
	// answers: the part's outcome is a command's answer. Only an answering
	// part is looked up by its idempotency key, checked against If-Match,
	// required to decide something, and told to OnCommitted.
	answers bool
	// held, if set, are commits the caller decided on (a batch item's),
	// tried first as the cache's would be.
	held []eventstore.Stored

	// Filled in by each attempt: the commits decided on, the version they
	// fold to, and what the job's decide made of them.
	stored  []eventstore.Stored
	cached  bool
	version int
	decided []events.Event
	// after gives the part's state with the recorded events applied (set
	// by decide), for OnCommitted.
	after func(recorded []events.Event) any
	// refused is a batch part's own refusal: the rest of the batch goes
	// on without it (job.once).
	refused error

	// The part's answer, once done: written, or found written before.
	out  Outcome
	done bool
}

// job is what the loop runs.
type job struct {
	parts []*part
	// fold folds each part's stored commits and sets its version.
	fold func()
	// decide decides on the folded states at now, setting each part's
	// decided events and after. An error refuses the whole job.
	decide func(now time.Time) error
	// attempts bounds the rounds lost to other writers; backoff spaces
	// them; contended is the answer when every one was lost.
	attempts  int
	backoff   func(attempt int) time.Duration
	contended func(attempt int, last error) error
	// once is a batch's single try on the commits the engine holds: no
	// loads, no retries, a part refused is left out and the rest written.
	// What it leaves unwritten the caller runs as jobs of its own, under
	// the full rules.
	once bool
}

// loop runs a job: load, look up repeats, check If-Match, decide, envelope,
// append (one subject: a plain append with a message id; more: one atomic
// batch), and on a conflict start again from a fresh load, so what is
// written is always decided on the state it lands on.
func (e *Engine) loop(ctx context.Context, j *job) error {
	// The first attempt decides on the commits the engine holds, if any
	// (cache.go): an append on them is checked by the server like any
	// other. An answer the server does not check (a refusal, a stale
	// If-Match) is only given after deciding again on fresh loads.
	fromCache := false
	for _, p := range j.parts {
		if p.held != nil {
			p.stored, p.cached = p.held, true
		} else {
			p.stored, p.cached = e.cached(p.subject)
		}
		if !p.cached {
			// Not held: read from any replica and treat it as the cache
			// is treated (a replica may be behind, as the cache may be).
			stored, ok, err := e.loadForFirstAttempt(ctx, p.subject)
			if err != nil {
				return fmt.Errorf("load %s: %w", p.subject, err)
			}
			p.stored, p.cached = stored, ok
		}
		fromCache = fromCache || p.cached
	}
	for attempt := 1; ; attempt++ {
		for _, p := range j.parts {
			if fromCache && p.cached {
				continue
			}
			var err error
			if p.stored, err = e.load(ctx, p.subject); err != nil {
				return fmt.Errorf("load %s: %w", p.subject, err)
			}
		}
		// Cached or not, another attempt is made on fresh loads of all.
		fresh := func() bool {
			if !fromCache || j.once {
				return false
			}
			fromCache = false
			for _, p := range j.parts {
				p.cached = false
			}
			attempt--
			return true
		}
		if done, err := e.repeated(j); done {
			return err
		}
		now := e.now()
		j.fold()
		err := ifMatch(j)
		if err == nil {
			err = j.decide(now)
		}
		if err != nil {
			if fresh() {
				continue
			}
			return err
		}
		writes, err := e.seal(ctx, j, now)
		if err != nil || len(writes) == 0 {
			return err
		}
		seqs, dup, err := e.write(ctx, writes)
		var conflict *eventstore.ConflictError
		if errors.As(err, &conflict) {
			if j.once {
				return err
			}
			if fresh() {
				// The cache was behind: reload and decide again at once,
				// without counting it as a lost race.
				e.logger().Debug("append conflict on cached commits, reloading", "subject", conflict.Subject, "expected", conflict.Expected)
				continue
			}
			if attempt >= j.attempts {
				return j.contended(attempt, err)
			}
			e.logger().Debug("append conflict, deciding again", "subject", conflict.Subject, "attempt", attempt, "expected", conflict.Expected)
			sleep(ctx, j.backoff(attempt))
			continue
		}
		if errors.Is(err, eventstore.ErrDuplicate) && !j.once {
			// Another copy of this command was written first, in a batch
			// like this one; answer with its outcome.
			return e.readBackBatch(ctx, writes)
		}
		if err != nil {
			return fmt.Errorf("command %s on %s: %w", j.parts[0].name, subjects(j), err)
		}
		if dup {
			// Another copy of this command got there first; answer with
			// its outcome, read back from the log.
			return e.readBack(ctx, writes[0], seqs[0])
		}
		for k, p := range writes {
			e.appended(p.subject, p.stored, seqs[k], commitOf(p))
			if !p.answers {
				continue
			}
			p.out, p.done = Outcome{AggregateID: p.id, Version: p.version + len(p.decided), Sequence: seqs[k], Events: p.decided}, true
			if e.OnCommitted != nil {
				e.OnCommitted(p.after(p.decided), p.decided)
			}
		}
		return nil
	}
}

// repeated finds an answering part's idempotency key in its commits: the
// command ran before, and its first outcome is the answer (a commit found
// in the cache is in the log for good).
func (e *Engine) repeated(j *job) (bool, error) {
	for _, p := range j.parts {
		if !p.answers || p.meta.IdempotencyKey == "" {
			continue
		}
		out, found, err := firstOutcome(p.id, p.stored, func(c events.Commit) bool { return c.IdempotencyKey == p.meta.IdempotencyKey }, p.hash)
		if found {
			p.out, p.done = out, true
			return true, err
		}
	}
	return false, nil
}

func ifMatch(j *job) error {
	for _, p := range j.parts {
		if want := p.meta.ExpectedVersion; p.answers && want != nil && *want != p.version {
			return &StaleError{Kind: p.kind, Expected: *want, Current: p.version}
		}
	}
	return nil
}

// seal envelopes what each part decided and returns the parts to write: a
// part alongside that decided nothing is not written, and in a batch, nor
// is one refused; an answering part that decided nothing is an error.
func (e *Engine) seal(ctx context.Context, j *job, now time.Time) ([]*part, error) {
	var writes []*part
	for _, p := range j.parts {
		if p.refused != nil {
			continue
		}
		if len(p.decided) == 0 {
			if p.answers {
				return nil, fmt.Errorf("command %s on %s: decided nothing for it", p.name, p.subject)
			}
			continue
		}
		evs, err := e.envelope(ctx, p.id, p.decided, now, p.meta, lastHash(p.stored))
		if err != nil {
			return nil, err
		}
		p.decided = evs
		writes = append(writes, p)
	}
	return writes, nil
}

// write appends the parts' commits, each expecting its subject's last
// sequence as decided on. One commit goes as a plain append under the
// command's message id, which the server deduplicates (dup: it had it
// already, at seqs[0]); several go as one atomic batch, each answering
// part's commit under its own message id (a pair's first, written
// alongside, carries none), so that whatever the shape, the id sits on the
// commit that is the answer and a repeat is found there
// (eventstore.AppendAtomic refuses a batch holding an id already stored
// with ErrDuplicate).
func (e *Engine) write(ctx context.Context, writes []*part) (seqs []uint64, dup bool, err error) {
	if len(writes) == 1 {
		p := writes[0]
		var ack eventstore.Appended
		ack, err = e.Store.Append(ctx, p.subject, eventstore.LastSequenceOf(p.stored), msgID(p), commitOf(p))
		seqs, dup = []uint64{ack.Sequence}, ack.Duplicate
	} else {
		ws := make([]eventstore.Write, len(writes))
		for k, p := range writes {
			ws[k] = eventstore.Write{Subject: p.subject, Expected: eventstore.LastSequenceOf(p.stored), Commit: commitOf(p)}
			if p.answers {
				ws[k].MsgID = msgID(p)
			}
		}
		seqs, err = e.Store.AppendAtomic(ctx, ws...)
	}
	if e.OnAppend != nil {
		e.OnAppend(err)
	}
	return seqs, dup, err
}

// msgID is the id the server deduplicates a part's commit on: the
// idempotency key's, else the caller's (a saga's, derived from what it
// reacts to), else the first event's.
func msgID(p *part) string {
	switch {
	case p.meta.IdempotencyKey != "":
		return "cmd:" + p.id + ":" + p.meta.IdempotencyKey
	case p.meta.MsgID != "":
		return p.meta.MsgID
	}
	return p.decided[0].ID
}

func commitOf(p *part) events.Commit {
	return events.Commit{Command: p.name, IdempotencyKey: p.meta.IdempotencyKey, RequestHash: p.hash, Events: p.decided}
}

// readBack answers a duplicate with the first copy's outcome.
func (e *Engine) readBack(ctx context.Context, p *part, seq uint64) error {
	stored, err := e.load(ctx, p.subject)
	if err != nil {
		return err
	}
	out, found, err := firstOutcome(p.id, stored, func(events.Commit) bool { return true }, p.hash, seq)
	if !found {
		return fmt.Errorf("command %s on %s: duplicate of sequence %d, which is not on this subject", p.name, p.subject, seq)
	}
	p.out, p.done = out, true
	return err
}

// readBackBatch answers a batch the server refused as a duplicate with the
// first copy's outcome. The refusal names no sequence, so the first copy is
// found by its message id on the answering part's own subject, where write
// put it (a job that is not a batch's single try has one answering part).
func (e *Engine) readBackBatch(ctx context.Context, writes []*part) error {
	for _, p := range writes {
		if !p.answers {
			continue
		}
		id := msgID(p)
		stored, err := e.load(ctx, p.subject)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(stored, func(st eventstore.Stored) bool { return st.MsgID == id })
		if i < 0 {
			return fmt.Errorf("command %s on %s: the store holds message id %s already, but not on this subject", p.name, p.subject, id)
		}
		return e.readBack(ctx, p, stored[i].Sequence)
	}
	return fmt.Errorf("command %s on %s: refused as a duplicate, with no answering commit to read back", writes[0].name, writes[0].subject)
}

// answer is the part of a command whose outcome is its answer.
func answer(kind, id, subject string, cmd aggregates.Command, meta Meta) *part {
	return &part{kind: kind, id: id, subject: subject, name: cmd.CommandName(), hash: RequestHash(cmd), meta: meta, answers: true}
}

func subjects(j *job) string {
	s := make([]string, len(j.parts))
	for i, p := range j.parts {
		s[i] = p.subject
	}
	return strings.Join(s, " and ")
}
