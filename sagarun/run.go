package sagarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/sagas/deadline"
)

// What every saga runner shares: its consumers kept running, its timer
// keys read, its commands issued once, its timers set.

// consumer is one of a saga's durable consumers.
type consumer struct {
	name string
	run  func(context.Context) error
}

// runConsumers runs each consumer, started again a second after it stops
// (the store unreachable, say), until ctx ends.
func runConsumers(ctx context.Context, log *slog.Logger, consumers ...consumer) error {
	done := make(chan struct{}, len(consumers))
	for _, c := range consumers {
		go func() { keepRunning(ctx, log, c.name, c.run); done <- struct{}{} }()
	}
	for range consumers {
		<-done
	}
	return ctx.Err()
}

// keepRunning runs a consumer until ctx ends, starting it again a second
// after it stops.
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

// timerKey reads a fired timer's key, "<prefix>.<aggregate id>.<kind>"
// (the kind may hold dots). A key of another shape can never be handled,
// so it is a permanent failure: the consumer parks it.
func timerKey(key, prefix string) (id, kind string, err error) {
	parts := strings.SplitN(key, ".", 3)
	if len(parts) != 3 || parts[0] != prefix || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("%w: timer key %q", eventstore.ErrPermanent, key)
	}
	return parts[1], parts[2], nil
}

// issue runs a saga's commands, each through handle. A refusal means the
// work is already on record or no longer applies (the decider says which),
// and is logged at debug; each event newly recorded is logged and given to
// recorded. Any other error stops, for the consumer to retry.
func issue[C aggregates.Command](log *slog.Logger, saga, id string, cmds []C, handle func(C) (engine.Outcome, error), recorded func(events.Event)) error {
	for _, c := range cmds {
		out, err := handle(c)
		var refusal *aggregates.Refusal
		switch {
		case errors.As(err, &refusal):
			log.Debug(saga+": command refused", "aggregate", id, "command", c.CommandName(), "reason", refusal.Error())
		case err != nil:
			return err
		case !out.Replayed:
			for _, e := range out.Events {
				log.Info(e.Type, "saga", saga, "aggregate", id, "event", e.ID)
				if recorded != nil {
					recorded(e)
				}
			}
		}
	}
	return nil
}

// schedule sets a saga's timers as server-side schedules under prefix.
func schedule(ctx context.Context, store *eventstore.Store, prefix string, timers []deadline.Timer) error {
	for _, t := range timers {
		if err := store.Schedule(ctx, prefix+"."+t.Kind, t.At, nil); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(log *slog.Logger) *slog.Logger {
	if log != nil {
		return log
	}
	return slog.Default()
}

func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}
