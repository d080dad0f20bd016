package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// EventsStream is the stream of domain events: every commit of every
// aggregate, in one global order.
const EventsStream = "NTS_EVENTS"

// Config of the store's streams.
type Config struct {
	// Replicas of each stream: 1 embedded, 3 in a cluster.
	Replicas int
	// DuplicateWindow is how long the server remembers message ids. It only
	// has to cover concurrent retries of one command: the command's outcome
	// is found in the aggregate's history for ever after (see engine).
	DuplicateWindow time.Duration
	// MaxBytes caps the events stream (0: no cap). When it is reached the
	// server refuses new writes; it never discards history.
	MaxBytes int64
	// LoadConns is how many NATS connections loads are spread over, round
	// robin: the one the store is opened on and LoadConns-1 more that Open
	// makes with its options (0 or 1: that one alone). Store.Close closes
	// the extra ones. See DefaultLoadConns.
	LoadConns int
	// AppendConns is how many NATS connections appends are spread over,
	// round robin, as LoadConns does for loads. See DefaultAppendConns.
	AppendConns int
	// Tamperable creates the events stream without DenyDelete and
	// DenyPurge. For tests that simulate tampering done outside the API (on
	// disk, or in a restored backup) only: the server never lets a stream
	// created with them drop them.
	Tamperable bool
}

// Store appends to and reads from the events stream.
type Store struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	stream    jetstream.Stream
	timers    jetstream.Stream
	public    jetstream.Stream
	parked    jetstream.Stream
	snapshots jetstream.ObjectStore
	// snapshotsMu guards snapshots, opened late by snapshotBucket.
	snapshotsMu sync.Mutex
	replicas    int
	// main is the store's own connection as loads use it; loads spreads
	// them over main and the extra connections of Config.LoadConns.
	main  loadConn
	loads loadPool
	// appends spreads appends over the store's connection and the extra
	// ones of Config.AppendConns.
	appends appendPool
	// perLoadSub: the old way, a subscription per load; kept only while
	// measuring (export_test.go).
	perLoadSub bool

	// Consumers is how the durable consumers treat failing handlers: set it
	// before starting them.
	Consumers ConsumerPolicy
	handlers  sync.Map // durable name -> *handler, for replaying parked messages
	replaced  sync.Map // durable name -> the one that took over from it (TakeOver)
	// Storage, if set, asks the server under the store whether it can
	// write (Embedded.CheckStorage): readiness then knows of a full disk
	// from the server itself, at once, and a failed append says why.
	// Set it before the store is used.
	Storage  func() error
	writes   writeHealth
	restarts restarts
	decoded  decodedCache
	reads    readsStream
	keys     *keyring
}

// Stored is one commit as it lies in the stream.
type Stored struct {
	Sequence uint64
	Subject  string
	Time     time.Time // when the server stored it
	Commit   events.Commit
	// Err is set by Follow when the message does not decode; Commit is then
	// empty. Events of unknown types are not an error: they decode with an
	// events.Unknown payload.
	Err error
	// Raw is the message as stored, for the chain verifier.
	Raw []byte
	// MsgID is the message id the commit was written under (Nats-Msg-Id),
	// as Load, LoadAfter and LoadAll read it: how the engine finds the
	// first copy of a command that an atomic batch's duplicate answer does
	// not name. Empty on commits read any other way (Follow, ReadRange,
	// the consumers).
	MsgID string
}

// A Stored read from the store may be shared with other readers in the
// process (see decodedCache): its commit, events and payloads are read-only.

