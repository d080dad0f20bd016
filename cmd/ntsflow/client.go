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
	server, token *string
	http          *http.Client
}

func engineFlags(fs *flag.FlagSet, serverUsage, tokenUsage string) engineClient {
	return engineClient{
		server: fs.String("server", "http://127.0.0.1:8080", serverUsage),
		// The token is not a flag default: --help prints defaults.
		token: fs.String("token", "", tokenUsage+" (default: $NTSFLOW_TOKEN)"),
		// No overall timeout: an export of a long history streams for as
		// long as it takes; Ctrl-C stops it (the request's context).
		http: &http.Client{},
	}
}

// url is the engine's address for path.
func (c engineClient) url(path string) string { return strings.TrimRight(*c.server, "/") + path }

// request makes a request to the engine with the caller's token; it is
// abandoned when ctx ends.
func (c engineClient) request(ctx context.Context, method, path string, body io.Reader) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, c.url(path), body)
	tok := *c.token
	if tok == "" {
		tok = os.Getenv("NTSFLOW_TOKEN")
	}
	if tok != "" {
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
