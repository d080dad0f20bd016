package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
)

// What `ntsflow migrate-personal-data` (package migrate) needs of the
// streams: a working copy of the log on other subjects (two streams cannot
// capture the same subjects), copies that keep every stream sequence, the
// durable consumers' positions, and the swap. The steps and their order,
// which make the swap survive a crash, are the migration's; these are the
// operations, each one request or a bounded loop of them.

// MigrationStream is the working copy the migration writes the log into.
const MigrationStream = "NTS_EVENTS_MIGRATION"

const migrationSubjectPrefix = "nts.migration."

// ToMigrationSubject is an events subject's name in the working copy.
func ToMigrationSubject(subject string) string {
	return migrationSubjectPrefix + strings.TrimPrefix(subject, events.SubjectPrefix)
}

// FromMigrationSubject is ToMigrationSubject's inverse.
func FromMigrationSubject(subject string) string {
	return events.SubjectPrefix + strings.TrimPrefix(subject, migrationSubjectPrefix)
}

// AttachForMigration is Attach for the migration, which must open a store
// whose events stream it retired and had not yet made again when it was
// stopped: with the working copy there, the events stream may be absent
// (CreateEventsStreamAs makes it).
func (c *Conn) AttachForMigration(ctx context.Context) (*Store, error) {
	st, err := Attach(ctx, c.nc)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return st, err
	}
	js, jerr := jetstream.New(c.nc)
	if jerr != nil {
		return nil, jerr
	}
	wk, werr := js.Stream(ctx, MigrationStream)
	if werr != nil {
		return nil, err
	}
	// The other streams are made (OpenKeys) with the working copy's
	// replicas, which are the events stream's.
	return &Store{nc: c.nc, js: js, replicas: wk.CachedInfo().Config.Replicas, main: loadConn{nc: c.nc, name: c.nc.Opts.Name}}, nil
}

// StreamFacts is what the migration reads of a stream to know where it
// stands.
type StreamFacts struct {
	FirstSeq, LastSeq, Msgs, Bytes uint64
	// Deleted counts the messages missing between FirstSeq and LastSeq.
	Deleted  int
	Metadata map[string]string
	// Config is the stream's configuration as the server holds it (JSON),
	// to make another stream like it.
	Config json.RawMessage
}

// Facts reads a stream's facts; nil when it does not exist.
func (s *Store) Facts(ctx context.Context, stream string) (*StreamFacts, error) {
	st, err := s.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	cfg, err := json.Marshal(info.Config)
	if err != nil {
		return nil, err
	}
	return &StreamFacts{FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Msgs: info.State.Msgs, Bytes: info.State.Bytes,
		Deleted: info.State.NumDeleted, Metadata: info.Config.Metadata, Config: cfg}, nil
}

// CreateMigrationStream makes the working copy like the events stream
// whose configuration is like (Facts.Config), on its own subjects, with
// meta as its metadata. Its duplicate window is the shortest the server
// allows: the copy republishes every message id the log holds, in a burst.
func (s *Store) CreateMigrationStream(ctx context.Context, like json.RawMessage, meta map[string]string) error {
	var cfg jetstream.StreamConfig
	if err := json.Unmarshal(like, &cfg); err != nil {
		return err
	}
	cfg.Name, cfg.Subjects = MigrationStream, []string{migrationSubjectPrefix + ">"}
	cfg.Description = "ntsflow migrate-personal-data: the log sealed and re-chained, until it replaces " + EventsStream
	cfg.Duplicates, cfg.Metadata = copyDuplicates, meta
	if _, err := s.js.CreateStream(ctx, cfg); err != nil {
		return fmt.Errorf("create stream %s: %w", MigrationStream, unavailable(err))
	}
	return nil
}

const copyDuplicates = 100 * time.Millisecond

// SetMetadata sets one metadata key of a stream (its configuration is
// otherwise unchanged).
func (s *Store) SetMetadata(ctx context.Context, stream, key, value string) error {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	cfg := info.Config
	if cfg.Metadata == nil {
		cfg.Metadata = map[string]string{}
	}
	cfg.Metadata[key] = value
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("update stream %s: %w", stream, unavailable(err))
	}
	return nil
}

