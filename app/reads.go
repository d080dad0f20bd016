package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The read audit: every read of a child's record, by whom, when and why.

// What a read of a child's record read, as the read audit names it.
const (
	ViewReferral      = "referral"       // the referral: API GET, the console's page
	ViewHistory       = "history"        // every event of it: API history, the audit page
	ViewSubjectAccess = "subject-access" // everything held, exported
	ViewJourney       = "journey"        // the child's journey: the console's page and its care forms
)

// MaxReadReason bounds a reader's reason, in characters.
const MaxReadReason = 500

// ReadPolicy says on which views a reader must say why they read.
type ReadPolicy struct {
	ReasonFor map[string]bool
}

// DefaultReadPolicy asks for a reason when everything held about a child
// is exported. The referral and its history are read in the course of the
// child's case, many times a day, and asking each time would only teach
// people to type anything; a council may ask for more with its own policy.
func DefaultReadPolicy() ReadPolicy {
	return ReadPolicy{ReasonFor: map[string]bool{ViewSubjectAccess: true}}
}

// ReasonNeeded: the read policy asks for a reason on this view and none
// (or an unreadable one) was given.
type ReasonNeeded struct {
	View    string
	Problem string // what is wrong with the reason given, if one was
}

func (e *ReasonNeeded) Error() string {
	if e.Problem != "" {
		return "the reason " + e.Problem + fmt.Sprintf(" (at most %d characters on one line)", MaxReadReason)
	}
	return "say why you are reading this child's " + viewWords[e.View] + ": the read audit records it"
}

var viewWords = map[string]string{ViewReferral: "referral", ViewHistory: "history", ViewSubjectAccess: "whole record"}

// ErrReadNotRecorded: the read could not be written to the read audit, so
// it was not served. A read nobody can account for is the one thing the
// audit exists to prevent.
var ErrReadNotRecorded = errors.New("this read could not be recorded in the read audit, so it was not served; try again")

// ErrNoReadAudit: this instance was built without a read audit, so it has
// none to answer from (wiring.Build always makes one).
var ErrNoReadAudit = errors.New("this instance keeps no read audit")

// ReadLog is what the read audit needs of the store (eventstore.Store).
type ReadLog interface {
	AppendReads(ctx context.Context, recs []eventstore.ReadRecord) ([]eventstore.ReadRecord, error)
	Reads(ctx context.Context, f eventstore.ReadsFilter) ([]eventstore.ReadRecord, error)
}

// ReadAudit records reads off the path of the request: Record queues the
// record and returns; Run writes the queue to the store in batches. The
// queue is bounded; when it is full (the writer is behind or not running)
// a read's record is written on the reader's own time instead, counted and
// logged, so nothing is dropped; if even that fails the read is refused.
// Commands never pass through here.
type ReadAudit struct {
	Log    ReadLog
	Logger *slog.Logger
	Policy ReadPolicy
	Now    func() time.Time
	// Queue bounds the records waiting to be written (default 4096);
	// Batch how many are written at once (default 256).
	Queue, Batch int

	once sync.Once
	q    chan eventstore.ReadRecord
	// What happened to the records, for the metrics and the tests.
	queued, written, direct, failed atomic.Uint64
	// directWritten and refused split direct: stored on the reader's
	// time, or not, and the read refused.
	directWritten, refused atomic.Uint64
}

// ReadStats counts what the read audit did with its records.
type ReadStats struct {
	// Queued went through the queue; Written were stored by the writer;
	// Direct were written on the reader's time because the queue was full;
	// Failed could not be written at all (their reads were refused, or,
	// at shutdown, their records were logged in full instead).
	Queued, Written, Direct, Failed uint64
	// Recorded are the records stored, by the writer or on the reader's
	// time; Refused the reads refused because their record could not be
	// stored (answered read_not_recorded), a part of Failed.
	Recorded, Refused uint64
	// Waiting are in the queue now.
	Waiting int
}

// Stats reports the counts so far.
func (a *ReadAudit) Stats() ReadStats {
	w, dw := a.written.Load(), a.directWritten.Load()
	return ReadStats{Queued: a.queued.Load(), Written: w, Direct: a.direct.Load(), Failed: a.failed.Load(),
		Recorded: w + dw, Refused: a.refused.Load(), Waiting: len(a.queue())}
}

func (a *ReadAudit) queue() chan eventstore.ReadRecord {
	a.once.Do(func() {
		n := a.Queue
		if n <= 0 {
			n = 4096
		}
		a.q = make(chan eventstore.ReadRecord, n)
	})
	return a.q
}

