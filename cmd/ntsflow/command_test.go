package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// Every command in the table is described, listed and answers --help: the
// usage text comes from the same table as the dispatch.
func TestEveryCommandIsInTheTable(t *testing.T) {
	var list, errb bytes.Buffer
	if code := run([]string{"help"}, &list, &errb); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	seen := map[string]bool{}
	for _, c := range commands {
		if c.Name == "" || c.UsageLine == "" || c.Short == "" || c.Long == "" || c.Flags == nil {
			t.Errorf("command %q: want a name, usage line, short and long help and flags: %+v", c.Name, c)
			continue
		}
		if seen[c.Name] {
			t.Errorf("command %q is in the table twice", c.Name)
		}
		seen[c.Name] = true
		if c.UsageLine != c.Name && !strings.HasPrefix(c.UsageLine, c.Name+" ") {
			t.Errorf("command %q: usage line %q does not start with its name", c.Name, c.UsageLine)
		}
		if !strings.Contains(list.String(), "  "+c.Name+" ") || !strings.Contains(list.String(), c.Short+"\n") {
			t.Errorf("command %q is not in the command list:\n%s", c.Name, list.String())
		}

		var out, errb bytes.Buffer
		if code := run([]string{c.Name, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d", c.Name, code)
		}
		if !strings.HasPrefix(errb.String(), "Usage: ntsflow "+c.UsageLine+"\n") {
			t.Errorf("%s --help does not start with its usage line:\n%s", c.Name, errb.String())
		}
		if !strings.Contains(errb.String(), firstLine(c.Long)) {
			t.Errorf("%s --help does not give its long help:\n%s", c.Name, errb.String())
		}

		out.Reset()
		if code := run([]string{"help", c.Name}, &out, io.Discard); code != 0 || out.String() != errb.String() {
			t.Errorf("help %s: exit %d, and not what --help says:\n%s", c.Name, code, out.String())
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestUnknownCommandListsTheCommands(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
			t.Errorf("%q does not say what is unknown:\n%s", args, errb.String())
		}
		for _, c := range commands {
			if !strings.Contains(errb.String(), "  "+c.Name+" ") {
				t.Errorf("%q does not list %s:\n%s", args, c.Name, errb.String())
			}
		}
	}
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "  serve ") {
		t.Errorf("no command: exit %d, %s", code, errb.String())
	}
}

// The dispatcher turns what a command returns into its message and exit
// status, in one place.
func TestDispatcherReportsErrors(t *testing.T) {
	var gotCtx context.Context
	probe := &Command{
		Name:      "probe",
		UsageLine: "probe [--fail KIND] [ARG]",
		Short:     "a command for this test",
		Long:      "Returns what --fail asks for.",
		Flags: func(fs *flag.FlagSet) runFunc {
			fail := fs.String("fail", "", "none, plain, usage, silent or verify")
			return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
				gotCtx = ctx
				switch *fail {
				case "plain":
					return errors.New("it broke")
				case "usage":
					return errUsage
				case "usagef":
					return usagef("give one %s", "thing")
				case "silent":
					return exitWith(1, nil)
				case "verify":
					return exitWith(2, errors.New("could not verify"))
				}
				stdout.Write([]byte(strings.Join(args, ",")))
				return nil
			}
		},
	}
	saved := commands
	commands = append(append([]*Command{}, commands...), probe)
	defer func() { commands = saved }()

	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string
		stderr   string // the whole of it, or "usage": the command's usage
		noStderr bool
	}{
		{args: []string{"probe", "a", "b"}, code: 0, stdout: "a,b", noStderr: true},
		{args: []string{"probe", "--fail", "plain"}, code: 1, stderr: "ntsflow probe: it broke\n"},
		{args: []string{"probe", "--fail", "usage"}, code: 2, stderr: "usage"},
		{args: []string{"probe", "--fail", "usagef"}, code: 2, stderr: "ntsflow probe: give one thing\n"},
		{args: []string{"probe", "--fail", "silent"}, code: 1, noStderr: true},
		{args: []string{"probe", "--fail", "verify"}, code: 2, stderr: "ntsflow probe: could not verify\n"},
		{args: []string{"probe", "--no-such-flag"}, code: 2},
		{args: []string{"probe", "-h"}, code: 0, stderr: "usage"},
	} {
		gotCtx = nil
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		if out.String() != tc.stdout {
			t.Errorf("%q: stdout %q, want %q", tc.args, out.String(), tc.stdout)
		}
		switch {
		case tc.noStderr && errb.Len() > 0:
			t.Errorf("%q: stderr %q, want nothing", tc.args, errb.String())
		case tc.stderr == "usage":
			if !strings.HasPrefix(errb.String(), "Usage: ntsflow probe [--fail KIND] [ARG]\n\nReturns what --fail asks for.\n\nFlags:\n  -fail string\n") {
				t.Errorf("%q: stderr is not the usage:\n%s", tc.args, errb.String())
			}
		case tc.stderr != "" && errb.String() != tc.stderr:
			t.Errorf("%q: stderr %q, want %q", tc.args, errb.String(), tc.stderr)
		}
		if gotCtx != nil && gotCtx.Err() == nil {
			t.Errorf("%q: the command's context still runs after the command returned", tc.args)
		}
	}
}
