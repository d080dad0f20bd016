package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// An operator's way out of a message that blocks an aggregate or the views
// (one nobody can read: not a commit at all, or an event type this build
// does not know), which keeps the log honest: the message stays where it
// is, and a void event on the same subject says that folds pass over it,
// who said so and why. See docs/runbook.md#message-nobody-can-read.

// VoidRequest names the message to void.
type VoidRequest struct {
	// Subject is the aggregate's subject ("nts.events.referral.<id>", or
	// without the "nts.events." prefix). The message must be on it: naming
	// both guards against a mistyped sequence voiding another referral's.
	Subject string
	// Sequence is the message's stream sequence.
	Sequence uint64
	// Reason is required, in the operator's words.
	Reason string
	// Force voids a message of an unknown event type even when its hash
	// verifies under the chain key, that is when an engine wrote it (a
	// newer build, most likely, whose events this one cannot read).
	Force bool
}

// MaxVoidReason bounds a void's reason, in characters.
const MaxVoidReason = 500

// Refusal codes of the void command.
const (
	CodeNotOnSubject  aggregates.Code = "not_on_subject"
	CodeReadable      aggregates.Code = "readable"
	CodeForceRequired aggregates.Code = "force_required"
	CodeAlreadyVoided aggregates.Code = "already_voided"
)

// VoidOutcome is what a void recorded.
type VoidOutcome struct {
	Subject string `json:"subject"`
	// Voided is the voided message's sequence; Sequence the void's own.
	Voided   uint64       `json:"voided"`
	Sequence uint64       `json:"sequence"`
	Problem  string       `json:"problem"`
	Event    events.Event `json:"event"`
}

// Void records an operator's void of one message on an aggregate's
// subject, after checking that the message is there and that it is one
// nobody can read: a commit this build reads in full is never voided (a
// wrong fact is corrected by a command, on the record).
func Void(ctx context.Context, e *Engine, req VoidRequest, meta Meta) (VoidOutcome, error) {
	subject, id, err := checkVoid(&req)
	if err != nil {
		return VoidOutcome{}, err
	}
	for attempt := 1; ; attempt++ {
		if attempt > e.attempts() {
			return VoidOutcome{}, fmt.Errorf("void stream sequence %d on %s: %w (%d attempts)", req.Sequence, subject, ErrContention, attempt-1)
		}
		stored, err := e.Store.LoadAll(ctx, subject)
		if err != nil {
			return VoidOutcome{}, fmt.Errorf("void: %w", err)
		}
		i := slices.IndexFunc(stored, func(st eventstore.Stored) bool { return st.Sequence == req.Sequence })
		if i < 0 {
			return VoidOutcome{}, notOnSubject(ctx, e.Store, subject, req.Sequence)
		}
		target := stored[i]
		if by := voidOf(stored[i+1:], req.Sequence); by != 0 {
			return VoidOutcome{}, refuse(aggregates.Illegal, CodeAlreadyVoided, "sequence", "stream sequence %d is already voided, by the void at stream sequence %d", req.Sequence, by)
		}
		problem, err := voidable(e.ChainKey, target, req.Force)
		if err != nil {
			return VoidOutcome{}, err
		}
		now := e.now()
		ev := events.New(now, events.SequenceVoided{Sequence: int(req.Sequence), Reason: req.Reason, Problem: problem, Forced: strings.HasPrefix(problem, forcedProblem)})
		evs, err := e.envelope(ctx, id, []events.Event{ev}, now, meta, chainTail(e.ChainKey, stored))
		if err != nil {
			return VoidOutcome{}, err
		}
		commit := events.Commit{Command: "void-sequence", Events: evs}
		ack, err := e.Store.Append(ctx, subject, eventstore.LastSequenceOf(stored), "void:"+strconv.FormatUint(req.Sequence, 10), commit)
		if e.OnAppend != nil {
			e.OnAppend(err)
		}
		if _, conflict := errors.AsType[*eventstore.ConflictError](err); conflict {
			continue // the subject moved: check again against what it holds now
		}
		if err != nil {
			return VoidOutcome{}, fmt.Errorf("void stream sequence %d on %s: %w", req.Sequence, subject, err)
		}
		if ack.Duplicate {
			// Another copy of this void got there first: the next look
			// finds it and says so.
			continue
		}
		e.appended(subject, stored, ack.Sequence, commit)
		e.logger().Warn("operator voided a message", "subject", subject, "voided", req.Sequence, "void_sequence", ack.Sequence, "problem", problem, "reason", req.Reason, "actor", meta.Actor, "forced", req.Force)
		return VoidOutcome{Subject: subject, Voided: req.Sequence, Sequence: ack.Sequence, Problem: problem, Event: evs[0]}, nil
	}
}

