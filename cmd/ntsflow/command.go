package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// A Command is one of ntsflow's commands, as the Go tool's own
// cmd/go/internal/base describes its commands: the top-level usage, the
// command's --help and 'ntsflow help NAME' are all written from these
// fields, and the dispatcher runs the command by the same entry, so the
// usage and the dispatch cannot drift apart.
type Command struct {
	// Name is what the user types: ntsflow NAME.
	Name string
	// UsageLine is the one-line usage, without the leading "ntsflow ";
	// it starts with Name.
	UsageLine string
	// Short is the line in the top-level command list.
	Short string
	// Long is the command's help, printed under its usage line and above
	// its flags.
	Long string
	// Flags defines the command's flags on fs and returns the function
	// that runs it once they are parsed, with the arguments that follow
	// them. ctx ends on SIGINT or SIGTERM.
	Flags func(fs *flag.FlagSet) runFunc
}

type runFunc = func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// commands is the table, in the order the usage lists them.
var commands = []*Command{
	cmdServe,
	cmdRebuild,
	cmdReplay,
	cmdHistory,
	cmdExport,
	cmdVerify,
	cmdVoid,
	cmdSubjectAccess,
	cmdDisposals,
	cmdMigrate,
	cmdSimulate,
	cmdBench,
	cmdToken,
	cmdVersion,
}

func lookup(name string) *Command {
	for _, c := range append(commands[:len(commands):len(commands)], hiddenCommands...) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// errUsage says a command was called wrongly: the dispatcher prints the
// command's usage and exits 2.
var errUsage = errors.New("usage")

// usagef says a command was called wrongly, and how, in one line: the
// dispatcher prints it and exits 2.
func usagef(format string, a ...any) error { return exitWith(2, fmt.Errorf(format, a...)) }

// exitError ends the command with an exit status other than 1 (a nil err
// says nothing more), or silently with any status: the command has already
// printed what it found (verify's problems, simulate's failures).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

func exitWith(code int, err error) error { return exitError{code, err} }

// parseFlags parses args with fs for a command that parses more than once
// (history takes flags after its argument too). The flag package has
// already printed what was wrong and the usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitWith(2, nil)
	}
	return nil
}

func topUsage(w io.Writer) {
	fmt.Fprint(w, `ntsflow: an event-sourced workflow engine for National Transfer Scheme referrals.

Usage:
  ntsflow <command> [flags]

Commands:
`)
	width := 0
	for _, c := range commands {
		width = max(width, len(c.Name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Short)
	}
	fmt.Fprint(w, "\nRun 'ntsflow <command> --help' for a command's flags.\n")
}

// flagSet makes the command's flag set, writing to out, with its usage
// written from the table, and the run function bound to it.
func (c *Command) flagSet(out io.Writer) (*flag.FlagSet, runFunc) {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	run := c.Flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: ntsflow %s\n\n%s\n", c.UsageLine, strings.TrimRight(c.Long, "\n"))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs, run
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the dispatcher: it finds the command in the table, parses its
// flags, runs it with a context that ends on SIGINT or SIGTERM, and turns
// what it returns into the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		topUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "ntsflow: unknown command %q\n\n", name)
		topUsage(stderr)
		return 2
	}
	fs, runCmd := cmd.flagSet(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := runCmd(ctx, fs.Args(), stdout, stderr)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errUsage) {
		fs.SetOutput(stderr)
		fs.Usage()
		return 2
	}
	code := 1
	var ee exitError
	if errors.As(err, &ee) {
		if ee.err == nil {
			return ee.code
		}
		code, err = ee.code, ee.err
	}
	fmt.Fprintf(stderr, "ntsflow %s: %v\n", name, err)
	return code
}

// help prints the command list, or one command's usage, on stdout.
func help(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		topUsage(stdout)
		return 0
	case 1:
		if cmd := lookup(args[0]); cmd != nil {
			fs, _ := cmd.flagSet(stdout)
			fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "ntsflow help: unknown command %q\n\n", args[0])
	}
	fmt.Fprint(stderr, "Usage: ntsflow help [command]\n\n")
	topUsage(stderr)
	return 2
}