// Open creates or updates the streams the engine needs (idempotent: every
// instance does it on start) and returns a store over them.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = 10 * time.Minute
	}
	sc := jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "ntsflow domain events: one message per command (a commit), one subject per aggregate",
		Subjects:    []string{events.SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		// A limit refuses new writes; it never throws history away.
		Discard:    jetstream.DiscardNew,
		MaxBytes:   orUnlimited(cfg.MaxBytes),
		MaxMsgs:    -1,
		MaxAge:     0,
		Duplicates: cfg.DuplicateWindow,
		// Direct get serves Load in one round trip.
		AllowDirect: true,
		// A command that two aggregates decide together (an allocation takes
		// the region's rota slot and allocates the referral) lands on both
		// subjects all or nothing: see AppendAtomic.
		AllowAtomicPublish: true,
		// The log is the record: no message is deleted and the stream is
		// never purged through the API.
		DenyDelete: !cfg.Tamperable,
		DenyPurge:  !cfg.Tamperable,
	}
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("create stream %s with %d replicas: %w%s", EventsStream, cfg.Replicas, unavailable(err), replicasHint(err))
	}
	timers, err := ensureTimers(ctx, js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	public, err := ensurePublic(ctx, js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	parked, err := ensureParked(ctx, js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	obs, err := ensureSnapshots(ctx, js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	extra, err := openLoadConns(nc, cfg.LoadConns)
	if err != nil {
		return nil, err
	}
	st := &Store{nc: nc, js: js, stream: s, timers: timers, public: public, parked: parked, snapshots: obs, replicas: cfg.Replicas, main: loadConn{nc: nc, name: nc.Opts.Name}}
	st.loads.extra = extra
	if err := st.appends.open(nc, cfg.AppendConns); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// replicasHint explains the two ways a stream's replica count can be wrong
// for the server it is asked of.
func replicasHint(err error) string {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch apiErr.ErrorCode {
	case errCodeReplicasNotSupported:
		return " (this NATS server is not a cluster: use 1 replica)"
	case errCodeNoSuitablePeers, errCodeInsufficientRes:
		return " (the cluster has fewer JetStream servers than replicas asked for, or they lack room)"
	}
	return ""
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// JetStream exposes the client to the other parts of this package's shell
// that need it (timers, health checks).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Conn is the NATS connection under the store.
func (s *Store) Conn() *nats.Conn { return s.nc }

// Appended is the outcome of an append.
type Appended struct {
	Sequence uint64
	// Duplicate is true when the server had already stored a message with
	// this id: nothing new was written, and Sequence is the first one's.
	Duplicate bool
}

// Append stores one commit on subject, if and only if the subject's last
// sequence is still expected (0: the subject is empty). The server checks
// it, so two writers cannot both win. msgID, if set, lets the server drop a
// second copy of the same commit.
//
// Errors: *ConflictError when the subject has moved; ErrUnavailable when the
// server could not take the write. In both cases nothing was written.
func (s *Store) Append(ctx context.Context, subject string, expected uint64, msgID string, c events.Commit) (Appended, error) {
	data, err := events.EncodeCommit(c)
	if err != nil {
		return Appended{}, err
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(expected), jetstream.WithExpectStream(EventsStream)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if err := s.refuseWhileFailing(); err != nil {
		return Appended{}, fmt.Errorf("append to %s: %w", subject, err)
	}
	ack, err := s.appendJS().PublishMsg(ctx, msg, opts...)
	if err != nil {
		if wrongLastSequence(err) {
			s.writes.note(nil) // the store took the request and answered
			return Appended{}, &ConflictError{Subject: subject, Expected: expected}
		}
		return Appended{}, fmt.Errorf("append to %s: %w", subject, s.writeFailed(err))
	}
	s.writes.note(nil)
	return Appended{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

func unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// directGetRequest is the server's batched direct get (JSApiMsgGetRequest).
type directGetRequest struct {
	Seq      uint64 `json:"seq"`
	NextFor  string `json:"next_by_subj"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// loadBatch is how many messages one direct get asks for. A referral has
// tens of commits; the loop below handles more.
const loadBatch = 256

// Load reads every commit on one subject, in order, with the server's
// batched direct get: one request and one stream of replies per 256 commits,
// instead of creating a consumer per load (see BENCHMARKS.md).
// An empty subject loads as no commits and no error.
//
// Load reads its writes: it returns at least every commit acknowledged
// before it was called. On a replicated stream a direct get may be
// answered by a follower that has not yet applied the latest commits (the
// server lets followers answer once they are 90% caught up), which would
// show a referral just received as unknown, or a version already passed.
// So there Load first asks the stream's leader for the subject's last
// sequence and reads until it has it.
func (s *Store) Load(ctx context.Context, subject string) ([]Stored, error) {
	return s.LoadAfter(ctx, subject, nil)
}

// LoadAfter is Load for a caller that already holds the subject's first
// commits (known, as an earlier Load returned them): it reads only what
// came after them and returns known followed by that. A subject's commits
// never change once stored, so the result is what Load would return, with
// the same guarantee (every commit acknowledged before the call), at the
// cost of reading and decoding only the new ones. known is not modified.
func (s *Store) LoadAfter(ctx context.Context, subject string, known []Stored) ([]Stored, error) {
	out, err := s.loadAll(ctx, subject, known)
	if err != nil {
		return nil, err
	}
	if err := unvoidedCorrupt(out); err != nil {
		return nil, fmt.Errorf("load %s: %w", subject, err)
	}
	return out, nil
}

// LoadFromAnyReplica is Load without its guarantee on a replicated stream:
// whichever replica answers the direct get answers, and a follower may not
// yet hold the last commits. It saves Load's request to the stream's
// leader, a round trip through the server's JetStream API that cold loads
// queued on (issue 25, the R3 cluster). Only for a caller that decides on
// what it reads and appends expecting its last sequence, as the engine
// does on what it caches: the server then refuses an append decided on a
// stale read, and the caller loads again with Load. On one replica it is
// Load.
func (s *Store) LoadFromAnyReplica(ctx context.Context, subject string) ([]Stored, error) {
	if s.replicas <= 1 {
		return s.LoadAfter(ctx, subject, nil)
	}
	out, err := s.load(ctx, subject, nil, false)
	if err != nil {
		return nil, err
	}
	if err := unvoidedCorrupt(out); err != nil {
		return nil, fmt.Errorf("load %s: %w", subject, err)
	}
	return out, nil
}

// Replicated says whether the events stream has more than one replica,
// so that LoadFromAnyReplica saves anything.
func (s *Store) Replicated() bool { return s.replicas > 1 }

// LoadAll is Load for those who must see a subject that holds messages
// that do not decode (the void command, the views looking for a void):
// such a message comes back with its Err set and an empty commit, instead
// of failing the load.
func (s *Store) LoadAll(ctx context.Context, subject string) ([]Stored, error) {
	return s.loadAll(ctx, subject, nil)
}

func (s *Store) loadAll(ctx context.Context, subject string, known []Stored) ([]Stored, error) {
	return s.load(ctx, subject, known, true)
}

// load reads subject's commits after known; fromLeader makes it read, on a
// replicated stream, up to the last sequence the leader holds.
func (s *Store) load(ctx context.Context, subject string, known []Stored, fromLeader bool) ([]Stored, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	lc := s.loadConn()
	var want uint64
	if s.replicas > 1 && fromLeader {
		var err error
		if want, err = s.leaderLastSequence(ctx, lc.nc, subject); err != nil {
			return nil, fmt.Errorf("load %s on connection %q: %w", subject, lc.name, err)
		}
	}
	if want > 0 && LastSequenceOf(known) >= want {
		return known, nil // the leader has nothing newer
	}
	next, inbox, done, err := s.replyInbox(lc)
	if err != nil {
		return nil, fmt.Errorf("load %s on connection %q: %w", subject, lc.name, unavailable(err))
	}
	defer done()

	out := slices.Clip(known)
	for attempt := 1; ; attempt++ {
		if out, err = s.directGet(ctx, lc.nc, next, inbox, subject, out); err != nil {
			return nil, fmt.Errorf("load %s on connection %q: %w", subject, lc.name, err)
		}
		if LastSequenceOf(out) >= want {
			return out, nil
		}
		// A follower behind the leader answered: ask again from where it
		// stopped (the next request may reach another replica, and this one
		// catches up within milliseconds).
		if attempt == staleRetries {
			return nil, fmt.Errorf("load %s: %w: replicas answered up to sequence %d, the leader has %d", subject, ErrUnavailable, LastSequenceOf(out), want)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("load %s: %w", subject, unavailable(ctx.Err()))
		case <-time.After(time.Duration(attempt) * 2 * time.Millisecond):
		}
	}
}

// staleRetries bounds how often Load asks again when a lagging replica
// answered (about a second and a half in all).
const staleRetries = 40

// LastSequenceOf is the stream sequence of the last of an aggregate's
// loaded commits (0 when there are none): the version the server checks an
// append against.
func LastSequenceOf(stored []Stored) uint64 {
	if len(stored) == 0 {
		return 0
	}
	return stored[len(stored)-1].Sequence
}

// directGet appends to out the commits on subject after out's last, asking
// whichever server answers direct gets.
func (s *Store) directGet(ctx context.Context, nc *nats.Conn, next func(context.Context) (*nats.Msg, error), inbox, subject string, out []Stored) ([]Stored, error) {
	from := LastSequenceOf(out) + 1
	for {
		req, _ := json.Marshal(directGetRequest{Seq: from, NextFor: subject, Batch: loadBatch})
		if err := nc.PublishRequest("$JS.API.DIRECT.GET."+EventsStream, inbox, req); err != nil {
			return nil, unavailable(err)
		}
		more := false
		for {
			m, err := next(ctx)
			if err != nil {
				return nil, unavailable(err)
			}
			if status := m.Header.Get("Status"); status != "" {
				if status == "404" { // nothing (more) on the subject
					return out, nil
				}
				if status != "204" {
					return nil, fmt.Errorf("%w: direct get answered %s %s", ErrUnavailable, status, m.Header.Get("Description"))
				}
				// End of batch: the server says how many remain.
				more = m.Header.Get("Nats-Num-Pending") != "0" && m.Header.Get("Nats-Num-Pending") != ""
				break
			}
			st, err := s.storedFromHeaders(m.Header, m.Data)
			if _, corrupt := errors.AsType[*CorruptError](err); corrupt {
				// Kept, not returned: a void later on the subject may name
				// it (LoadAfter decides once it has read them all).
				st.Err = err
			} else if err != nil {
				return nil, err
			}
			out = append(out, st)
			from = st.Sequence + 1
		}
		if !more {
			return out, nil
		}
	}
}

// replyInbox gives a load the subject its direct gets are answered on and
// a way to read the answers; done releases them.
func (s *Store) replyInbox(lc *loadConn) (next func(context.Context) (*nats.Msg, error), inbox string, done func(), err error) {
	if s.perLoadSub {
		inbox = lc.nc.NewInbox()
		sub, err := lc.nc.SubscribeSync(inbox)
		if err != nil {
			return nil, "", nil, err
		}
		return sub.NextMsgWithContext, inbox, func() { sub.Unsubscribe() }, nil
	}
	inbox, ch, done, err := lc.replies.open(lc.nc)
	if err != nil {
		return nil, "", nil, err
	}
	return func(ctx context.Context) (*nats.Msg, error) {
		select {
		case m := <-ch:
			return m, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}, inbox, done, nil
}

// leaderLastSequence asks the stream's leader (the non-direct message get,
// which only the leader answers) for the last sequence on subject; 0 when
// the subject is empty.
func (s *Store) leaderLastSequence(ctx context.Context, nc *nats.Conn, subject string) (uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
	m, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+EventsStream, req)
	if err != nil {
		return 0, unavailable(err)
	}
	var res struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &res); err != nil {
		return 0, fmt.Errorf("%w: leader's answer: %v", ErrUnavailable, err)
	}
	switch {
	case res.Error != nil && res.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, nil
	case res.Error != nil:
		return 0, unavailable(res.Error)
	case res.Message == nil:
		return 0, fmt.Errorf("%w: leader's answer has no message", ErrUnavailable)
	}
	return res.Message.Seq, nil
}

func (s *Store) storedFromHeaders(h nats.Header, data []byte) (Stored, error) {
	seq, err := strconv.ParseUint(h.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return Stored{}, fmt.Errorf("%w: direct get reply without a sequence", ErrUnavailable)
	}
	ts, _ := time.Parse(time.RFC3339Nano, h.Get("Nats-Time-Stamp"))
	st, err := s.decoded.stored(seq, h.Get("Nats-Subject"), ts, data)
	// Set on the copy, not in the shared decoding: a follower that decoded
	// the same commit had no headers to give it.
	st.MsgID = h.Get(jetstream.MsgIDHeader)
	return st, err
}

// storedFrom decodes a stored commit. Unknown event types are not an error
// (they decode as events.Unknown); anything else that does not decode is a
// *CorruptError naming the sequence.
func storedFrom(keys *keyring, seq uint64, subject string, ts time.Time, data []byte) (Stored, error) {
	c, err := events.DecodeCommit(data)
	if err != nil && !errors.Is(err, events.ErrUnknownType) {
		return Stored{Sequence: seq, Subject: subject, Time: ts, Raw: data}, &CorruptError{Sequence: seq, Err: err}
	}
	if c, err = keys.unseal(c); err != nil {
		return Stored{Sequence: seq, Subject: subject, Time: ts, Raw: data}, err
	}
	return Stored{Sequence: seq, Subject: subject, Time: ts, Commit: c, Raw: data}, nil
}

// LastSequence is the stream's last sequence now: how far a reader must
// get to have seen everything written so far.
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, unavailable(err)
	}
	return info.State.LastSeq, nil
}

// Ping checks that the events stream answers and that writes are not
// failing, for readiness probes: when the server reports it cannot write
// (Storage), or after an append failed (a full disk, the stream at its
// size limit), it says not ready until the cause has gone.
func (s *Store) Ping(ctx context.Context) error {
	if s.Storage != nil {
		if err := s.Storage(); err != nil {
			return err
		}
	}
	if _, err := s.LastSequence(ctx); err != nil {
		return err
	}
	return s.checkWrites(ctx)
}

// Follow delivers every commit from stream sequence from (1 for the start)
// to fn, in order, and goes on with new ones until ctx ends or fn returns an
// error. It uses an ordered consumer: no server-side state to clean up, and
// a gap or redelivery is detected and repaired by the client library.
func (s *Store) Follow(ctx context.Context, from uint64, fn func(Stored) error) error {
	if from < 1 {
		from = 1
	}
	it, release, err := s.eventsFrom(ctx, from, "follow")
	if err != nil {
		return err
	}
	defer release()
	restarted, unwatch := s.onRestart(it.Stop)
	defer unwatch()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() == nil && restarted() {
				return fmt.Errorf("follow: %w: JetStream started again; following afresh", ErrUnavailable)
			}
			return notNext(ctx, "follow", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		st, err := s.decoded.stored(md.Sequence.Stream, m.Subject(), md.Timestamp, m.Data())
		if errors.Is(err, ErrUnavailable) {
			// A key that cannot be read now: the commit is whole, so the
			// follower stops before it and comes back, never past it.
			return fmt.Errorf("follow: sequence %d: %w", md.Sequence.Stream, err)
		}
		if err != nil {
			st = Stored{Sequence: md.Sequence.Stream, Subject: m.Subject(), Time: md.Timestamp, Err: err, Raw: m.Data()}
		}
		if err := fn(st); err != nil {
			return err
		}
	}
}

// Attach opens the store over streams that already exist, creating
// nothing: for tools (replay, export, verify) that read what an engine
// wrote.
func Attach(ctx context.Context, nc *nats.Conn) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", EventsStream, unavailable(err))
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	st := &Store{nc: nc, js: js, stream: s, replicas: info.Config.Replicas, main: loadConn{nc: nc, name: nc.Opts.Name}}
	if obs, err := js.ObjectStore(ctx, SnapshotBucket); err == nil {
		st.snapshots = obs
	}
	return st, nil
}
