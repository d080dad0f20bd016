package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

var cmdDisposals = &Command{
	Name:      "disposals",
	UsageLine: "disposals (--nats-url URL | --data-dir DIR) [--reapply FILE]",
	Short:     "list the children's records disposed of, or apply such a list again after a restore",
	Long: `Without --reapply, prints every disposal the key store holds, one JSON object
a line ({"child": referral id, "at": when}): no personal data, so keep the
list apart from the backups (docs/runbook.md, "Backup and restore").

With --reapply FILE (such a list, "-" for standard input), destroys again the
key of every child it names that the store still holds: run it on a data
directory restored from a backup, before the engine serves it, so that no
key destroyed since the backup comes back. Prints how many were destroyed
again. The engine must be stopped (--data-dir) or reached through NATS.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		store := keyedStoreFlags(fs)
		reapply := fs.String("reapply", "", "a list of disposals to apply again")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			st, _, closeStore, err := store.open(ctx, "disposals", args, (*eventstore.Conn).Attach)
			if err != nil {
				return err
			}
			defer closeStore()
			if *reapply == "" {
				list, err := st.Disposals(ctx)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(stdout)
				for _, d := range list {
					enc.Encode(d)
				}
				fmt.Fprintf(stderr, "disposals: %d children's records disposed of\n", len(list))
				return nil
			}
			list, err := readDisposals(*reapply)
			if err != nil {
				return err
			}
			n, err := st.Reapply(ctx, list)
			fmt.Fprintf(stdout, "destroyed %d keys again (%d disposals in the list)\n", n, len(list))
			return err
		}
	},
}

func readDisposals(path string) ([]eventstore.Disposal, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out []eventstore.Disposal
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var d eventstore.Disposal
		if err := events.DecodeStrict(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s line %d: not a disposal as 'ntsflow disposals' prints it: %w", path, line, err)
		}
		if d.Child == "" {
			return nil, fmt.Errorf("%s line %d: a disposal names the child (\"child\")", path, line)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New(path + ": no disposals in the list")
	}
	return out, nil
}

// storeFlags name the store a maintenance command works on itself, with
// the chain key: through NATS, or in a stopped engine's data directory.
type storeFlags struct{ natsURL, dataDir, keyFile *string }

func keyedStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		natsURL: fs.String("nats-url", "", "the NATS server or cluster holding the store"),
		dataDir: fs.String("data-dir", "", "...or a stopped engine's data directory"),
		keyFile: fs.String("chain-key-file", "", "the chain key file (default: DATA-DIR/chain.key with --data-dir, else the key kept in NATS)"),
	}
}

// open opens the store the flags name for a tool that reads or changes the
// children's keys: the log (opened with attach), its chain key, and the
// key store opened with the key derived from it. name is the command's,
// which takes no arguments.
func (f storeFlags) open(ctx context.Context, name string, args []string, attach func(*eventstore.Conn, context.Context) (*eventstore.Store, error)) (*eventstore.Store, []byte, func(), error) {
	if (*f.natsURL == "") == (*f.dataDir == "") || len(args) > 0 {
		return nil, nil, nil, usagef("%s needs one of --nats-url and --data-dir, and no arguments", name)
	}
	st, closeStore, err := localStoreWith(ctx, *f.natsURL, *f.dataDir, nil, attach)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := toolChainKey(ctx, st, *f.keyFile, *f.dataDir)
	if err == nil {
		err = st.OpenKeys(ctx, events.KeyStoreKey(key))
	}
	if err != nil {
		closeStore()
		return nil, nil, nil, err
	}
	return st, key, closeStore, nil
}
