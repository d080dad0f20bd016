package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
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

var cmdRebuild = &Command{
	Name:      "rebuild",
	UsageLine: "rebuild [--server URL] VIEW",
	Short:     "rebuild a view from zero beside the live one, then swap (asks a running engine)",
	Long: `Asks a running engine to rebuild VIEW (one of ` + strings.Join(views.Names(), ", ") + `) from
the start of the event log, beside the live view, which keeps answering; when
the new one has caught up it is swapped in. Progress (commits/s, percent, ETA)
is printed on stderr until the rebuild ends.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		engine := engineFlags(fs, "the running engine's HTTP address", "bearer token (an operator's)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := engine.ready(); err != nil {
				return err
			}
			if len(args) != 1 || !views.Known(args[0]) {
				return usagef("name one view: %s", strings.Join(views.Names(), ", "))
			}
			name := args[0]
			res, err := engine.call(ctx, "POST", "/v1/views/"+name+"/rebuild", http.StatusAccepted)
			if err != nil {
				return err
			}
			var started struct{ Started time.Time }
			err = json.NewDecoder(res.Body).Decode(&started)
			res.Body.Close()
			if err != nil {
				return err
			}
			show := printProgress(stderr, "rebuild "+name)
			poll := time.NewTicker(time.Second)
			defer poll.Stop()
			for {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-poll.C:
				}
				var st struct {
					Views []struct {
						Name        string
						Sequence    uint64
						Rebuilding  *views.Progress
						LastRebuild *views.RebuildResult
					}
				}
				res, err := engine.call(ctx, "GET", "/v1/views", http.StatusOK)
				if err != nil {
					return err
				}
				err = json.NewDecoder(res.Body).Decode(&st)
				res.Body.Close()
				if err != nil {
					return err
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
							return fmt.Errorf("failed: %s", lr.Error)
						}
						fmt.Fprintf(stdout, "%s rebuilt and swapped in at sequence %d\n", name, v.Sequence)
						return nil
					}
				}
			}
		}
	},
}

var cmdReplay = &Command{
	Name:      "replay",
	UsageLine: "replay --as-of T --view NAME [--server URL | --nats-url URL | --data-dir DIR]",
	Short:     "compute a view as it stood at a past moment, for auditors",
	Long: `Prints, as JSON on stdout, a view as it stood at moment T: the fold of every
event recorded up to T, whatever came after. By default a running engine
computes it; with --nats-url or --data-dir this command reads the log itself and prints
progress (commits/s, percent, ETA) on stderr.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		asOfS := fs.String("as-of", "", "the moment (RFC 3339), e.g. 2025-06-30T23:59:59Z (required)")
		view := fs.String("view", "", "the view: "+strings.Join(views.Names(), ", ")+" (required)")
		src := logSourceFlags(fs, "compute here from the log, with progress on stderr,")
		population := fs.String("population", "", "child population CSV, for thresholds when computing here")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := src.ready(); err != nil {
				return err
			}
			asOf, err := time.Parse(time.RFC3339Nano, *asOfS)
			if err != nil || !views.Known(*view) {
				return usagef("give --as-of as an RFC 3339 time and --view as one of %s", strings.Join(views.Names(), ", "))
			}
			var out any
			if src.local() {
				store, closeStore, err := src.open(ctx)
				if err != nil {
					return err
				}
				defer closeStore()
				reg := refdata.Default()
				if *population != "" {
					if err := reg.LoadPopulation(*population); err != nil {
						return err
					}
				}
				result, seq, err := views.ReportAsOf(ctx, store, reg, calendar.Default(), *view, asOf, time.Duration(safeguarding.DefaultPolicy().AlertMissingLongerThan), printProgress(stderr, "replay "+*view))
				if err != nil {
					return err
				}
				utc := asOf.UTC()
				out = map[string]any{"view": *view, "sequence": seq, "asOf": utc, "result": result}
			} else {
				// The API's routes for the views people read; a view that is
				// an engine's own index (deadlines) has none.
				path, ok := map[string]string{"capacity": "/v1/capacity", "timeliness": "/v1/timeliness", "referrals": "/v1/referrals?limit=500", "safeguarding": "/v1/safeguarding"}[*view]
				if !ok {
					return usagef("the %s view is not served by the API: replay it from the log with --nats-url or --data-dir", *view)
				}
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				fmt.Fprintf(stderr, "replay %s as of %s: asking %s (the engine folds the log from the start)\n", *view, asOf.Format(time.RFC3339), *src.server)
				start := time.Now()
				res, err := src.call(ctx, "GET", path+sep+"asOf="+url.QueryEscape(asOf.Format(time.RFC3339Nano)), http.StatusOK)
				if err != nil {
					return err
				}
				defer res.Body.Close()
				var raw json.RawMessage
				if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "replay %s: done in %s\n", *view, time.Since(start).Round(time.Millisecond))
				out = raw
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
	},
}