func (a *ReadAudit) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// ReadOf is one read, as a face knows it.
type ReadOf struct {
	View   string
	Reason string
	// Person is who within the caller's identity says they read (X-Actor),
	// or the reader's name with authentication off.
	Person string
}

// Record records that the caller read the referral's view. A nil audit
// records nothing (a node built without one).
func (a *ReadAudit) Record(ctx context.Context, c Caller, referral string, of ReadOf) error {
	if a == nil {
		return nil
	}
	if of.Reason != "" {
		if p := aggregates.TextProblem(of.Reason, MaxReadReason); p != "" {
			return &ReasonNeeded{View: of.View, Problem: p}
		}
	} else if a.Policy.ReasonFor[of.View] {
		return &ReasonNeeded{View: of.View}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	rec := eventstore.ReadRecord{ID: readID(), At: now().UTC(), Referral: referral, Actor: "anonymous", Person: of.Person, View: of.View, Reason: of.Reason}
	if c.On {
		rec.Actor, rec.Role = c.P.Name, c.P.Role()
	} else if of.Person != "" {
		rec.Actor, rec.Person = of.Person, ""
	}
	select {
	case a.queue() <- rec:
		a.queued.Add(1)
		return nil
	default:
	}
	a.direct.Add(1)
	a.logger().Warn("read audit: the queue is full; writing this read's record before serving it", "referral", referral, "waiting", len(a.queue()))
	if _, err := a.Log.AppendReads(ctx, []eventstore.ReadRecord{rec}); err != nil {
		a.failed.Add(1)
		a.refused.Add(1)
		a.logger().Error("read audit: a read's record could not be written; the read was refused", "referral", referral, "actor", rec.Actor, "view", rec.View, "err", err)
		return fmt.Errorf("%w: %v", ErrReadNotRecorded, err)
	}
	a.directWritten.Add(1)
	return nil
}

func readID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Run writes the queued records until ctx ends, then what is still queued
// (for at most Drain). A batch the store refuses is retried, not skipped.
func (a *ReadAudit) Run(ctx context.Context) error {
	q := a.queue()
	batch := a.Batch
	if batch <= 0 {
		batch = 256
	}
	var recs []eventstore.ReadRecord
	for {
		select {
		case <-ctx.Done():
			return a.drain()
		case r := <-q:
			recs = append(recs[:0], r)
		}
	more:
		for len(recs) < batch {
			select {
			case r := <-q:
				recs = append(recs, r)
			default:
				break more
			}
		}
		if left := a.write(ctx, recs); len(left) > 0 {
			// ctx ended while the store refused: drain keeps them.
			a.lost(left)
			return a.drain()
		}
	}
}

// Drain bounds how long a stopping writer spends on the queue.
const Drain = 5 * time.Second

func (a *ReadAudit) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), Drain)
	defer cancel()
	var recs []eventstore.ReadRecord
	for {
		select {
		case r := <-a.queue():
			recs = append(recs, r)
			continue
		default:
		}
		break
	}
	if left := a.write(ctx, recs); len(left) > 0 {
		a.lost(left)
		return fmt.Errorf("read audit: %d records could not be written before stopping; they are in the log", len(left))
	}
	return nil
}

