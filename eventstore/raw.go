package eventstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The benchmarks measure the engine against JetStream with no engine: a
// publish to the events stream with none of Append's checks (no expected
// subject sequence, no message id, no chain). That baseline is JetStream's
// own call, so it is made here, where JetStream is known; nothing else may
// write this way (the engine's commits go through Append).

// PublishUnchecked publishes data on subject and waits for the stream's
// acknowledgement, returning the sequence it was stored at. For
// measurements only: it bypasses every rule Append keeps.
func (s *Store) PublishUnchecked(ctx context.Context, subject string, data []byte) (uint64, error) {
	ack, err := s.js.Publish(ctx, subject, data)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// PendingAck is an asynchronous publish awaiting its acknowledgement.
type PendingAck struct {
	f jetstream.PubAckFuture
}

// Wait waits for the acknowledgement: nil once the stream has stored the
// message, else why not.
func (p PendingAck) Wait() error {
	select {
	case <-p.f.Ok():
		return nil
	case err := <-p.f.Err():
		return err
	}
}

// PublishUncheckedAsync is PublishUnchecked without waiting: the
// acknowledgement comes on the returned PendingAck. For measurements
// only.
func (s *Store) PublishUncheckedAsync(subject string, data []byte) (PendingAck, error) {
	f, err := s.js.PublishAsync(subject, data)
	if err != nil {
		return PendingAck{}, err
	}
	return PendingAck{f: f}, nil
}

// StreamState is what a stream holds.
type StreamState struct {
	LastSeq, Msgs, Bytes uint64
}

// StreamStates reads the state of the named streams (EventsStream,
// PublicStream, TimersStream...).
func (s *Store) StreamStates(ctx context.Context, names ...string) (map[string]StreamState, error) {
	out := map[string]StreamState{}
	for _, name := range names {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		out[name] = StreamState{LastSeq: info.State.LastSeq, Msgs: info.State.Msgs, Bytes: info.State.Bytes}
	}
	return out, nil
}

// RaftGroups names the raft group of every stream and consumer on a
// cluster ("S-R3F-..." to "stream NTS_EVENTS", "C-R3F-..." to "consumer
// referral-sagas"), so that a raft log on disk can be told apart by
// whose it is. On a single server there are none. For measurements only.
func (s *Store) RaftGroups(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	streams := s.js.ListStreams(ctx)
	for info := range streams.Info() {
		if info.Cluster != nil && info.Cluster.RaftGroup != "" {
			out[info.Cluster.RaftGroup] = "stream " + info.Config.Name
		}
		st, err := s.js.Stream(ctx, info.Config.Name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", info.Config.Name, err)
		}
		consumers := st.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Cluster != nil && ci.Cluster.RaftGroup != "" {
				out[ci.Cluster.RaftGroup] = "consumer " + ci.Name
			}
		}
		if err := consumers.Err(); err != nil {
			return nil, fmt.Errorf("consumers of %s: %w", info.Config.Name, err)
		}
	}
	if err := streams.Err(); err != nil {
		return nil, fmt.Errorf("streams: %w", err)
	}
	return out, nil
}

// RawBurstStream is the scratch stream RawBurst writes to and deletes.
const RawBurstStream = "BENCH_RAW_BURST"

// RawBurst writes n messages of size bytes, each on its own subject, to a
// scratch stream with the events stream's storage and replicas, and deletes
// it after: the raw JetStream floor a burst of n commits is measured
// against. batch > 1 sends them as atomic batches of that many (as the
// deadline sweep writes its breaches), one batch in flight per client;
// batch <= 1 as synchronous publishes from clients goroutines. It returns
// how long the writes took, from the first publish to the last
// acknowledgement. For measurements only.
func (s *Store) RawBurst(ctx context.Context, n, size, clients, batch int) (time.Duration, error) {
	_, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: RawBurstStream, Subjects: []string{"bench.rawburst.>"}, Storage: jetstream.FileStorage,
		Replicas: s.replicas, AllowAtomicPublish: true,
	})
	if err != nil {
		return 0, fmt.Errorf("create stream %s: %w", RawBurstStream, unavailable(err))
	}
	defer s.js.DeleteStream(context.WithoutCancel(ctx), RawBurstStream)
	data := make([]byte, size)
	for i := range data {
		data[i] = 'x'
	}
	batch = max(batch, 1)
	next := make(chan int)
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range next {
				if err := s.rawWrite(ctx, first, min(batch, n-first), data); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; i < n; i += batch {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	took := time.Since(start)
	select {
	case err := <-errs:
		// The feeder may wait on next: drain it so it ends.
		go func() {
			for range next {
			}
		}()
		return 0, err
	default:
	}
	return took, ctx.Err()
}

// rawWrite writes messages first to first+count-1: one synchronous
// publish, or an atomic batch whose last message is acknowledged.
func (s *Store) rawWrite(ctx context.Context, first, count int, data []byte) error {
	if count == 1 {
		_, err := s.js.Publish(ctx, fmt.Sprintf("bench.rawburst.%d", first), data)
		return err
	}
	id := uuid.NewString()
	for i := range count {
		m := &nats.Msg{Subject: fmt.Sprintf("bench.rawburst.%d", first+i), Data: data, Header: nats.Header{}}
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < count-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return err
			}
			continue
		}
		m.Header.Set("Nats-Batch-Commit", "1")
		if _, err := s.js.PublishMsg(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
