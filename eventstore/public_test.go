package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// publicOf is the tests' public contract: the commit at sequence q has
// q%3 public messages, "q.i". They carry no message id unless withIDs, so
// the stream's de-duplication cannot hide a message published twice.
func publicOf(st eventstore.Stored, withIDs bool) []eventstore.PublicMessage {
	var out []eventstore.PublicMessage
	for i := range int(st.Sequence % 3) {
		body := fmt.Sprintf("%d.%d", st.Sequence, i)
		m := eventstore.PublicMessage{Subject: events.PublicSubjectPrefix + "test", Data: []byte(body)}
		if withIDs {
			m.MsgID = body
		}
		out = append(out, m)
	}
	return out
}

// wantPublic is what publicOf makes of commits from to to, in order.
func wantPublic(from, to uint64) []string {
	var out []string
	for q := from; q <= to; q++ {
		for _, m := range publicOf(eventstore.Stored{Sequence: q}, false) {
			out = append(out, string(m.Data))
		}
	}
	return out
}

// publicBodies reads the public stream's messages, in order.
func publicBodies(t *testing.T, n *storetest.Node) []string {
	t.Helper()
	var out []string
	for _, m := range storetest.Messages(t, ctx(t), n.Store.JetStream(), eventstore.PublicStream) {
		out = append(out, string(m.Data))
	}
	return out
}

// appendCommits appends k commits, each on a referral of its own, and
// returns the last one's sequence.
func appendCommits(t *testing.T, n *storetest.Node, k int) (last uint64) {
	t.Helper()
	for range k {
		id := fmt.Sprintf("p%d", time.Now().UnixNano())
		a, err := n.Store.Append(ctx(t), events.ReferralSubject(id), 0, "", commit(id, 1))
		if err != nil {
			t.Fatal(err)
		}
		last = a.Sequence
	}
	return last
}

// publishUnlessBroken runs PublishFollowing with publicOf, failing for
// good on the commits broken holds.
func publishUnlessBroken(t *testing.T, n *storetest.Node, broken *sync.Map) *follower {
	t.Helper()
	return runFollower(t, n, "pub", func(st eventstore.Stored) ([]eventstore.PublicMessage, error) {
		if _, bad := broken.Load(st.Sequence); bad {
			return nil, fmt.Errorf("%w: cannot make this one", eventstore.ErrPermanent)
		}
		return publicOf(st, false), nil
	})
}

// follower runs PublishFollowing with publicOf until stopped, noting
// where it stands.
type follower struct {
	mu   sync.Mutex
	at   uint64
	stop func()
}

func startFollower(t *testing.T, n *storetest.Node, name string, withIDs bool) *follower {
	t.Helper()
	return runFollower(t, n, name, func(st eventstore.Stored) ([]eventstore.PublicMessage, error) { return publicOf(st, withIDs), nil })
}

// runFollower runs PublishFollowing with mk until stopped (or the test
// ends), noting the last commit it is done with.
func runFollower(t *testing.T, n *storetest.Node, name string, mk func(eventstore.Stored) ([]eventstore.PublicMessage, error)) *follower {
	t.Helper()
	f := &follower{}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.Store.PublishFollowing(c, eventstore.PublicFollower{
			Name: name,
			Make: mk,
			At: func(seq uint64, _ time.Time) {
				f.mu.Lock()
				f.at = max(f.at, seq)
				f.mu.Unlock()
			},
		})
	}()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("the publisher stopped with %v", err)
			}
		})
	}
	t.Cleanup(f.stop)
	return f
}

func (f *follower) handled(through uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at >= through
}

