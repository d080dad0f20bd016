package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Secrets never come on the command line: any user of the machine can read
// a process's arguments (ps, /proc). They come from a file or the
// environment, and the flags that once took them refuse, naming what
// replaced them.

// Environment variables that carry secrets.
const (
	envToken        = "NTSFLOW_TOKEN"
	envNATSPassword = "NTSFLOW_NATS_PASSWORD"
)

// errSecretOnCommandLine is what every refusal of a secret flag wraps.
var errSecretOnCommandLine = errors.New("secrets on the command line can be read by any user of this machine (ps)")

// refusedSecretFlag defines a flag that used to take a secret: setting it is
// refused with the replacement, rather than "flag provided but not
// defined", which would not say what to do instead.
type refusedSecretFlag struct {
	name, instead string
	set           bool
}

func (f *refusedSecretFlag) String() string { return "" }
func (f *refusedSecretFlag) Set(string) error {
	f.set = true
	return nil
}

func (f *refusedSecretFlag) check() error {
	if !f.set {
		return nil
	}
	return usagef("--%s is no longer accepted: %v; %s", f.name, errSecretOnCommandLine, f.instead)
}

func refuseSecretFlag(fs *flag.FlagSet, name, instead string) *refusedSecretFlag {
	f := &refusedSecretFlag{name: name, instead: instead}
	fs.Var(f, name, "no longer accepted (a secret on the command line): "+instead)
	return f
}

// natsLogin is how the engine and the tools log in to a NATS server they
// reach by URL: a user named on the command line, its password from a file
// or the environment.
type natsLogin struct {
	user, passwordFile string
}

func natsLoginFlags(fs *flag.FlagSet, l *natsLogin) {
	fs.StringVar(&l.user, "nats-user", "", "with --nats-url: the NATS user to log in as (default "+eventstore.EngineUser+" when a password is given); its password comes from --nats-password-file or $"+envNATSPassword)
	fs.StringVar(&l.passwordFile, "nats-password-file", "", "with --nats-url: a file holding the NATS user's password (default: $"+envNATSPassword+")")
}

// login checks that natsURL carries no credentials and returns the user
// to log in as, if a password is given (nil: none).
func (l natsLogin) login(natsURL string) (*eventstore.Login, error) {
	for _, u := range strings.Split(natsURL, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err == nil && pu.User != nil {
			return nil, fmt.Errorf("--nats-url %s carries a user or password: %w; give the user with --nats-user and the password in $%s or --nats-password-file", pu.Redacted(), errSecretOnCommandLine, envNATSPassword)
		}
	}
	password := os.Getenv(envNATSPassword)
	if l.passwordFile != "" {
		b, err := os.ReadFile(l.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--nats-password-file: %w", err)
		}
		if password = strings.TrimRight(string(b), "\r\n"); password == "" {
			return nil, fmt.Errorf("--nats-password-file %s is empty", l.passwordFile)
		}
	}
	user := l.user
	switch {
	case password == "" && user != "":
		return nil, fmt.Errorf("--nats-user %s has no password: put it in $%s or a file named by --nats-password-file", user, envNATSPassword)
	case password == "":
		return nil, nil
	case user == "":
		user = eventstore.EngineUser
	}
	return &eventstore.Login{User: user, Password: password}, nil
}

// readTokenFile reads a bearer token from a file (one line).
func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("--token-file %s is empty", path)
	}
	return tok, nil
}
