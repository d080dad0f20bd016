// Package sagas says what a saga is, as a value, the way
// aggregates.Decider says what an aggregate is: the events it reacts to,
// its reactions, its timers and how its commands are named, all pure.
// Each saga under sagas/ (allocation, safeguarding, leavingcare, deadline)
// is one such value; sagarun has the one runner that carries any of them
// out against the store.
package sagas

import (
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
)

// Timer asks to be woken at a time. Kind tells the saga what for; it is
// the last part of the timer's key ("<prefix>.<id>.<kind>") and may hold
// dots.
type Timer struct {
	Kind string
	At   time.Time
}

// Reaction is what a saga wants done for one aggregate: timers cancelled,
// then its commands, then timers set. The runner does it in that order.
type Reaction[C aggregates.Command] struct {
	Commands []C
	Timers   []Timer
	// CancelAll cancels every pending timer of the aggregate.
	CancelAll bool
	// Cancel cancels the pending timer of each of these kinds (its key
	// exactly, not the kinds below it).
	Cancel []string
	// Rearm: once the commands are written, the state is read again and
	// the saga's Timers for it are set (a command that changes the times,
	// such as a date of birth, is armed on what it wrote).
	Rearm bool
	// Effects name what the shell must do after the commands, beyond
	// them (the retention saga's "destroy-key"): each is looked up in the
	// runner's Deps.Effects and must be idempotent, since a redelivery
	// after a crash asks for it again.
	Effects []string
}

// Source is one aggregate whose events a saga reads, found by the id the
// saga is keyed by (a referral and the child's care share theirs).
type Source struct {
	Kind    string // "referral": names it in errors
	Subject func(id string) string
}

// Trigger is a durable consumer of one source's events.
type Trigger[S any, C aggregates.Command] struct {
	// Consumer is the durable consumer's name, shared by every instance so
	// that each commit is reacted to by one of them.
	Consumer string
	// Source indexes Saga.Reads: the events consumed.
	Source int
	// On picks the events reacted to.
	On func(e events.Event) bool
	// React answers one picked event, caused by it. Exactly one of React
	// and ReactCommit is set.
	React func(s S, e events.Event, now time.Time) Reaction[C]
	// ReactCommit answers a commit's picked events together, caused by the
	// commit ("<source kind>:<stream sequence>").
	ReactCommit func(s S, picked []events.Event, now time.Time) Reaction[C]
}

// Saga is one saga as a value. S is the state its reactions read, folded
// from the histories of Reads; T and C are the aggregate its commands go
// to (Target) and their type.
type Saga[S, T any, C aggregates.Command] struct {
	// Name is the saga in logs ("allocation saga"); Actor on every event it
	// causes ("allocation-saga").
	Name, Actor string
	// Target is the aggregate its commands go to, named by the same id.
	Target aggregates.Decider[T, C]
	// Reads are the aggregates its state is folded from; State folds them
	// (histories in the order of Reads).
	Reads []Source
	State func(id string, histories [][]events.Event) S
	// Triggers are its consumers of events.
	Triggers []Trigger[S, C]
	// TimerPrefix keys its timers ("<prefix>.<id>.<kind>"); TimersConsumer
	// is the durable consumer of them when they fire.
	TimerPrefix, TimersConsumer string
	// CheckKind, if set, refuses a fired timer's kind this saga can never
	// handle: the runner parks it rather than retry it for ever.
	CheckKind func(kind string) error
	// OnFire answers a fired timer of kind, with the state as it is now.
	OnFire func(s S, kind string, now time.Time) Reaction[C]
	// Sweep, if set, is a repeating timer that wakes the saga for every
	// aggregate then due (the runner's Deps.Due lists them), instead of a
	// timer per aggregate: for a deadline years away, known long before,
	// that every aggregate has, one schedule a day is all the server needs
	// to keep, and no command waits for a timer to be written.
	Sweep *Sweep
	// Retired are durable consumers of events an earlier version of the
	// saga ran and this one does not: the runner removes them when it
	// starts, so the server stops keeping their backlog.
	Retired []string
	// Timers, if set, are the timers a state asks for (Reaction.Rearm).
	Timers func(s S) []Timer
	// MsgID names a command for the engine's deduplication, so that the
	// same work done twice (two instances, a restart, a redelivery) is
	// recorded once.
	MsgID func(id string, s S, c C) string
	// Label, if set, is what the runner's OnRecorded hears with each event
	// recorded (an authority, a region).
	Label func(s S) string
}

// Sweep is a saga's repeating timer. When it fires, and once when the
// runner starts (a time missed while nothing ran is not fired late), each
// aggregate due is given OnFire(Kind), with its state as it is then.
type Sweep struct {
	// Key is the timer's key, under the saga's TimerPrefix and of no
	// aggregate ("retention.daily").
	Key string
	// Cron is when it fires (six fields, seconds first, or "@daily"), on
	// the clocks of Zone ("Europe/London").
	Cron, Zone string
	// Kind is what OnFire is told fired.
	Kind string
}

// Fold is State for a saga that reads one aggregate, folded by its
// decider (from the decider's start state).
func Fold[T any, C aggregates.Command](d aggregates.Decider[T, C]) func(id string, histories [][]events.Event) T {
	return func(id string, histories [][]events.Event) T {
		return d.Apply(d.Start(id), histories[0])
	}
}

// Of is the Source of a decider's aggregate.
func Of[T any, C aggregates.Command](d aggregates.Decider[T, C]) Source {
	return Source{Kind: d.Kind, Subject: d.Subject}
}

// Pick is the events of a commit a trigger reacts to, in order.
func Pick(evs []events.Event, on func(events.Event) bool) []events.Event {
	var picked []events.Event
	for _, e := range evs {
		if on(e) {
			picked = append(picked, e)
		}
	}
	return picked
}
