package eventstore

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetPerLoadSubscription switches Load back to a subscription per load,
// for measuring against it.
func (s *Store) SetPerLoadSubscription(on bool) { s.perLoadSub = on }

// LoadConnsForTest are the extra connections loads are spread over.
func (s *Store) LoadConnsForTest() []*nats.Conn {
	var out []*nats.Conn
	for _, lc := range s.loads.extra {
		out = append(out, lc.nc)
	}
	return out
}

// AppendConnsForTest are the extra connections appends are spread over.
func (s *Store) AppendConnsForTest() []*nats.Conn { return s.appends.conns }

// StoredKey is the child's key as the key stream holds it (wrapped).
func (s *Store) StoredKey(ctx context.Context, child string) ([]byte, error) {
	m, err := s.keys.stream.GetLastMsgForSubject(ctx, keySubjectPrefix+child)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// KeysStreamInfo is the key stream's configuration and state.
func (s *Store) KeysStreamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	return s.keys.stream.Info(ctx)
}
