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
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/views"
)

// printProgress writes a fold's progress as one line on stderr.
func printProgress(w io.Writer, what string) func(views.Progress) {
	return func(p views.Progress) {
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Done) / float64(p.Total)
		}
		fmt.Fprintf(w, "%s: %5.1f%%  %d/%d commits  %.0f commits/s  ETA %s\n", what, pct, p.Done, p.Total, p.Rate, p.ETA.Round(time.Second))
	}
}

func rebuild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engine := engineFlags(fs, "the running engine's HTTP address", "bearer token (an operator's)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ntsflow rebuild [--server URL] VIEW

Asks a running engine to rebuild VIEW (capacity, timeliness or referrals) from
the start of the event log, beside the live view, which keeps answering; when
the new one has caught up it is swapped in. Progress (commits/s, percent, ETA)
is printed on stderr until the rebuild ends.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitParse(err)
	}
	if fs.NArg() != 1 || !views.Known(fs.Arg(0)) {
		fmt.Fprintln(stderr, "ntsflow rebuild: name one view: capacity, timeliness or referrals")
		return 2
	}
	name := fs.Arg(0)
	res, err := engine.call("POST", "/v1/views/"+name+"/rebuild", http.StatusAccepted)
	if err != nil {
		fmt.Fprintln(stderr, "ntsflow rebuild:", err)
		return 1
	}
	var started struct{ Started time.Time }
	err = json.NewDecoder(res.Body).Decode(&started)
	res.Body.Close()
	if err != nil {
		fmt.Fprintln(stderr, "ntsflow rebuild:", err)
		return 1
	}
	show := printProgress(stderr, "rebuild "+name)
	for {
		time.Sleep(time.Second)
		var st struct {
			Views []struct {
				Name        string
				Sequence    uint64
				Rebuilding  *views.Progress
				LastRebuild *views.RebuildResult
			}
		}
		res, err := engine.call("GET", "/v1/views", http.StatusOK)
		if err != nil {
			fmt.Fprintln(stderr, "ntsflow rebuild:", err)
			return 1
		}
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil {
			fmt.Fprintln(stderr, "ntsflow rebuild:", err)
			return 1
		}
		for _, v := range st.Views {
			if v.Name != name {
				continue
			}
			if v.Rebuilding != nil {
				show(*v.Rebuilding)
			}
			if lr := v.LastRebuild; lr != nil && !lr.At.Before(started.Started) {
				if lr.Error != "" {
					fmt.Fprintln(stderr, "ntsflow rebuild: failed:", lr.Error)
					return 1
				}
				fmt.Fprintf(stdout, "%s rebuilt and swapped in at sequence %d\n", name, v.Sequence)
				return 0
			}
		}
	}
}

func replay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asOfS := fs.String("as-of", "", "the moment (RFC 3339), e.g. 2025-06-30T23:59:59Z (required)")
	view := fs.String("view", "", "capacity, timeliness or referrals (required)")
	src := logSourceFlags(fs, "compute here from the log, with progress on stderr,")
	population := fs.String("population", "", "child population CSV, for thresholds when computing here")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ntsflow replay --as-of T --view NAME [--server URL | --nats-url URL | --data-dir DIR]

Prints, as JSON on stdout, a view as it stood at moment T: the fold of every
event recorded up to T, whatever came after. By default a running engine
computes it; with --nats-url or --data-dir this command reads the log itself and prints
progress (commits/s, percent, ETA) on stderr.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitParse(err)
	}
	asOf, err := time.Parse(time.RFC3339Nano, *asOfS)
	if err != nil || !views.Known(*view) {
		fmt.Fprintln(stderr, "ntsflow replay: give --as-of as an RFC 3339 time and --view as capacity, timeliness or referrals")
		return 2
	}
	var out any
	if src.local() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		store, closeStore, err := src.open(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "ntsflow replay:", err)
			return 1
		}
		defer closeStore()
		reg := refdata.Default()
		if *population != "" {
			if err := reg.LoadPopulation(*population); err != nil {
				fmt.Fprintln(stderr, "ntsflow replay:", err)
				return 1
			}
		}
		result, seq, err := views.ReportAsOf(ctx, store, reg, calendar.Default(), *view, asOf, printProgress(stderr, "replay "+*view))
		if err != nil {
			fmt.Fprintln(stderr, "ntsflow replay:", err)
			return 1
		}
		utc := asOf.UTC()
		out = map[string]any{"view": *view, "sequence": seq, "asOf": utc, "result": result}
	} else {
		path := map[string]string{"capacity": "/v1/capacity", "timeliness": "/v1/timeliness", "referrals": "/v1/referrals?limit=500"}[*view]
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		fmt.Fprintf(stderr, "replay %s as of %s: asking %s (the engine folds the log from the start)\n", *view, asOf.Format(time.RFC3339), *src.server)
		start := time.Now()
		res, err := src.call("GET", path+sep+"asOf="+url.QueryEscape(asOf.Format(time.RFC3339Nano)), http.StatusOK)
		if err != nil {
			fmt.Fprintln(stderr, "ntsflow replay:", err)
			return 1
		}
		defer res.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
			fmt.Fprintln(stderr, "ntsflow replay:", err)
			return 1
		}
		fmt.Fprintf(stderr, "replay %s: done in %s\n", *view, time.Since(start).Round(time.Millisecond))
		out = raw
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "ntsflow replay:", err)
		return 1
	}
	return 0
}

func exitParse(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
