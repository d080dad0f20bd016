package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// engineClient is how the tools (history, export, verify, replay, rebuild,
// simulate) talk to a running engine's HTTP API, with the bearer token an
// engine started with --tokens asks for.
type engineClient struct {
	server    *string
	tokenFile *string
	oldToken  *refusedSecretFlag
	token     *string // resolved by ready
	http      *http.Client
}

func engineFlags(fs *flag.FlagSet, serverUsage, tokenUsage string) engineClient {
	return engineClient{
		server:    fs.String("server", "http://127.0.0.1:8080", serverUsage),
		tokenFile: fs.String("token-file", "", tokenUsage+", in a file (default: $"+envToken+")"),
		oldToken:  refuseSecretFlag(fs, "token", "set $"+envToken+" or give --token-file FILE"),
		token:     new(string),
		// No overall timeout: an export of a long history streams for as
		// long as it takes; Ctrl-C stops it (the request's context).
		http: &http.Client{},
	}
}

// ready refuses a token on the command line and reads the token from its
// file or the environment; every tool calls it before its first request.
func (c engineClient) ready() error {
	if err := c.oldToken.check(); err != nil {
		return err
	}
	*c.token = os.Getenv(envToken)
	if *c.tokenFile != "" {
		tok, err := readTokenFile(*c.tokenFile)
		if err != nil {
			return err
		}
		*c.token = tok
	}
	return nil
}

// referral reads the one referral a tool asks the engine about, with the
// flags that may follow it, and then readies the client: a flag after the
// referral ("history REF --token-file F") counts as one before it.
func (c engineClient) referral(fs *flag.FlagSet, args []string) (string, error) {
	id, err := oneReferral(fs, args)
	if err != nil {
		return "", err
	}
	return id, c.ready()
}

// url is the engine's address for path.
func (c engineClient) url(path string) string { return strings.TrimRight(*c.server, "/") + path }

// request makes a request to the engine with the caller's token; it is
// abandoned when ctx ends.
func (c engineClient) request(ctx context.Context, method, path string, body io.Reader) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if tok := *c.token; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// call sends a request with no body and returns the response if its status
// is want; any other status is an error carrying the engine's answer.
func (c engineClient) call(ctx context.Context, method, path string, want int) (*http.Response, error) {
	res, err := c.http.Do(c.request(ctx, method, path, nil))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(b)))
	}
	return res, nil
}