func checkVoid(req *VoidRequest) (subject, id string, err error) {
	subject = strings.TrimSpace(req.Subject)
	if !strings.HasPrefix(subject, events.SubjectPrefix) {
		subject = events.SubjectPrefix + subject
	}
	kind, id, ok := strings.Cut(strings.TrimPrefix(subject, events.SubjectPrefix), ".")
	if req.Subject == "" || !ok || kind == "" || !events.ValidID(id) {
		return "", "", refuse(aggregates.Invalid, aggregates.CodeInvalidValue, "subject", "name the aggregate's subject, as nts.events.<kind>.<id> (for a referral, nts.events.referral.<referral id>)")
	}
	if req.Sequence == 0 {
		return "", "", refuse(aggregates.Invalid, aggregates.CodeInvalidValue, "sequence", "name the stream sequence of the message to void (a whole number from 1)")
	}
	if req.Reason == "" {
		return "", "", refuse(aggregates.Invalid, aggregates.CodeInvalidValue, "reason", "say why the message is voided: the reason is kept in the log and shown by verify")
	}
	if p := aggregates.TextProblem(req.Reason, MaxVoidReason); p != "" {
		return "", "", refuse(aggregates.Invalid, aggregates.CodeInvalidValue, "reason", "the reason %s (one line of at most %d characters, kept in the log)", p, MaxVoidReason)
	}
	return subject, id, nil
}

func notOnSubject(ctx context.Context, store Store, subject string, seq uint64) error {
	other, err := store.SubjectAt(ctx, seq)
	if errors.Is(err, eventstore.ErrNoMessage) {
		return refuse(aggregates.Illegal, aggregates.CodeNotFound, "sequence", "the event log holds no message at stream sequence %d", seq)
	}
	if err != nil {
		return err
	}
	return refuse(aggregates.Illegal, CodeNotOnSubject, "sequence", "stream sequence %d is on %s, not on %s: name the subject the message is on", seq, other, subject)
}

// voidOf is the sequence of a void among stored that names seq (0: none).
func voidOf(stored []eventstore.Stored, seq uint64) uint64 {
	for _, st := range stored {
		if slices.Contains(st.Commit.Voids(), seq) {
			return st.Sequence
		}
	}
	return 0
}

const forcedProblem = "written with the chain key, "

// voidable says what is wrong with the message, or refuses to void it.
func voidable(key []byte, st eventstore.Stored, force bool) (string, error) {
	if st.Err != nil {
		return "it does not decode as a commit: " + st.Err.Error(), nil
	}
	var unknown []string
	for _, ev := range st.Commit.Events {
		if _, ok := ev.Data.(events.Unknown); ok {
			unknown = append(unknown, ev.Type)
		}
	}
	if len(unknown) == 0 {
		return "", refuse(aggregates.Illegal, CodeReadable, "sequence", "stream sequence %d is a commit this engine reads (%s); only a message nobody can read is voided: correct a recorded fact with the aggregate's own commands", st.Sequence, st.Commit.Command)
	}
	problem := "it holds event types this engine does not read: " + strings.Join(unknown, ", ")
	if signedWith(key, st.Raw) {
		if !force {
			return "", refuse(aggregates.Illegal, CodeForceRequired, "force", "stream sequence %d holds event types this engine does not read (%s), but its hash verifies: an engine with the chain key wrote it, most likely a newer build, which reads it. Run that build, or void it with force if you mean to discard it", st.Sequence, strings.Join(unknown, ", "))
		}
		problem = forcedProblem + problem
	}
	return problem, nil
}

// signedWith reports whether every event of a stored commit carries a hash
// that is the HMAC of its bytes under key.
func signedWith(key, raw []byte) bool {
	raws, err := events.RawEvents(raw)
	if err != nil || len(raws) == 0 {
		return false
	}
	for _, r := range raws {
		if _, err := events.VerifyStored(key, r, ""); errors.Is(err, events.ErrChainHash) || (err != nil && !errors.Is(err, events.ErrChainLink)) {
			return false
		}
	}
	return true
}

// chainTail is the hash the next event of the subject links to, as verify
// walks the chain (audit.Verify): each stored event's hash in turn, as
// stored, whether or not it verifies; a message that is not a commit at
// all leaves it where it was.
func chainTail(key []byte, stored []eventstore.Stored) string {
	prev := ""
	for _, st := range stored {
		raws, err := events.RawEvents(st.Raw)
		if err != nil {
			continue
		}
		for _, r := range raws {
			prev, _ = events.VerifyStored(key, r, prev)
		}
	}
	return prev
}

func refuse(kind aggregates.Kind, code aggregates.Code, field, format string, args ...any) error {
	return &aggregates.Refusal{Kind: kind, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}
