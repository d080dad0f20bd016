// Command ntsflow is the engine for National Transfer Scheme referrals: one
// binary that serves the API with an embedded NATS JetStream (or a cluster
// by URL) and carries the operator's and auditor's tools.
//
//ntsflow:shell
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/refdata"
)

var version = "dev"

// newLogger logs JSON for machines, or text when a person is watching.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

var cmdVersion = &Command{
	Name:      "version",
	UsageLine: "version",
	Short:     "print the version",
	Long:      "Prints the version of this binary.",
	Flags: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fmt.Fprintln(stdout, "ntsflow", version)
			return nil
		}
	},
}

var cmdToken = &Command{
	Name:      "token",
	UsageLine: "token --role ROLE --name NAME",
	Short:     "make a bearer token for a role, and the line for the token file",
	Long: `Makes a random bearer token. The token is printed once, on stdout: give it to
its holder. The entry for the --tokens file (its SHA-256, never the token) is
printed on stderr: add it to the file's "tokens" list; the engine reloads the
file when it changes. Remove an entry to revoke its token.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		role := fs.String("role", "", "authority:<ONS code>, region:<name>, auditor, operator or data-protection (required)")
		name := fs.String("name", "", "who holds it, e.g. \"Stockport placements team\" (required)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if *role == "" || *name == "" {
				return errUsage
			}
			if err := auth.CheckName(*name); err != nil {
				return usagef("%v", err)
			}
			if _, err := auth.ParseRole(*role, refdata.Default()); err != nil {
				return usagef("%v", err)
			}
			tok, entry := auth.NewToken(*name, *role)
			b, _ := json.Marshal(entry)
			fmt.Fprintln(stdout, tok)
			fmt.Fprintf(stderr, "token file entry:\n%s\n", b)
			return nil
		}
	},
}
