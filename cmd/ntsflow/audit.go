package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ntsflow/ntsflow/audit"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// toolChainKey finds the chain key for a tool reading the log itself: the
// key file given, or the one beside a stopped engine's data, or the key an
// engine on a cluster keeps in NATS. It never makes one.
func toolChainKey(ctx context.Context, st *eventstore.Store, keyFile, dataDir string) ([]byte, error) {
	if keyFile != "" {
		return eventstore.ReadChainKeyFile(keyFile)
	}
	if dataDir != "" {
		path := filepath.Join(dataDir, eventstore.ChainKeyFileName)
		if _, err := os.Stat(path); err == nil {
			return eventstore.ReadChainKeyFile(path)
		}
	}
	key, err := st.StoredChainKey(ctx)
	if err == nil && key == nil {
		err = errors.New("no chain key: give --chain-key-file (an embedded engine keeps it in DATA-DIR/" + eventstore.ChainKeyFileName + ")")
	}
	return key, err
}

// logSource is where a tool reads the log: a running engine's HTTP API (the
// default), or the log itself on a NATS server or cluster, or in a stopped
// engine's data directory.
type logSource struct {
	engineClient
	natsURL, dataDir *string
	login            *natsLogin
}

func logSourceFlags(fs *flag.FlagSet, local string) logSource {
	l := logSource{
		engineClient: engineFlags(fs, "ask this running engine (default), or...", "bearer token for the running engine (an auditor's)"),
		natsURL:      fs.String("nats-url", "", "..."+local+" on this NATS server or cluster (no password in it: see --nats-user)"),
		dataDir:      fs.String("data-dir", "", "...or in a stopped engine's data directory"),
		login:        &natsLogin{},
	}
	natsLoginFlags(fs, l.login)
	return l
}

// local reports whether the tool reads the log itself.
func (l logSource) local() bool { return *l.natsURL != "" || *l.dataDir != "" }

// open opens the log for a local read.
func (l logSource) open(ctx context.Context) (*eventstore.Store, func(), error) {
	var login *eventstore.Login
	if *l.natsURL != "" {
		var err error
		if login, err = l.login.login(*l.natsURL); err != nil {
			return nil, nil, err
		}
	}
	return localStore(ctx, *l.natsURL, *l.dataDir, login)
}

// localStore opens the event log without a running engine: a NATS server
// or cluster by URL, or the embedded server's data directory (the engine
// must be stopped: two servers must not share a directory).
func localStore(ctx context.Context, natsURL, dataDir string, login *eventstore.Login) (*eventstore.Store, func(), error) {
	return localStoreWith(ctx, natsURL, dataDir, login, (*eventstore.Conn).Attach)
}

// localStoreWith is localStore opening the store with attach.
func localStoreWith(ctx context.Context, natsURL, dataDir string, login *eventstore.Login, attach func(*eventstore.Conn, context.Context) (*eventstore.Store, error)) (*eventstore.Store, func(), error) {
	if natsURL != "" {
		nc, err := eventstore.Dial(natsURL, "ntsflow-tool", eventstore.ConnOptions{Login: login})
		if err != nil {
			return nil, nil, err
		}
		st, err := attach(nc, ctx)
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		return st, nc.Close, nil
	}
	dir, _ := filepath.Abs(dataDir)
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	emb, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{DataDir: dir})
	if err != nil {
		return nil, nil, err
	}
	nc, err := emb.Dial("ntsflow-tool", eventstore.ConnOptions{})
	if err != nil {
		emb.Shutdown()
		return nil, nil, err
	}
	st, err := attach(nc, ctx)
	if err != nil {
		nc.Close()
		emb.Shutdown()
		return nil, nil, err
	}
	return st, func() { nc.Close(); emb.Shutdown() }, nil
}

