package bench

import (
	"context"
	"os"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Server is an embedded server with the store opened on it, for one part.
type Server struct {
	Dir   string
	Emb   *eventstore.Embedded
	Conn  *eventstore.Conn
	Store *eventstore.Store
}

// Open starts an embedded server in dir (fsync on every write unless
// syncInterval > 0) and opens the store.
func Open(ctx context.Context, dir string, syncInterval time.Duration) (*Server, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	emb, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir, SyncInterval: syncInterval})
	if err != nil {
		return nil, err
	}
	nc, err := emb.Dial("ntsflow-bench", eventstore.ConnOptions{})
	if err != nil {
		emb.Shutdown()
		return nil, err
	}
	st, err := nc.Open(ctx, eventstore.Config{})
	if err != nil {
		nc.Close()
		emb.Shutdown()
		return nil, err
	}
	return &Server{Dir: dir, Emb: emb, Conn: nc, Store: st}, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.Conn.Close()
	s.Emb.Shutdown()
}