// write stores recs, retrying what the store refuses until ctx ends; it
// returns what it could not store.
func (a *ReadAudit) write(ctx context.Context, recs []eventstore.ReadRecord) []eventstore.ReadRecord {
	pause := 50 * time.Millisecond
	for len(recs) > 0 {
		n := len(recs)
		left, err := a.Log.AppendReads(ctx, recs)
		a.written.Add(uint64(n - len(left)))
		if err == nil {
			return nil
		}
		recs = left
		a.logger().Warn("read audit: the store refused records; retrying", "records", len(recs), "err", err)
		select {
		case <-ctx.Done():
			return recs
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
	return nil
}

// lost logs, in full, records that could not be written: the log is then
// where they are kept, and the count says how many.
func (a *ReadAudit) lost(recs []eventstore.ReadRecord) {
	a.failed.Add(uint64(len(recs)))
	for _, r := range recs {
		a.logger().Error("read audit: record not written", "id", r.ID, "at", r.At, "referral", r.Referral, "actor", r.Actor, "person", r.Person, "role", r.Role, "view", r.View, "reason", r.Reason)
	}
}

// Read reads a referral the caller may see, as Referral does, and records
// the read in the read audit before returning it.
func (u Referrals) Read(ctx context.Context, c Caller, id string, of ReadOf) (aggregates.Referral, []eventstore.Stored, error) {
	ref, stored, err := u.Referral(ctx, c, id)
	if err != nil {
		return ref, nil, err
	}
	if err := u.Reads.Record(ctx, c, id, of); err != nil {
		return aggregates.Referral{}, nil, err
	}
	return ref, stored, nil
}

// ReadsQuery asks the read audit about one child (a referral), one reader
// (a token's name), or both.
type ReadsQuery struct {
	Referral, Reader string
	Limit            int // newest first, at most MaxReads (default 200)
}

// MaxReads bounds one answer of the read audit.
const MaxReads = 5000

// Reads answers the data protection officer's question: who read this
// child's record, or what did this person read. Newest first.
func (a *ReadAudit) Reads(ctx context.Context, c Caller, q ReadsQuery) ([]eventstore.ReadRecord, error) {
	if !c.ProtectsData() {
		return nil, c.forbidden("read the read audit; the data protection officer does", "")
	}
	if a == nil {
		return nil, ErrNoReadAudit
	}
	if q.Referral == "" && q.Reader == "" {
		return nil, &aggregates.Refusal{Kind: aggregates.Invalid, Code: aggregates.CodeInvalidValue, Field: "referral", Message: "name a referral (whose record was read) or a reader (who read), or both"}
	}
	if q.Limit <= 0 {
		q.Limit = 200
	}
	if q.Limit > MaxReads {
		return nil, &aggregates.Refusal{Kind: aggregates.Invalid, Code: aggregates.CodeInvalidValue, Field: "limit", Message: fmt.Sprintf("at most %d reads at once", MaxReads)}
	}
	recs, err := a.Log.Reads(ctx, eventstore.ReadsFilter{Referral: q.Referral, Actor: q.Reader, Limit: q.Limit})
	if errors.Is(err, eventstore.ErrBadReadsFilter) {
		return nil, &aggregates.Refusal{Kind: aggregates.Invalid, Code: aggregates.CodeInvalidValue, Field: "referral", Message: "a referral id is 1 to 64 letters, digits, '-' or '_'"}
	}
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, nil
}

// Correct corrects a fact recorded about the child (rectification): by the
// authority that may change the referral, or by the data protection
// officer on a request; which fields each may correct is the decider's.
func (u Referrals) Correct(ctx context.Context, c Caller, id string, cmd aggregates.CorrectChildDetail, meta engine.Meta) (engine.Outcome, error) {
	_, capacity, err := u.corrector(ctx, c, id)
	if err != nil {
		return engine.Outcome{}, err
	}
	cmd.Corrector = capacity
	out, err := u.Engine.Handle(ctx, id, cmd, meta)
	var stale *engine.StaleError
	if errors.As(err, &stale) && stale.Current == 0 {
		return out, ErrNoReferral
	}
	return out, err
}

// corrector loads the referral for a correction by c, and says in which
// capacity c corrects it. The data protection officer reaches a child's
// record on a request without reading referrals otherwise.
func (u Referrals) corrector(ctx context.Context, c Caller, id string) (aggregates.Referral, string, error) {
	if !c.ProtectsData() || !c.On {
		if _, _, err := u.Referral(ctx, c, id); err != nil {
			return aggregates.Referral{}, "", err
		}
	}
	ref, _, err := u.Engine.Load(ctx, id)
	if err != nil {
		return ref, "", err
	}
	capacity, ok := c.Corrector(ref)
	if !ok {
		return ref, "", c.forbidden("correct this child's details; the authority that holds the referral does, or the data protection officer on a request", "")
	}
	return ref, capacity, nil
}

// Correction is what a correction form offers c about the child of
// referral id: the referral as it stands, and the fields c's capacity may
// correct, in aggregates.CorrectableFields' order.
func (u Referrals) Correction(ctx context.Context, c Caller, id string) (aggregates.Referral, []string, error) {
	if !events.ValidID(id) {
		return aggregates.Referral{}, nil, ErrNoReferral
	}
	ref, capacity, err := u.corrector(ctx, c, id)
	if err != nil {
		return ref, nil, err
	}
	if ref.Version == 0 {
		return ref, nil, ErrNoReferral
	}
	var fields []string
	for _, f := range aggregates.CorrectableFields() {
		if slices.Contains(aggregates.Correctable[f], capacity) {
			fields = append(fields, f)
		}
	}
	return ref, fields, nil
}
