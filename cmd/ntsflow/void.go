package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

var cmdVoid = &Command{
	Name:      "void",
	UsageLine: "void --subject SUBJECT --sequence N --reason TEXT [--force] [--server URL]",
	Short:     "void one message nobody can read, on the record (asks a running engine; an operator's)",
	Long: `Records that the message at stream sequence N on SUBJECT is not part of its
aggregate's story: a message that does not decode (a referral answering 500
with code corrupt_history), or an event of a type this build does not read (the
views stopped, /readyz naming it). The message stays in the log; a void event
after it, on the same subject, says who voided it and why, and folds pass over
it. verify lists every void with what was wrong. A commit this engine reads is
never voided; one whose hash verifies under the chain key (most likely a newer
engine's) only with --force. See docs/runbook.md#message-nobody-can-read.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		engine := engineFlags(fs, "the running engine's HTTP address", "bearer token (an operator's)")
		subject := fs.String("subject", "", "the message's subject: nts.events.<kind>.<id> (a referral's: nts.events.referral.<id>)")
		seq := fs.String("sequence", "", "the message's stream sequence")
		reason := fs.String("reason", "", "why it is voided, in words (kept in the log)")
		force := fs.Bool("force", false, "void an unknown event even though an engine with the chain key wrote it")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if len(args) != 0 {
				return usagef("void takes flags only: --subject, --sequence, --reason")
			}
			n, err := strconv.ParseUint(*seq, 10, 64)
			if *subject == "" || err != nil || n == 0 || *reason == "" {
				return usagef("give --subject, --sequence (a whole number from 1) and --reason")
			}
			body, _ := json.Marshal(map[string]any{"subject": *subject, "sequence": n, "reason": *reason, "force": *force})
			res, err := engine.http.Do(engine.request(ctx, "POST", "/v1/voids", bytes.NewReader(body)))
			if err != nil {
				return err
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
			if res.StatusCode != http.StatusCreated {
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
					return fmt.Errorf("not voided (%s): %s", e.Error.Code, e.Error.Message)
				}
				return fmt.Errorf("not voided: %s: %s", res.Status, bytes.TrimSpace(b))
			}
			var out struct {
				Subject          string
				Voided, Sequence uint64
				Problem          string
			}
			if err := json.Unmarshal(b, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "voided stream sequence %d on %s (%s); the void is stream sequence %d\n", out.Voided, out.Subject, out.Problem, out.Sequence)
			return nil
		}
	},
}
