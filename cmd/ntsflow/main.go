// Command ntsflow is the engine for National Transfer Scheme referrals: one
// binary that serves the API with an embedded NATS JetStream (or a cluster
// by URL) and carries the operator's and auditor's tools.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/refdata"
)

const usage = `ntsflow: an event-sourced workflow engine for National Transfer Scheme referrals.

Usage:
  ntsflow <command> [flags]

Commands:
  serve     run the engine: HTTP API, embedded NATS JetStream (or --nats-url)
  rebuild   rebuild a view from zero beside the live one, then swap (asks a running engine)
  replay    compute a view as it stood at a past moment, for auditors
  history   print a referral's whole story
  export    stream the event history as JSON lines, for offline analysis
  verify    check the whole log's hash chain: nothing deleted, altered or forged
  simulate  drive a running engine with generated referrals, for demos
  bench     measure the engine beside raw JetStream on this machine
  token     make a bearer token for a role, and the line for the token file
  version   print the version

Run 'ntsflow <command> --help' for a command's flags.
`

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "rebuild":
		return rebuild(args[1:], stdout, stderr)
	case "replay":
		return replay(args[1:], stdout, stderr)
	case "history":
		return history(args[1:], stdout, stderr)
	case "export":
		return export(args[1:], stdout, stderr)
	case "verify":
		return verify(args[1:], stdout, stderr)
	case "simulate":
		return simulateCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ntsflow", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ntsflow: unknown command %q\n\n%s", args[0], usage)
	return 2
}

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

func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "authority:<ONS code>, region:<name>, auditor or operator (required)")
	name := fs.String("name", "", "who holds it, e.g. \"Stockport placements team\" (required)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ntsflow token --role ROLE --name NAME

Makes a random bearer token. The token is printed once, on stdout: give it to
its holder. The entry for the --tokens file (its SHA-256, never the token) is
printed on stderr: add it to the file's "tokens" list; the engine reloads the
file when it changes. Remove an entry to revoke its token.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitParse(err)
	}
	if *role == "" || *name == "" {
		fs.Usage()
		return 2
	}
	if err := auth.CheckName(*name); err != nil {
		fmt.Fprintln(stderr, "ntsflow token:", err)
		return 2
	}
	if _, err := auth.ParseRole(*role, refdata.Default()); err != nil {
		fmt.Fprintln(stderr, "ntsflow token:", err)
		return 2
	}
	tok, entry := auth.NewToken(*name, *role)
	b, _ := json.Marshal(entry)
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token file entry:\n%s\n", b)
	return 0
}
