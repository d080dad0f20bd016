package main

import (
	"bytes"
	"strings"
	"testing"
)

// The tools that work on the store itself name it one way only, and say
// so in their own name when asked wrongly.
func TestStoreToolsNeedOneStoreAndNoArguments(t *testing.T) {
	for _, name := range []string{"disposals", "migrate-personal-data"} {
		for _, args := range [][]string{
			{name},
			{name, "--nats-url", "nats://127.0.0.1:1", "--data-dir", t.TempDir()},
			{name, "--data-dir", t.TempDir(), "extra"},
		} {
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			want := name + " needs one of --nats-url and --data-dir, and no arguments"
			if code != 2 || !strings.Contains(errb.String(), want) {
				t.Errorf("%q: exit %d, stderr %q; want exit 2 saying %q", args, code, errb.String(), want)
			}
		}
	}
}
