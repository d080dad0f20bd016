package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/migrate"
)

// migrateStep, if set, hears of each step of the migration: the crash
// test kills the process there.
var migrateStep func(string)

var cmdMigrate = &Command{
	Name:      "migrate-personal-data",
	UsageLine: "migrate-personal-data (--data-dir DIR | --nats-url URL) [--dry-run] [--manifest FILE]",
	Short:     "seal the children's personal fields that events from before sealing hold in the clear",
	Long: `Events recorded before personal fields were sealed (issue 24) hold the
children's personal fields in the clear, and the log cannot forget them.
This command copies the whole log into a working stream with those fields
sealed under each child's key (a disposed child's are dropped: their key is
gone), the hash chains of the aggregates concerned computed again, and every
stream sequence kept; checks the copy (the chains verify, every sealed event
opens to exactly what it held); then replaces the events stream with it. The
sagas' consumers are put back where they were (the publisher's checkpoint
is the public stream, which names commits by the sequences the copy
keeps); the views' snapshots are deleted, so the views are built again on
the next start.

It first verifies the log and changes nothing if it does not verify, has
deleted messages, or holds nothing in the clear (so a second run does
nothing). --dry-run says what it would do and stops. If it is stopped or
killed at any point, run it again: it finishes from where it stopped, and
one complete copy of the log exists at every moment.

It writes a manifest (JSON, no personal data) of each re-chained
aggregate's chain head before and after, which links a backup taken before
the migration to the log after it: keep it with the audit records.

What it cannot do: every backup taken before it still holds the fields in
the clear (destroy those backups on their schedule), and the disk blocks
the old stream's files were in, and a cluster's RAFT logs until they are
compacted, may too (docs/design/privacy.md).

STOP EVERY ENGINE FIRST, and back up the data directory or the cluster's
streams; the migration needs about as much free disk as the events stream
takes, twice over at its peak.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		store := keyedStoreFlags(fs)
		dryRun := fs.Bool("dry-run", false, "say what the migration would do (aggregates, events, bytes), change nothing")
		manifest := fs.String("manifest", "", "where to write the manifest (default: beside the data directory, or in the current directory)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			st, key, closeStore, err := store.open(ctx, "migrate-personal-data", args, (*eventstore.Conn).AttachForMigration)
			if err != nil {
				return err
			}
			defer closeStore()
			path := *manifest
			if path == "" {
				path = migrate.DefaultManifest(*store.dataDir, time.Now())
			}
			res, err := migrate.Run(ctx, st, migrate.Options{ChainKey: key, DryRun: *dryRun, Manifest: path, Progress: stderr,
				Log: slog.New(slog.NewTextHandler(stderr, nil)).With("command", "migrate-personal-data"), Step: migrateStep})
			if err != nil {
				return err
			}
			c := res.Count
			switch res.Outcome {
			case migrate.NothingToDo:
				fmt.Fprintf(stdout, "nothing to do: none of the %d events (%d commits) holds a child's personal fields in the clear\n", c.Events, c.Commits)
				return nil
			case migrate.DryRun:
				if res.Resumed {
					fmt.Fprintln(stdout, "a migration was cut short after its copy was checked: run without --dry-run to finish it")
					return nil
				}
				fmt.Fprintf(stdout, "would seal %d events of %d children (%d of them disposed of: their fields dropped), re-chain %d more events of %d aggregates, "+
					"and rewrite %d of %d commits; the events stream takes %s, and the copy needs as much again free\n",
					c.Plaintext, c.Children, c.Disposed, c.Rechained, c.Aggregates, c.RewrittenCommits, c.Commits, humanBytes(c.Bytes))
				return nil
			}
			if res.Resumed {
				fmt.Fprintf(stdout, "finished the migration an earlier run began, in %s; its manifest: %s\n", res.Took.Round(time.Millisecond), res.Manifest)
				return nil
			}
			fmt.Fprintf(stdout, "sealed %d events of %d children (%d disposed of: their fields dropped), re-chained %d more events of %d aggregates, "+
				"rewrote %d of %d commits (%s) in %s (%.0f commits/s)\nmanifest: %s\nnow run 'ntsflow verify --data-dir' (or --nats-url), then start the engines\n",
				c.Plaintext, c.Children, c.Disposed, c.Rechained, c.Aggregates, c.RewrittenCommits, c.Commits, humanBytes(c.Bytes),
				res.Took.Round(time.Millisecond), float64(c.Commits)/max(res.Took.Seconds(), 1e-9), res.Manifest)
			return nil
		}
	},
}

// humanBytes is a size as people read it.
func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
