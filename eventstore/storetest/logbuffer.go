package storetest

import (
	"bytes"
	"sync"
)

// LogBuffer is a log sink a test reads while the engine's goroutines write
// to it (slog.NewTextHandler(&buf, nil)).
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