var cmdHistory = &Command{
	Name:      "history",
	UsageLine: "history [--json] [--server URL] REFERRAL",
	Short:     "print a referral's whole story",
	Long:      "Prints a referral's whole story, oldest first: time recorded, actor, event and its key data.",
	Flags: func(fs *flag.FlagSet) runFunc {
		engine := engineFlags(fs, "the running engine's HTTP address", "bearer token (an auditor's, or the referral's authority's)")
		asJSON := fs.Bool("json", false, "print the events as JSON instead of a table")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			id, err := engine.referral(fs, args)
			if err != nil {
				return err
			}
			res, err := engine.call(ctx, "GET", "/v1/referrals/"+url.PathEscape(id)+"/history", http.StatusOK)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				return err
			}
			if *asJSON {
				stdout.Write(body)
				return nil
			}
			var h struct {
				ReferralID string
				Version    int
				Events     []struct {
					Sequence   uint64
					Type       string
					RecordedAt time.Time
					OccurredAt time.Time
					Actor      string
					Person     string
					Data       map[string]any
				}
			}
			if err := json.Unmarshal(body, &h); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			// Tables are for people: London time, with its zone (GMT or BST);
			// --json keeps RFC 3339 UTC.
			fmt.Fprintf(tw, "referral %s, version %d\n\nRECORDED (London)\tOCCURRED (London)\tACTOR\tEVENT\tDETAIL\n", h.ReferralID, h.Version)
			for _, e := range h.Events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.RecordedAt.In(calendar.London).Format("2006-01-02 15:04:05 MST"), e.OccurredAt.In(calendar.London).Format("2006-01-02 15:04 MST"), events.Event{Actor: e.Actor, Person: e.Person}.Who(), e.Type, keyData(e.Type, e.Data))
			}
			tw.Flush()
			return nil
		}
	},
}

// oneReferral reads a tool's one referral id; its flags may come after
// the id too.
func oneReferral(fs *flag.FlagSet, args []string) (string, error) {
	var id string
	for rest := args; len(rest) > 0; {
		if id != "" {
			return "", usagef("give one referral id")
		}
		id = rest[0]
		if err := parseFlags(fs, rest[1:]); err != nil {
			return "", err
		}
		rest = fs.Args()
	}
	if id == "" {
		return "", errUsage
	}
	return id, nil
}

