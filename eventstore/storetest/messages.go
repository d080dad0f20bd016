package storetest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// Messages reads every message a stream holds, in order, one direct read
// each: for tests that check what a stream holds (the public stream, say).
func Messages(t testing.TB, ctx context.Context, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	str, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for q := info.State.FirstSeq; q > 0 && q <= info.State.LastSeq; q++ {
		m, err := str.GetMsg(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
