package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TimersStream holds durable timers as JetStream message schedules. The
// server keeps them, replicates them in a cluster and fires them after a
// restart: there is no scheduler of ours.
//
// A timer is a schedule message on nts.timers.schedule.<key> (one per
// subject: a new publish replaces it, a purge cancels it) that the server
// fires, once, onto nts.timers.fired.<key>, where a durable consumer shared
// by every engine instance picks it up.
const TimersStream = "NTS_TIMERS"

const (
	timerSchedulePrefix = "nts.timers.schedule."
	timerFiredPrefix    = "nts.timers.fired."
)

func ensureTimers(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	str, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        TimersStream,
		Description: "ntsflow durable timers: message schedules and the messages they fire",
		Subjects:    []string{"nts.timers.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		// No limits are set, so nothing is ever discarded (the server does
		// not allow DiscardNew with schedules).
		AllowMsgSchedules: true,
		Duplicates:        2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", TimersStream, unavailable(err))
	}
	return str, nil
}

// Timer is a timer's payload: what to do, and when it was due.
type Timer struct {
	Key  string    `json:"key"`
	Data []byte    `json:"data,omitempty"`
	At   time.Time `json:"at"`
}

// Fired is a timer the server has fired.
type Fired struct {
	Timer
	// FiredAt is when the server stored the fired message.
	FiredAt  time.Time
	Sequence uint64
}

// ValidTimerKey: a key is subject tokens (letters, digits, '-', '_'),
// separated by dots.
func validTimerKey(key string) bool {
	if key == "" {
		return false
	}
	for _, tok := range strings.Split(key, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t") {
			return false
		}
	}
	return true
}

// Schedule sets the timer named key to fire at at (to the second, rounded
// up), replacing any timer of that key. A time already past fires at once.
func (s *Store) Schedule(ctx context.Context, key string, at time.Time, data []byte) error {
	if !validTimerKey(key) {
		return fmt.Errorf("schedule: bad timer key %q", key)
	}
	fire := at.UTC().Truncate(time.Second)
	if fire.Before(at) {
		fire = fire.Add(time.Second)
	}
	body, _ := json.Marshal(Timer{Key: key, Data: data, At: at})
	msg := &nats.Msg{Subject: timerSchedulePrefix + key, Data: body}
	_, err := s.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(fire), jetstream.WithScheduleTarget(timerFiredPrefix+key), jetstream.WithExpectStream(TimersStream))
	if err != nil {
		return fmt.Errorf("schedule %s at %s: %w", key, fire.Format(time.RFC3339), unavailable(err))
	}
	return nil
}

// ScheduleRepeating sets the timer named key to fire every time the cron
// pattern (six fields, seconds first, or "@daily" and the like) comes
// round on the clocks of zone, replacing any timer of that key, until it
// is cancelled. The server keeps it as one message, however often it
// fires: a sweep that runs daily costs one write a day, not one per thing
// swept. A time missed while the server was down is not fired late: the
// next one is (the sweeper's start must look back for itself).
func (s *Store) ScheduleRepeating(ctx context.Context, key, cron, zone string, data []byte) error {
	if !validTimerKey(key) {
		return fmt.Errorf("schedule: bad timer key %q", key)
	}
	if _, err := time.LoadLocation(zone); err != nil || zone == "" {
		return fmt.Errorf("schedule %s: time zone %q is not one the server knows", key, zone)
	}
	body, _ := json.Marshal(Timer{Key: key, Data: data})
	msg := &nats.Msg{Subject: timerSchedulePrefix + key, Data: body}
	_, err := s.js.PublishMsg(ctx, msg, jetstream.WithScheduleCron(cron), jetstream.WithScheduleTimeZone(zone),
		jetstream.WithScheduleTarget(timerFiredPrefix+key), jetstream.WithExpectStream(TimersStream))
	if err != nil {
		return fmt.Errorf("schedule %s %q in %s: %w", key, cron, zone, unavailable(err))
	}
	return nil
}

// Cancel removes the pending timer named key, if there is one. Timers that
// already fired are not recalled: their handler must check whether they
// still apply (every saga does).
func (s *Store) Cancel(ctx context.Context, key string) error {
	return s.purgeTimers(ctx, key)
}

// CancelAll removes every pending timer whose key starts with prefix + "."
// (an aggregate's timers of every kind), in one request.
func (s *Store) CancelAll(ctx context.Context, prefix string) error {
	return s.purgeTimers(ctx, prefix+".>")
}

func (s *Store) purgeTimers(ctx context.Context, keys string) error {
	if err := s.timers.Purge(ctx, jetstream.WithPurgeSubject(timerSchedulePrefix+keys)); err != nil {
		return fmt.Errorf("cancel timers %s: %w", keys, unavailable(err))
	}
	return nil
}

// PendingTimers counts timers scheduled and not yet fired.
func (s *Store) PendingTimers(ctx context.Context) (uint64, error) {
	info, err := s.timers.Info(ctx, jetstream.WithSubjectFilter(timerSchedulePrefix+">"))
	if err != nil {
		return 0, unavailable(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