// CreateEventsStreamAs makes the events stream again with the
// configuration it had (Facts.Config), while the copy fills it: a short
// duplicate window, and meta (the migration's marker that it is being
// filled).
// RestoreEventsStream gives it back its own configuration.
func (s *Store) CreateEventsStreamAs(ctx context.Context, cfgJSON json.RawMessage, meta map[string]string) error {
	var cfg jetstream.StreamConfig
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return err
	}
	if cfg.Name != EventsStream {
		return fmt.Errorf("the saved configuration is of stream %q, not %s", cfg.Name, EventsStream)
	}
	cfg.Duplicates = copyDuplicates
	cfg.Metadata = meta
	st, err := s.js.CreateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("create stream %s: %w", EventsStream, unavailable(err))
	}
	s.stream, s.replicas = st, cfg.Replicas
	return nil
}

// RestoreEventsStream gives the events stream the configuration it had
// (Facts.Config) once filled.
func (s *Store) RestoreEventsStream(ctx context.Context, cfgJSON json.RawMessage) error {
	var cfg jetstream.StreamConfig
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return err
	}
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("update stream %s: %w", EventsStream, unavailable(err))
	}
	return nil
}

// DeleteStream deletes a whole stream (the events stream's own DenyDelete
// is about its messages: the stream can go). Absent already is no error.
func (s *Store) DeleteStream(ctx context.Context, stream string) error {
	err := s.js.DeleteStream(ctx, stream)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete stream %s: %w", stream, unavailable(err))
	}
	return nil
}

// DeleteSnapshots deletes the views' snapshots, bucket and all, so that
// the views are built again from the log; the engine makes the bucket
// again when it starts.
func (s *Store) DeleteSnapshots(ctx context.Context) error {
	err := s.js.DeleteObjectStore(ctx, SnapshotBucket)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete the views' snapshots: %w", unavailable(err))
	}
	s.snapshotsMu.Lock()
	s.snapshots = nil
	s.snapshotsMu.Unlock()
	return nil
}

// Message is one stored message as the copy needs it.
type Message struct {
	Sequence uint64
	Subject  string
	// MsgID is the id the message was written under (Nats-Msg-Id), which
	// the engine reads back (Stored.MsgID); the copy keeps it.
	MsgID string
	Data  []byte
}

// Messages delivers the messages of stream with sequences from..to, in
// order, as stored.
func (s *Store) Messages(ctx context.Context, stream string, from, to uint64, fn func(Message) error) error {
	if to < from {
		return nil
	}
	it, release, err := s.streamFrom(ctx, stream, max(from, 1), "read "+stream, jetstream.PullMaxMessages(512))
	if err != nil {
		return err
	}
	defer release()
	for {
		m, err := it.Next()
		if err != nil {
			return notNext(ctx, "read "+stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		seq := md.Sequence.Stream
		if seq > to {
			return nil
		}
		if err := fn(Message{Sequence: seq, Subject: m.Subject(), MsgID: m.Headers().Get(jetstream.MsgIDHeader), Data: m.Data()}); err != nil {
			return err
		}
		if seq == to {
			return nil
		}
	}
}

// SequenceWriter writes messages to a stream at given sequences, many in
// flight: each publish expects the stream's last sequence to be the one
// before its own, so the copy keeps every sequence or stops.
type SequenceWriter struct {
	js      jetstream.JetStream
	stream  string
	pending []pendingWrite
}

type pendingWrite struct {
	seq uint64
	ack jetstream.PubAckFuture
}

// writeWindow bounds the publishes in flight.
const writeWindow = 512

// SequenceWriter writes to stream.
func (s *Store) SequenceWriter(stream string) *SequenceWriter {
	return &SequenceWriter{js: s.js, stream: stream}
}

// Write publishes m at sequence m.Sequence on subject.
func (w *SequenceWriter) Write(ctx context.Context, subject string, m Message) error {
	msg := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
	if m.MsgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, m.MsgID)
	}
	f, err := w.js.PublishMsgAsync(msg, jetstream.WithExpectStream(w.stream), jetstream.WithExpectLastSequence(m.Sequence-1))
	if err != nil {
		return fmt.Errorf("copy sequence %d to %s: %w", m.Sequence, w.stream, unavailable(err))
	}
	w.pending = append(w.pending, pendingWrite{seq: m.Sequence, ack: f})
	if len(w.pending) >= writeWindow {
		return w.settle(ctx, len(w.pending)/2)
	}
	return nil
}