// The publisher's checkpoint is the public stream: stopped and started
// again, it publishes each commit's messages once, in order, going on
// after the last one published, even from the middle of a commit whose
// messages were cut off; and it leaves no consumer on the server.
func TestThePublisherGoesOnFromThePublicStream(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	last := appendCommits(t, n, 6)
	f := startFollower(t, n, "pub", false)
	waitUntil(t, 20*time.Second, "the first commits published", func() bool { return f.handled(last) })
	f.stop()
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}

	// Commit 7's message and the first of commit 8's two are published,
	// as by a publisher that died between 8's two.
	last = appendCommits(t, n, 6)
	for _, m := range []struct {
		body, source, part string
	}{{"7.0", "7", "1/1"}, {"8.0", "8", "1/2"}} {
		msg := &nats.Msg{Subject: events.PublicSubjectPrefix + "test", Data: []byte(m.body), Header: nats.Header{}}
		msg.Header[eventstore.PublicSourceHeader] = []string{m.source}
		msg.Header[eventstore.PublicPartHeader] = []string{m.part}
		if _, err := n.Store.JetStream().PublishMsg(ctx(t), msg); err != nil {
			t.Fatal(err)
		}
	}
	f = startFollower(t, n, "pub", false)
	waitUntil(t, 20*time.Second, "the later commits published", func() bool { return f.handled(last) })
	f.stop()
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	cs, err := n.Store.DurableConsumers(ctx(t), eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Fatalf("durable consumers left on the events stream: %+v", cs)
	}
}

// Two instances' publishers at once (every instance runs one): each
// message is published once and in order, the one written second refused
// and its publisher going on from what the other wrote.
func TestTwoPublishersPublishEachMessageOnce(t *testing.T) {
	for _, withIDs := range []bool{false, true} {
		t.Run(fmt.Sprint("message ids ", withIDs), func(t *testing.T) { twoPublishers(t, withIDs) })
	}
}

