package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

var cmdSubjectAccess = &Command{
	Name:      "subject-access",
	UsageLine: "subject-access --reason TEXT [--out FILE] [--server URL] REFERRAL",
	Short:     "export everything held about a child, for a subject access request",
	Long: "Asks the running engine for everything held about the child of REFERRAL (a data protection officer's token) " +
		"and writes the zip it answers with: record.html (every event in words, London times), events.json and README.txt. " +
		"The export is recorded in the child's history and in the read audit, with the reason. " +
		"It is written to --out, or to the name the engine gives in the current directory; an existing file is never replaced.",
	Flags: func(fs *flag.FlagSet) runFunc {
		engine := engineFlags(fs, "the running engine's HTTP address", "bearer token (the data protection officer's)")
		reason := fs.String("reason", "", "the request the export answers: who asked and when (required)")
		out := fs.String("out", "", "the file to write (default: the engine's name for it, in the current directory)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			id, err := engine.referral(fs, args)
			if err != nil {
				return err
			}
			if strings.TrimSpace(*reason) == "" {
				return usagef("say why with --reason: the export is recorded with it")
			}
			body, _ := json.Marshal(map[string]string{"reason": *reason})
			res, err := engine.http.Do(engine.request(ctx, "POST", "/v1/referrals/"+url.PathEscape(id)+"/subject-access", strings.NewReader(string(body))))
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
				return fmt.Errorf("the export was refused: %s: %s", res.Status, strings.TrimSpace(string(b)))
			}
			name := *out
			if name == "" {
				_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
				name = filepath.Base(params["filename"])
				if name == "." || name == "/" || name == "" {
					name = "subject-access-" + id + ".zip"
				}
			}
			// O_EXCL: an earlier export (someone's copy of a child's record)
			// is never overwritten by accident.
			f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write the export: %w (the export was made and recorded; run again with another --out)", err)
			}
			n, err := io.Copy(f, res.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(name)
				return fmt.Errorf("write the export: %w", err)
			}
			fmt.Fprintf(stdout, "wrote %s (%d bytes); the export is recorded as event %s\n", name, n, res.Header.Get("X-Export-Event"))
			return nil
		}
	},
}
