package eventstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// position reads both forms of ack subject as Msg.Metadata does, and
// gives up on anything else (ReadRaw then asks Metadata).
func TestPosition(t *testing.T) {
	const ns = 1764079012345678901
	for _, c := range []struct {
		reply string
		seq   uint64
		ok    bool
	}{
		{"$JS.ACK.NTS_EVENTS.cons.1.42.7." + "1764079012345678901" + ".9", 42, true},
		{"$JS.ACK._.acchash.NTS_EVENTS.cons.1.42.7." + "1764079012345678901" + ".9", 42, true},
		{"$JS.ACK._.acchash.NTS_EVENTS.cons.1.42.7." + "1764079012345678901" + ".9.rnd", 42, true},
		{"$JS.ACK.dom.acchash.NTS_EVENTS.cons.1.42.7." + "1764079012345678901" + ".9.rnd.more", 42, true},
		{"$JS.ACK.NTS_EVENTS.cons.1.42.7.1764079012345678901", 0, false},     // 8 tokens
		{"$JS.ACK.x.NTS_EVENTS.cons.1.42.7.1764079012345678901.9", 0, false}, // 10 tokens
		{"$JS.ACK.NTS_EVENTS.cons.1.4x.7.1764079012345678901.9", 0, false},   // not a number
		{"$JS.ACK.NTS_EVENTS.cons.1..7.1764079012345678901.9", 0, false},     // empty
		{"$JS.ACK.NTS_EVENTS.cons.1.42.7.99999999999999999999.9", 0, false},  // too long
		{"$JS.ACK.NTS_EVENTS.cons.1.42.7.9999999999999999999.9", 0, false},   // past int64
		{"$JS.NAK.NTS_EVENTS.cons.1.42.7.1764079012345678901.9", 0, false},   // not an ack subject
		{"", 0, false},
	} {
		seq, ts, ok := position(c.reply)
		if ok != c.ok || (ok && (seq != c.seq || !ts.Equal(time.Unix(0, ns)))) {
			t.Errorf("%q: %d %v %v", c.reply, seq, ts, ok)
		}
	}
}

// The embedded server's ack subjects are of a form position reads, to the
// sequence and time Metadata reads.
func TestPositionOfTheServersMessages(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedConfig{DataDir: t.TempDir(), SyncInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := emb.Connect(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.js.Publish(ctx, fmt.Sprintf("nts.events.referral.r%d", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Fetch(3)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range msgs.Messages() {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		seq, ts, ok := position(m.Reply())
		if !ok || seq != md.Sequence.Stream || !ts.Equal(md.Timestamp) || ts.Location() != md.Timestamp.Location() {
			t.Fatalf("%q: %d %v %v; Metadata %d %v", m.Reply(), seq, ts, ok, md.Sequence.Stream, md.Timestamp)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("read %d messages", n)
	}
}