// keyData picks what matters of an event for one line of the table.
func keyData(typ string, d map[string]any) string {
	keys := map[string][]string{
		events.TypeReferralReceived:       {"receivingAuthority", "route", "transferringAuthority"},
		events.TypeProfessionalsNotified:  {"professions", "notifiedBy"},
		events.TypePlacementSearched:      {"track", "offersFound", "placementTypes"},
		events.TypeAgeAssessmentRequested: {"method"},
		events.TypeAgeAssessed:            {"method", "outcome"},
		events.TypeReferralPlaced:         {"placementType", "placedAt"},
		events.TypeReferralWithdrawn:      {"reason"},
		events.TypeChildLeftCare:          {"reason", "leftAt"},
		events.TypeDeadlineSet:            {"dueAt", "policy"},
		events.TypeDeadlineWarning:        {"deadline", "workingDaysElapsed"},
		events.TypeDeadlineBreached:       {"deadline", "workingDaysElapsed", "escalatedTo"},
		events.TypeDeadlineEscalated:      {"escalatedTo"},
		events.TypeSequenceVoided:         {"sequence", "reason"},
	}[typ]
	var parts []string
	for _, k := range keys {
		if v, ok := d[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}

var cmdExport = &Command{
	Name:      "export",
	UsageLine: "export [--since T] [--until T] [--format jsonl] [--server URL | --nats-url URL | --data-dir DIR]",
	Short:     "stream the event history as JSON lines, for offline analysis",
	Long:      "Streams the event history, one JSON event per line on stdout, with progress on stderr.",
	Flags: func(fs *flag.FlagSet) runFunc {
		sinceS := fs.String("since", "", "only events recorded at or after this time (RFC 3339)")
		untilS := fs.String("until", "", "only events recorded at or before this time (RFC 3339)")
		format := fs.String("format", "jsonl", "output format: jsonl (one event per line)")
		src := logSourceFlags(fs, "read the log here")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := src.ready(); err != nil {
				return err
			}
			if *format != "jsonl" {
				return usagef("the only format is jsonl")
			}
			var since, until time.Time
			for _, p := range []struct {
				s  string
				to *time.Time
			}{{*sinceS, &since}, {*untilS, &until}} {
				if p.s != "" {
					t, err := time.Parse(time.RFC3339Nano, p.s)
					if err != nil {
						return usagef("--since and --until are RFC 3339 times")
					}
					*p.to = t
				}
			}
			start := time.Now()
			cw := &countingWriter{w: stdout}
			if !src.local() {
				q := url.Values{}
				if !since.IsZero() {
					q.Set("since", since.Format(time.RFC3339Nano))
				}
				if !until.IsZero() {
					q.Set("until", until.Format(time.RFC3339Nano))
				}
				res, err := src.call(ctx, "GET", "/v1/audit/export?"+q.Encode(), http.StatusOK)
				if err != nil {
					return err
				}
				defer res.Body.Close()
				done := make(chan struct{})
				go func() {
					t := time.NewTicker(time.Second)
					defer t.Stop()
					for {
						select {
						case <-done:
							return
						case <-t.C:
							fmt.Fprintf(stderr, "export: %d events, %.0f events/s\n", cw.lines.Load(), float64(cw.lines.Load())/time.Since(start).Seconds())
						}
					}
				}()
				_, err = io.Copy(cw, res.Body)
				close(done)
				if err != nil {
					return err
				}
			} else {
				st, closeStore, err := src.open(ctx)
				if err != nil {
					return err
				}
				defer closeStore()
				if _, err := audit.Export(ctx, st, since, until, cw, func(done, total uint64) {
					fmt.Fprintf(stderr, "export: %5.1f%% of the log, %d events, %.0f events/s\n", 100*float64(done)/float64(max(total, 1)), cw.lines.Load(), float64(cw.lines.Load())/time.Since(start).Seconds())
				}); err != nil {
					return err
				}
			}
			fmt.Fprintf(stderr, "export: %d events in %s\n", cw.lines.Load(), time.Since(start).Round(time.Millisecond))
			return nil
		}
	},
}

var cmdVerify = &Command{
	Name:      "verify",
	UsageLine: "verify [--server URL | --nats-url URL | --data-dir DIR] [--json]",
	Short:     "check the whole log's hash chain: nothing deleted, altered or forged",
	Long: `Walks the whole event log and checks that no stream sequence is missing,
that every event's hash is the HMAC of its stored bytes, and that every event
links to the one before it on its referral. Exit status: 0 nothing wrong,
1 problems found (each printed with its referral and stream sequence),
2 could not verify.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		src := logSourceFlags(fs, "verify the log here")
		keyFile := fs.String("chain-key-file", "", "the chain key file (default: DATA-DIR/chain.key with --data-dir, else the key kept in NATS)")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := src.ready(); err != nil {
				return err
			}
			rep, err := verifyLog(ctx, src, *keyFile, stderr)
			if err != nil {
				return exitWith(2, err) // could not verify
			}
			if *asJSON {
				json.NewEncoder(stdout).Encode(rep)
			} else {
				fmt.Fprintf(stdout, "verified %d events in %d commits on %d aggregates, up to stream sequence %d\n", rep.Events, rep.Commits, rep.Aggregates, rep.LastSeq)
				for _, p := range rep.Problems {
					fmt.Fprintf(stdout, "PROBLEM %-12s sequence %-8d %-40s %s\n", p.Kind, p.Sequence, p.Aggregate, p.Detail)
				}
				for _, v := range rep.Voided {
					fmt.Fprintf(stdout, "VOIDED  sequence %-8d %-40s by %s at %s (void at sequence %d): %s; found: %s\n", v.Sequence, v.Aggregate, v.Actor,
						v.RecordedAt.In(calendar.London).Format("2006-01-02 15:04 MST"), v.VoidSequence, v.Reason, v.Problem)
				}
				if rep.OK() && len(rep.Voided) > 0 {
					fmt.Fprintf(stdout, "no problems: no gap, every hash and every link checks (%d voided messages, each accounted for by a void above)\n", len(rep.Voided))
				} else if rep.OK() {
					fmt.Fprintln(stdout, "no problems: no gap, every hash and every link checks")
				}
			}
			if !rep.OK() {
				return exitWith(1, nil) // the problems are printed above
			}
			return nil
		}
	},
}

// verifyLog asks the engine for the verification report, or makes it here
// from the log.
func verifyLog(ctx context.Context, src logSource, keyFile string, stderr io.Writer) (audit.Report, error) {
	var rep audit.Report
	if !src.local() {
		res, err := src.call(ctx, "GET", "/v1/audit/verify", http.StatusOK)
		if err != nil {
			return rep, err
		}
		defer res.Body.Close()
		err = json.NewDecoder(res.Body).Decode(&rep)
		return rep, err
	}
	st, closeStore, err := src.open(ctx)
	if err != nil {
		return rep, err
	}
	defer closeStore()
	key, err := toolChainKey(ctx, st, keyFile, *src.dataDir)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	return audit.Verify(ctx, st, key, func(done, total uint64) {
		fmt.Fprintf(stderr, "verify: %5.1f%%  %d/%d commits  %.0f commits/s\n", 100*float64(done)/float64(max(total, 1)), done, total, float64(done)/time.Since(start).Seconds())
	})
}

type countingWriter struct {
	w     io.Writer
	lines atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			c.lines.Add(1)
		}
	}
	return c.w.Write(p)
}