// twoPublishers: without message ids, the fence alone keeps each message
// once (the stream's de-duplication cannot hide a double); with them, as
// in production, the server refuses a batch for a message it has before
// it checks the fence.
func twoPublishers(t *testing.T, withIDs bool) {
	n := storetest.Start(t, storetest.Options{})
	var logs storetest.LogBuffer
	n.Store.Consumers = eventstore.ConsumerPolicy{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	a := startFollower(t, n, "pub", withIDs)
	b := startFollower(t, n, "pub", withIDs)
	var last uint64
	for range 4 {
		last = appendCommits(t, n, 25)
	}
	waitUntil(t, 30*time.Second, "both publishers past the last commit", func() bool { return a.handled(last) && b.handled(last) })
	// A batch refused for a message the other wrote first is a refusal
	// like the fence's, not a failure to write commit by commit.
	if strings.Contains(logs.String(), "duplicate message id") {
		t.Fatalf("a batch refused for a message the other publisher wrote was written one by one:\n%s", logs.String())
	}
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream (%d messages) %v,\nwant (%d) %v", len(got), got, len(want), want)
	}
	// A publisher refused goes on with the reader it has: the server holds
	// the two publishers' readers, not one more per refusal.
	str, err := n.Store.JetStream().Stream(ctx(t), eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers > 2 {
		t.Fatalf("%d consumers on the events stream after two publishers raced, want 2 at most", info.State.Consumers)
	}
}

// A public stream an older version wrote, through its durable consumer:
// the publisher goes on just after that consumer's acknowledgements, and
// removes it once it has published.
func TestThePublisherTakesOverFromItsDurableConsumer(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	old := appendCommits(t, n, 5)
	// The older version: headers without the source.
	c, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() {
		done <- n.Store.ConsumeEvents(c, "pub", events.SubjectPrefix+">", true, func(st eventstore.Stored) error {
			for _, m := range publicOf(st, true) {
				if _, err := n.Store.JetStream().Publish(context.Background(), m.Subject, m.Data, jetstream.WithMsgID(m.MsgID)); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	waitUntil(t, 20*time.Second, "the older version's publisher past the first commits", func() bool {
		info, err := n.Store.JetStream().Consumer(c, eventstore.EventsStream, "pub")
		if err != nil {
			return false
		}
		return info.CachedInfo().AckFloor.Stream >= old
	})
	cancel()
	<-done
	last := appendCommits(t, n, 5)
	// Without message ids: a start before the floor would show.
	f := startFollower(t, n, "pub", false)
	waitUntil(t, 20*time.Second, "the new commits published", func() bool { return f.handled(last) })
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	waitUntil(t, 20*time.Second, "the old consumer removed", func() bool {
		_, err := n.Store.ConsumerPending(ctx(t), eventstore.EventsStream, "pub")
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	if old >= last {
		t.Fatal("no commits after the take-over")
	}
}

// An older version's public stream whose consumer is gone: the publisher
// publishes again from the de-duplication window before the last message,
// and the stream drops what it had.
func TestThePublisherWithoutACheckpointLeansOnDeduplication(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	appendCommits(t, n, 5)
	for q := uint64(1); q <= 5; q++ {
		for _, m := range publicOf(eventstore.Stored{Sequence: q}, true) {
			if _, err := n.Store.JetStream().Publish(ctx(t), m.Subject, m.Data, jetstream.WithMsgID(m.MsgID)); err != nil {
				t.Fatal(err)
			}
		}
	}
	last := appendCommits(t, n, 4)
	f := startFollower(t, n, "pub", true)
	waitUntil(t, 20*time.Second, "the new commits published", func() bool { return f.handled(last) })
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
}

// A commit the publisher cannot handle is parked, and later commits go
// on; replayed, its messages are published, marked as a replay; and a
// publisher started after that goes on from its own last message, not
// the replay's, publishing nothing twice.
func TestAReplayedCommitDoesNotMoveThePublishersCheckpoint(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	n.Store.Consumers = eventstore.ConsumerPolicy{MaxDeliveries: 1, Log: slog.New(slog.DiscardHandler)}
	last := appendCommits(t, n, 6)
	var broken sync.Map // sequence -> true while it fails
	broken.Store(uint64(2), true)
	f := publishUnlessBroken(t, n, &broken)
	waitUntil(t, 20*time.Second, "the commits after the broken one published", func() bool { return f.handled(last) })
	want := slices.DeleteFunc(wantPublic(1, last), func(b string) bool { return b == "2.0" || b == "2.1" })
	if got := publicBodies(t, n); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	broken.Delete(uint64(2))
	res, err := n.Store.ReplayParked(ctx(t), 0)
	if err != nil || len(res) != 1 || res[0].Outcome != "replayed" {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	f.stop()
	replayedAt := len(publicBodies(t, n))

	// Started again: it goes on after commit 6, not after the replay's 2.
	last = appendCommits(t, n, 3)
	f = startFollower(t, n, "pub", false)
	waitUntil(t, 20*time.Second, "the later commits published", func() bool { return f.handled(last) })
	got := publicBodies(t, n)
	want = append(append(want, "2.0", "2.1"), wantPublic(7, last)...)
	if !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	str, err := n.Store.JetStream().Stream(ctx(t), eventstore.PublicStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetMsg(ctx(t), uint64(replayedAt))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(eventstore.PublicReplayedHeader) == "" || m.Header.Get(eventstore.PublicSourceHeader) != strconv.Itoa(2) {
		t.Fatalf("the replayed message's headers: %v", m.Header)
	}
}

// A public stream ahead of the log (the two restored from backups taken
// at different moments) names commits the log does not have: the
// publisher goes on from the log's end, so the next commits are
// published.
func TestAPublicStreamAheadOfTheLogDoesNotHideTheNextCommits(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	first := appendCommits(t, n, 3)
	msg := &nats.Msg{Subject: events.PublicSubjectPrefix + "test", Data: []byte("from a later backup"), Header: nats.Header{}}
	msg.Header[eventstore.PublicSourceHeader] = []string{"100"}
	msg.Header[eventstore.PublicPartHeader] = []string{"1/1"}
	if _, err := n.Store.JetStream().PublishMsg(ctx(t), msg); err != nil {
		t.Fatal(err)
	}
	f := startFollower(t, n, "pub", false)
	waitUntil(t, 20*time.Second, "the publisher started", func() bool { return f.handled(first) })
	last := appendCommits(t, n, 3)
	waitUntil(t, 20*time.Second, "the next commits published", func() bool { return f.handled(last) })
	want := append([]string{"from a later backup"}, wantPublic(first+1, last)...)
	if got := publicBodies(t, n); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
}

// A commit parked last, then replayed: a publisher started after that
// does not publish it again, though no live message follows the replay's;
// and the parked commit counts as done where the publisher says it stands.
func TestAReplayedLastCommitIsNotPublishedAgain(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	n.Store.Consumers = eventstore.ConsumerPolicy{MaxDeliveries: 1, Log: slog.New(slog.DiscardHandler)}
	last := appendCommits(t, n, 5) // commit 5 makes two messages
	var broken sync.Map
	broken.Store(last, true)
	f := publishUnlessBroken(t, n, &broken)
	waitUntil(t, 20*time.Second, "the parked commit counted as done", func() bool { return f.handled(last) })
	broken.Delete(last)
	res, err := n.Store.ReplayParked(ctx(t), 0)
	if err != nil || len(res) != 1 || res[0].Outcome != "replayed" {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	f.stop()

	f = startFollower(t, n, "pub", false)
	next := appendCommits(t, n, 1)
	waitUntil(t, 20*time.Second, "the next commit handled", func() bool { return f.handled(next) })
	if got, want := publicBodies(t, n), wantPublic(1, next); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
}

// A commit whose second message failed to be written after its first was:
// the retry writes the second only.
func TestARetriedCommitGoesOnAfterWhatItWrote(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	n.Store.Consumers = eventstore.ConsumerPolicy{Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: slog.New(slog.DiscardHandler)}
	last := appendCommits(t, n, 2) // commit 2 makes two messages
	var made atomic.Int32
	big := tooLarge(n)
	f := runFollower(t, n, "pub", func(st eventstore.Stored) ([]eventstore.PublicMessage, error) {
		msgs := publicOf(st, false)
		// The first two makings are bad: one is read into the batch (three
		// messages: too few for a batch on a single server), the next is
		// written, its first message and not its second, too large to send
		// (a write failing once).
		if st.Sequence == last && made.Add(1) <= 2 {
			msgs[1].Data = big
		}
		return msgs, nil
	})
	waitUntil(t, 20*time.Second, "the commit handled", func() bool { return f.handled(last) })
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
}

// An earlier version's publisher still pulling from its durable consumer:
// the publisher does not take over (the earlier one would make its
// consumer again from the start of the log), and says why.
func TestThePublisherWaitsForAnEarlierVersionToStop(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	appendCommits(t, n, 2)
	c, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() {
		done <- n.Store.ConsumeEvents(c, "pub", events.SubjectPrefix+">", true, func(eventstore.Stored) error { return nil })
	}()
	defer func() { cancel(); <-done }()
	waitUntil(t, 20*time.Second, "the earlier version pulling", func() bool {
		cons, err := n.Store.JetStream().Consumer(c, eventstore.EventsStream, "pub")
		return err == nil && cons.CachedInfo().NumWaiting > 0
	})
	err := n.Store.PublishFollowing(ctx(t), eventstore.PublicFollower{Name: "pub", Make: func(st eventstore.Stored) ([]eventstore.PublicMessage, error) { return publicOf(st, false), nil }})
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "still pulling") {
		t.Fatalf("publisher beside an earlier version: %v", err)
	}
	if got := publicBodies(t, n); len(got) != 0 {
		t.Fatalf("published beside an earlier version: %v", got)
	}
}

// Commits read close together have their messages written as one atomic
// batch (fewer synced writes), still each once and in order.
func TestThePublisherWritesCommitsCloseTogetherInBatches(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	f := startFollower(t, n, "pub", false)
	last := appendCommits(t, n, 60)
	waitUntil(t, 20*time.Second, "the commits published", func() bool { return f.handled(last) })
	msgs := storetest.Messages(t, ctx(t), n.Store.JetStream(), eventstore.PublicStream)
	var got []string
	batches := map[string]int{}
	for _, m := range msgs {
		got = append(got, string(m.Data))
		if id := m.Header.Get("Nats-Batch-Id"); id != "" {
			batches[id]++
		}
	}
	if want := wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	inBatches := 0
	for _, k := range batches {
		inBatches += k
	}
	if len(batches) == 0 || inBatches <= len(batches) {
		t.Fatalf("%d of %d public messages written in %d batches: want commits read together written together", inBatches, len(msgs), len(batches))
	}
}

// A public stream that takes no atomic batches: the publisher writes one
// message at a time, each once and in order. Where its config says so
// from the start (as a server before 2.12 would, knowing no such field),
// it does not try; turned off while it runs, the refused batch is written
// commit by commit.
func TestThePublisherWritesOneByOneWhereBatchesAreRefused(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	var logs storetest.LogBuffer
	n.Store.Consumers = eventstore.ConsumerPolicy{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	allowBatches := func(on bool) {
		t.Helper()
		str, err := n.Store.JetStream().Stream(ctx(t), eventstore.PublicStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := str.CachedInfo().Config
		cfg.AllowAtomicPublish = on
		if _, err := n.Store.JetStream().UpdateStream(ctx(t), cfg); err != nil {
			t.Fatal(err)
		}
	}
	refused := "takes no atomic batches"

	allowBatches(false)
	f := startFollower(t, n, "pub", false)
	last := appendCommits(t, n, 30)
	waitUntil(t, 20*time.Second, "the commits published", func() bool { return f.handled(last) })
	f.stop()
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	if strings.Contains(logs.String(), refused) {
		t.Fatalf("the publisher tried a batch on a stream whose config takes none:\n%s", logs.String())
	}

	allowBatches(true)
	f = startFollower(t, n, "pub", false)
	first := last + 1
	last = appendCommits(t, n, 1)
	waitUntil(t, 20*time.Second, "a commit published with batches allowed", func() bool { return f.handled(last) })
	allowBatches(false)
	last = appendCommits(t, n, 30)
	waitUntil(t, 20*time.Second, "the commits published", func() bool { return f.handled(last) })
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	if !strings.Contains(logs.String(), refused) {
		t.Fatalf("no batch of commits %d to %d was refused, so this test did not see the publisher fall back:\n%s", first, last, logs.String())
	}
}

// A commit that cannot be published, read while an earlier commit of its
// referral waits to be written: the earlier one is published and this one
// parked, not the other way round; replayed, the referral's messages are
// in its order.
func TestAFailingCommitIsNotParkedAheadOfItsReferralsEarlierOne(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	n.Store.Consumers = eventstore.ConsumerPolicy{MaxDeliveries: 1, Log: slog.New(slog.DiscardHandler)}
	var broken sync.Map
	f := publishUnlessBroken(t, n, &broken)
	subject := events.ReferralSubject("x1")
	a1, err := n.Store.Append(ctx(t), subject, 0, "", commit("x1", 1))
	if err != nil {
		t.Fatal(err)
	}
	broken.Store(a1.Sequence+1, true)
	a2, err := n.Store.Append(ctx(t), subject, a1.Sequence, "", commit("x1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if a2.Sequence != a1.Sequence+1 {
		t.Fatalf("the second commit at %d, not just after the first (%d)", a2.Sequence, a1.Sequence)
	}
	waitUntil(t, 20*time.Second, "both commits handled", func() bool { return f.handled(a2.Sequence) })
	if got, want := publicBodies(t, n), wantPublic(a1.Sequence, a1.Sequence); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want the first commit's %v", got, want)
	}
	broken.Delete(a2.Sequence)
	res, err := n.Store.ReplayParked(ctx(t), 0)
	if err != nil || len(res) != 1 || res[0].Outcome != "replayed" {
		t.Fatalf("replay: %+v, %v (want the second commit alone parked)", res, err)
	}
	if got, want := publicBodies(t, n), wantPublic(a1.Sequence, a2.Sequence); !slices.Equal(got, want) {
		t.Fatalf("public stream after the replay %v, want %v", got, want)
	}
}

// A message too large to send, among enough for a batch: the batch is not
// sent (its first messages would stay staged on the server, holding one of
// its few places for batches until they expired); its commits are written
// one at a time, the failing one retried, and everything is published
// once, in order.
func TestABatchWithAMessageTooLargeIsNotSent(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	var logs storetest.LogBuffer
	n.Store.Consumers = eventstore.ConsumerPolicy{Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	bad := uint64(5) // makes two messages
	var made atomic.Int32
	big := tooLarge(n)
	f := runFollower(t, n, "pub", func(st eventstore.Stored) ([]eventstore.PublicMessage, error) {
		msgs := publicOf(st, false)
		if st.Sequence == bad && made.Add(1) <= 2 {
			msgs[0].Data = big
		}
		return msgs, nil
	})
	last := appendCommits(t, n, 20)
	waitUntil(t, 20*time.Second, "the commits published", func() bool { return f.handled(last) })
	if got, want := publicBodies(t, n), wantPublic(1, last); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	if made.Load() < 3 {
		t.Fatalf("commit %d made %d times: its large message was never written alone and retried", bad, made.Load())
	}
	if strings.Contains(logs.String(), "batch of public messages was not written") {
		t.Fatalf("a batch holding a message too large to send was sent:\n%s", logs.String())
	}
}

// tooLarge is more than n's server takes in one message.
func tooLarge(n *storetest.Node) []byte {
	return make([]byte, n.Store.JetStream().Conn().MaxPayload()+1)
}

// A message on a subject no stream takes (a fault in making it) is parked
// with its commit, not retried for ever as if the server were away, and
// the commits after it are published; and a batch holding it is not sent.
func TestAPublicMessageNoStreamTakesIsParked(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	var logs storetest.LogBuffer
	n.Store.Consumers = eventstore.ConsumerPolicy{Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	bad := uint64(5) // makes two messages
	f := runFollower(t, n, "pub", func(st eventstore.Stored) ([]eventstore.PublicMessage, error) {
		msgs := publicOf(st, false)
		if st.Sequence == bad {
			msgs[1].Subject = "nts.nowhere"
		}
		return msgs, nil
	})
	last := appendCommits(t, n, 20)
	waitUntil(t, 20*time.Second, "the commits handled", func() bool { return f.handled(last) })
	// Its first message may be out before the second failed: the commit is
	// parked whole, and replayed whole once made right.
	got := slices.DeleteFunc(publicBodies(t, n), func(b string) bool { return b == "5.0" })
	if want := slices.DeleteFunc(wantPublic(1, last), func(b string) bool { return strings.HasPrefix(b, "5.") }); !slices.Equal(got, want) {
		t.Fatalf("public stream %v, want %v", got, want)
	}
	parked, err := n.Store.ListParked(ctx(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].StreamSequence != bad {
		t.Fatalf("parked %+v, want commit %d alone", parked, bad)
	}
	// Among enough for a batch, it was not sent in one: the batch's other
	// messages would stay staged on the server until they expired.
	if strings.Contains(logs.String(), "batch of public messages was not written") {
		t.Fatalf("a batch holding a message no stream takes was sent:\n%s", logs.String())
	}
}
