package safeguarding

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/sagas"
)

// Timer kinds, per episode: "<episode>.strategy",
// "<episode>.interview.warning", "<episode>.interview.breach".
const (
	KindStrategy         = "strategy"
	KindInterviewWarning = "interview.warning"
	KindInterviewBreach  = "interview.breach"
)

// Its durable consumers, shared by every engine instance, and its timers'
// keys ("safeguarding.<referral>.<episode>.<kind>").
const (
	EventsConsumer = "safeguarding-saga"
	TimersConsumer = "safeguarding-timers"
	TimerPrefix    = "safeguarding"
)

// Reaction is what the saga wants done: commands on the child's care
// aggregate, timers to set (Kind "<episode>.<kind>"), and timers to cancel
// ("<episode>.strategy", "<episode>.interview").
type Reaction = sagas.Reaction[aggregates.CareCommand]

// Saga holds what the reactions need besides the event.
type Saga struct{ Policy Policy }

// New is the safeguarding saga as a value, for sagarun's runner: a
// missing child's police and safeguarding hub are notified at once; the
// strategy discussion and the return interview get timers, and a fired
// one records the overdue discussion, or the interview's warning and
// breach, once.
func New(p Policy) sagas.Saga[aggregates.Care, aggregates.Care, aggregates.CareCommand] {
	s := Saga{Policy: p}
	return sagas.Saga[aggregates.Care, aggregates.Care, aggregates.CareCommand]{
		Name: "safeguarding saga", Actor: "safeguarding-saga",
		Target: aggregates.Cares,
		Reads:  []sagas.Source{sagas.Of(aggregates.Cares)},
		State:  sagas.Fold(aggregates.Cares),
		Triggers: []sagas.Trigger[aggregates.Care, aggregates.CareCommand]{{
			Consumer: EventsConsumer, On: reactsTo,
			React: func(c aggregates.Care, e events.Event, _ time.Time) Reaction { return s.React(c, e) },
		}},
		TimerPrefix: TimerPrefix, TimersConsumer: TimersConsumer,
		CheckKind: func(k string) error { _, _, err := ParseKind(k); return err },
		OnFire:    s.OnFire,
		// One message id per episode and step: a fire handled twice, by two
		// instances or after a restart, is recorded once (and the decider
		// refuses what is on record).
		MsgID: func(id string, _ aggregates.Care, cmd aggregates.CareCommand) string {
			return fmt.Sprintf("safeguarding:%s:%s:%d", id, cmd.CommandName(), episodeOf(cmd))
		},
		Label: func(c aggregates.Care) string { return c.Authority },
	}
}

func reactsTo(e events.Event) bool {
	switch e.Data.(type) {
	case events.MissingReported, events.MissingReturned, events.StrategyDiscussionHeld, events.ReturnInterviewOffered:
		return true
	}
	return false
}

func episodeOf(cmd aggregates.CareCommand) int {
	switch c := cmd.(type) {
	case aggregates.NotifySafeguarding:
		return c.Episode
	case aggregates.RecordStrategyOverdue:
		return c.Episode
	case aggregates.RecordInterviewWarning:
		return c.Episode
	case aggregates.RecordInterviewBreach:
		return c.Episode
	}
	return 0
}

// React answers an event of a child's care, whose state as loaded now is
// c. It is pure; a redelivered event gets the same answer, and the
// decider refuses what is already on record.
func (s Saga) React(c aggregates.Care, e events.Event) Reaction {
	switch d := e.Data.(type) {
	case events.MissingReported:
		ep, ok := c.Episode(d.Episode)
		if !ok {
			return Reaction{}
		}
		var re Reaction
		if slices.ContainsFunc(s.Policy.Notify, func(p string) bool { return !slices.Contains(ep.Notified, p) }) {
			re.Commands = append(re.Commands, aggregates.NotifySafeguarding{Episode: ep.N, Parties: s.Policy.Notify})
		}
		if !ep.StrategyHeld && !ep.StrategyOverdue {
			re.Timers = append(re.Timers, sagas.Timer{Kind: kind(ep.N, KindStrategy), At: ep.StrategyDueAt.Add(time.Millisecond)})
		}
		return re
	case events.MissingReturned:
		ep, ok := c.Episode(d.Episode)
		if !ok || ep.Offered || ep.Breached {
			return Reaction{}
		}
		var re Reaction
		if !ep.Warned {
			re.Timers = append(re.Timers, sagas.Timer{Kind: kind(ep.N, KindInterviewWarning), At: ep.InterviewWarnAt})
		}
		re.Timers = append(re.Timers, sagas.Timer{Kind: kind(ep.N, KindInterviewBreach), At: ep.InterviewDueAt.Add(time.Millisecond)})
		return re
	case events.StrategyDiscussionHeld:
		return Reaction{Cancel: []string{kind(d.Episode, KindStrategy)}}
	case events.ReturnInterviewOffered:
		return Reaction{Cancel: []string{kind(d.Episode, "interview")}}
	}
	return Reaction{}
}

func kind(ep int, k string) string { return strconv.Itoa(ep) + "." + k }

// ParseKind splits a timer kind into its episode and kind.
func ParseKind(k string) (int, string, error) {
	n, rest, _ := strings.Cut(k, ".")
	ep, err := strconv.Atoi(n)
	if err != nil || ep < 1 {
		return 0, "", fmt.Errorf("timer kind %q names no episode", k)
	}
	switch rest {
	case KindStrategy, KindInterviewWarning, KindInterviewBreach:
		return ep, rest, nil
	}
	return 0, "", fmt.Errorf("timer kind %q is not known", k)
}

// OnFire answers a fired timer. One for a step already done does nothing;
// one that fired early (the decider's time is exact; a server clock ahead
// of ours fires a little early) is set again.
func (s Saga) OnFire(c aggregates.Care, k string, now time.Time) Reaction {
	n, what, err := ParseKind(k)
	if err != nil {
		return Reaction{}
	}
	ep, ok := c.Episode(n)
	if !ok {
		return Reaction{}
	}
	again := func(at time.Time) Reaction { return Reaction{Timers: []sagas.Timer{{Kind: k, At: at}}} }
	switch what {
	case KindStrategy:
		if ep.StrategyHeld || ep.StrategyOverdue {
			return Reaction{}
		}
		if !now.After(ep.StrategyDueAt) {
			return again(ep.StrategyDueAt.Add(time.Millisecond))
		}
		return Reaction{Commands: []aggregates.CareCommand{aggregates.RecordStrategyOverdue{Episode: n}}}
	case KindInterviewWarning:
		if !ep.Returned || ep.Offered || ep.Warned || ep.Breached {
			return Reaction{}
		}
		if now.Before(ep.InterviewWarnAt) {
			return again(ep.InterviewWarnAt)
		}
		return Reaction{Commands: []aggregates.CareCommand{aggregates.RecordInterviewWarning{Episode: n}}}
	default: // KindInterviewBreach
		if !ep.Returned || ep.Offered || ep.Breached {
			return Reaction{}
		}
		if !now.After(ep.InterviewDueAt) {
			return again(ep.InterviewDueAt.Add(time.Millisecond))
		}
		return Reaction{Commands: []aggregates.CareCommand{aggregates.RecordInterviewBreach{Episode: n}}}
	}
}
