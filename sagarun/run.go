package sagarun

import (
	"context"
	"log/slog"
	"time"
)

// keepRunning runs a consumer until ctx ends, starting it again a second
// after it stops (the store unreachable, say).
func keepRunning(ctx context.Context, log *slog.Logger, name string, run func(context.Context) error) {
	for ctx.Err() == nil {
		err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("saga consumer stopped; restarting", "consumer", name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