// Flush waits for every write's acknowledgement.
func (w *SequenceWriter) Flush(ctx context.Context) error { return w.settle(ctx, len(w.pending)) }

func (w *SequenceWriter) settle(ctx context.Context, n int) error {
	for _, p := range w.pending[:n] {
		select {
		case ack := <-p.ack.Ok():
			if ack.Duplicate || ack.Sequence != p.seq {
				return fmt.Errorf("copy sequence %d to %s: the server stored it at %d (duplicate: %v): a message id the log holds twice within %v", p.seq, w.stream, ack.Sequence, ack.Duplicate, copyDuplicates)
			}
		case err := <-p.ack.Err():
			return fmt.Errorf("copy sequence %d to %s: %w", p.seq, w.stream, unavailable(err))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.pending = append(w.pending[:0], w.pending[n:]...)
	return nil
}

// ConsumerPosition is a durable consumer as the migration keeps it across
// the swap: its configuration and how far it had acknowledged.
type ConsumerPosition struct {
	Name string `json:"name"`
	// AckFloor is the stream sequence up to which every message it was
	// given is acknowledged.
	AckFloor uint64 `json:"ackFloor"`
	// Config is its configuration as the server held it.
	Config json.RawMessage `json:"config"`
	// InUse: a client is pulling from it now (an engine running).
	InUse bool `json:"-"`
}

// DurableConsumers lists the durable consumers of stream with their
// positions.
func (s *Store) DurableConsumers(ctx context.Context, stream string) ([]ConsumerPosition, error) {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	var out []ConsumerPosition
	list := st.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue // an ordered reader's: gone with its reader
		}
		cfg, err := json.Marshal(info.Config)
		if err != nil {
			return nil, err
		}
		out = append(out, ConsumerPosition{Name: info.Name, AckFloor: info.AckFloor.Stream, Config: cfg, InUse: inUse(info)})
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("list the consumers of %s: %w", stream, unavailable(err))
	}
	return out, nil
}

// RestoreConsumers makes each consumer again on stream with its
// configuration (so the engine, which creates or updates it with its own,
// finds nothing to refuse), then moves it to just after its ack floor: it
// is given next what it had not yet acknowledged, and nothing before.
func (s *Store) RestoreConsumers(ctx context.Context, stream string, list []ConsumerPosition) error {
	st, err := s.js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, unavailable(err))
	}
	for _, p := range list {
		var cfg jetstream.ConsumerConfig
		if err := json.Unmarshal(p.Config, &cfg); err != nil {
			return fmt.Errorf("consumer %s: %w", p.Name, err)
		}
		if _, err := st.CreateOrUpdateConsumer(ctx, cfg); err != nil {
			return fmt.Errorf("consumer %s: %w", p.Name, unavailable(err))
		}
		if _, err := st.ResetConsumerToSequence(ctx, p.Name, p.AckFloor+1); err != nil {
			return fmt.Errorf("move consumer %s to sequence %d: %w", p.Name, p.AckFloor+1, unavailable(err))
		}
	}
	return nil
}

// ConsumerAckFloor is how far a durable consumer of stream has
// acknowledged.
func (s *Store) ConsumerAckFloor(ctx context.Context, stream, durable string) (uint64, error) {
	info, err := s.consumerInfo(ctx, stream, durable)
	if err != nil {
		return 0, err
	}
	return info.AckFloor.Stream, nil
}
