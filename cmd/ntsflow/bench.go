package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ntsflow/ntsflow/bench"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/simulate"
)

// benchParts are bench's parts, in the order they run.
var benchParts = []string{"appends", "commands", "http", "load", "rebuild", "memory", "timers", "mix", "writes"}

var cmdBench = &Command{
	Name:      "bench",
	UsageLine: "bench [--quick] [--json FILE] [--parts LIST] [flags]",
	Short:     "measure the engine beside raw JetStream on this machine",
	Long: `Measures the engine on this machine, each figure beside raw JetStream measured
in the same run on the same kind of embedded server (fsync on every write,
the default, unless a part says otherwise). The parts (--parts, comma-
separated; all by default):

  appends   4 writers, 256-byte events, 10,000 streams flat and with a hot
            set, 1- and 3-event commits, fsync on every write and interval
            sync; interleaved with raw sync and async publishes.
  commands  referral lifecycles through the engine in process, closed loop,
            interleaved with raw publishes; CPU per command from /proc.
  http      one command through the API in process, open loop at fixed rates.
  load      loading referrals of 10, 50 and 500 events among others'.
  rebuild   each view rebuilt from zero over a generated history (--events),
            beside a raw ordered read of the same stream.
  memory    serve's peak RSS holding that history and its open referrals.
  timers    --timers deadlines falling due in the same second through the
            real deadline saga: lateness (due to breach stored) p50, p95,
            p99 and max, and breaches lost and doubled, just after the raw
            floors on the same server (as many commit-sized messages as
            synchronous publishes from 16 clients, and as atomic batches of
            100). 10,000 by default; pass --timers 100000 for the large burst.
  mix       the issue-17 HTTP mix (receive, notify, in-house search,
            commissioned search, place; a fifth each: rate x seconds/10
            referrals in flight, each taken through the mix twice) offered
            open loop to a fresh 'serve' started from this binary (or
            --serve-bin) with its views, sagas and publisher, a fresh data
            directory each window, fsync on every write, logging warnings
            only (not every request). Each of --rounds rounds runs, for each of
            --rates: raw JetStream (4 clients publishing a commit-sized
            message synchronously to a fresh embedded server) for --seconds,
            then the mix at that rate for --seconds. Reported per rate and
            round: offered and achieved rate, p50/p99 from each command's
            due instant (no coordinated omission), errors by kind, and
            serve's CPU per command (utime+stime from /proc/PID/stat over
            the window and the drain until serve is idle, at most --drain);
            raw publishes/s and CPU per publish beside them; then the
            highest rate with p99 <= 50 ms and no errors in every round.
            Two modes (--modes), each run in every round at every rate
            after the same raw window: cold (the headline) first seeds
            --cold-referrals referrals through a serve's API (10 x the
            engine's cache of 1,024 by default), the j-th taken through
            j mod 5 steps, and starts each window's serve on a copy of
            that store, its cache empty; the window sends its commands to
            those referrals in turn, so a referral's next command comes
            only after one to every other: every follow-up loads its
            referral from the store, as a step taken days after the last
            does. warm: each referral's commands a tenth of the window
            apart, always in the engine's cache.
  writes    in each of --modes, the mix at --writes-rate for --seconds and
            its drain (cold: on a seed of its own, as the mix's), with
            'strace -f -y -e trace=fsync,fdatasync,openat' attached to
            serve: synced writes per command (fsync and fdatasync calls,
            and files opened O_SYNC; "not measured" without strace or
            ptrace), divided by whose file they synced (a stream, a consumer's
            state, a raft group's log), and the messages each stream
            (NTS_EVENTS, NTS_PUBLIC, NTS_TIMERS) gained per command, read
            over serve's NATS port.

--cluster r3 also runs the mix on a replicated cluster, in the same rounds:
three nats-server processes on this machine (this binary's hidden
'nats-node' command: the server from go.mod), each with its own directory
and loopback ports, fsync on every write, stopped and removed after each
window, and on exit or Ctrl-C. Each round and rate then adds raw
publishes to a fresh cluster's R3 stream from 4, 16 and 64 synchronous
clients (a connection each) and the mix in each mode with serve on a
fresh cluster (--nats-url, --replicas 3; cold: on a copy of a seeded
cluster). Reported as the embedded runs are, with the three nodes' CPU per
command beside serve's; the summary's baseline is the 64 clients'.
The writes part then also runs in each mode with serve on a fresh cluster,
counting the three nodes' synced writes (strace on each) and reading the streams
over the cluster's client ports.

--quick runs every part at tiny sizes in seconds: it checks the harness, not
the figures. --json writes every row, with the mix's rates, rounds, error
kinds, fsyncs and messages per command, to a file.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		quick := fs.Bool("quick", false, "a seconds-long smoke run of every part (checks the harness, not the figures)")
		jsonOut := fs.String("json", "", "also write the rows as JSON to this file")
		parts := fs.String("parts", strings.Join(benchParts, ","), "which parts to run")
		nEvents := fs.Int("events", 1_000_000, "history size for the rebuild and memory parts")
		nTimers := fs.Int("timers", 10_000, "deadlines due in the same second in the timers part")
		ops := fs.Int("ops", 5000, "appends per writer in the append part")
		dir := fs.String("dir", "", "where the embedded servers and serves keep their data (default: a temporary directory, removed after)")
		rates := fs.String("rates", "300,600,1000,1500", "mix: offered rates, commands per second")
		rounds := fs.Int("rounds", 3, "mix: rounds, each running raw and then serve at every rate")
		seconds := fs.Int("seconds", 10, "mix and writes: seconds each window offers commands (and each raw window publishes)")
		drain := fs.Duration("drain", 30*time.Second, "mix and writes: the longest wait after a window for serve to go idle")
		writesRate := fs.Int("writes-rate", 200, "writes: offered rate, commands per second")
		modes := fs.String("modes", "cold,warm", "mix: the modes, cold and/or warm (see above)")
		coldReferrals := fs.Int("cold-referrals", 0, "mix: referrals the cold mode spreads its commands over (default 10 x the engine's cache)")
		cluster := fs.String("cluster", "", "mix: also run on a replicated cluster (r3: three nats-server processes on this machine; see above)")
		loadConns := fs.Int("load-conns", 0, "mix and writes: serve's --load-conns (0: serve's default)")
		appendConns := fs.Int("append-conns", 0, "mix and writes: serve's --append-conns (0: serve's default)")
		profileDir := fs.String("profile", "", "mix: write serve's CPU, block, mutex and goroutine profiles of every window to this directory (serve --pprof-addr; the serve binary must have it), and on the cluster each node's (NAME-node-n1 ...)")
		serveBin := fs.String("serve-bin", "", "mix and writes: the ntsflow binary whose serve is measured (default: this one), to measure another build with this harness")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			mixOpts := bench.MixOptions{Rounds: *rounds, Window: time.Duration(*seconds) * time.Second, Drain: *drain, WritesRate: *writesRate, Bin: *serveBin, ColdReferrals: *coldReferrals}
			for _, m := range strings.Split(*modes, ",") {
				m = strings.TrimSpace(m)
				if m != "cold" && m != "warm" {
					return usagef("--modes %q: the modes are cold and warm, comma-separated", *modes)
				}
				mixOpts.Modes = append(mixOpts.Modes, m)
			}
			switch *cluster {
			case "":
			case "r3":
				mixOpts.Cluster = true
			default:
				return usagef("--cluster %q: the one cluster bench runs is r3 (three processes, three replicas)", *cluster)
			}
			for _, c := range []struct {
				flag string
				n    int
			}{{"--load-conns", *loadConns}, {"--append-conns", *appendConns}} {
				if c.n < 0 {
					return usagef("%s %d: want a number of connections (or 0 for serve's default)", c.flag, c.n)
				}
				if c.n > 0 {
					mixOpts.ServeArgs = append(mixOpts.ServeArgs, c.flag, strconv.Itoa(c.n))
				}
			}
			if *profileDir != "" {
				if err := os.MkdirAll(*profileDir, 0o750); err != nil {
					return fmt.Errorf("--profile: %w", err)
				}
				mixOpts.ProfileDir = *profileDir
			}
			if *coldReferrals < 0 {
				return usagef("--cold-referrals %d: want a positive number of referrals (or 0 for the default)", *coldReferrals)
			}
			for _, r := range strings.Split(*rates, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(r))
				if err != nil || n <= 0 {
					return usagef("--rates %q: want positive whole numbers, comma-separated", *rates)
				}
				mixOpts.Rates = append(mixOpts.Rates, n)
			}
			if *rounds < 1 || *seconds < 1 || *writesRate < 1 {
				return usagef("--rounds, --seconds and --writes-rate must be at least 1")
			}
			if *quick {
				*nEvents, *nTimers, *ops = 3000, 50, 100
				mixOpts.Rates, mixOpts.Rounds, mixOpts.Window, mixOpts.Drain, mixOpts.WritesRate = []int{50}, 1, 2*time.Second, 5*time.Second, 50
				if mixOpts.ColdReferrals == 0 {
					mixOpts.ColdReferrals = 200
				}
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			mixOpts.NodeBin = self
			if mixOpts.Bin == "" {
				mixOpts.Bin = self
			}
			base := *dir
			if base == "" {
				var err error
				if base, err = os.MkdirTemp("", "ntsflow-bench-"); err != nil {
					return err
				}
				defer os.RemoveAll(base)
			}
			want := map[string]bool{}
			for _, p := range strings.Split(*parts, ",") {
				p = strings.TrimSpace(p)
				if !slices.Contains(benchParts, p) {
					return usagef("--parts: no part %q (the parts: %s)", p, strings.Join(benchParts, ","))
				}
				want[p] = true
			}
			var rows []bench.Row
			say := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
			fail := func(part string, err error) error { return fmt.Errorf("%s: %w", part, err) }
			say("%d cores (GOMAXPROCS %d), %s/%s, go %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
			// onStore runs one part on a store of its own in base/dir
			// (synced every syncEvery; 0: on each write), closed after, and
			// keeps the rows it measured.
			onStore := func(part, dir string, syncEvery time.Duration, run func(*bench.Server) ([]bench.Row, error)) error {
				srv, err := bench.Open(ctx, filepath.Join(base, dir), syncEvery)
				if err != nil {
					return fail(part, err)
				}
				defer srv.Close()
				r, err := run(srv)
				if err != nil {
					return fail(part, err)
				}
				rows = append(rows, r...)
				return nil
			}

			if want["appends"] {
				for _, mode := range []struct {
					name  string
					every time.Duration
				}{{"fsync every write (default)", 0}, {"interval sync (1m)", time.Minute}} {
					err := onStore("appends", "appends-"+fmt.Sprint(mode.every), mode.every, func(srv *bench.Server) ([]bench.Row, error) {
						var all []bench.Row
						for _, o := range []bench.AppendOptions{
							{Writers: 4, OpsPerWriter: *ops, Streams: 10000, EventsPerCommit: 1, PayloadBytes: 256},
							{Writers: 4, OpsPerWriter: *ops, Streams: 10000, Zipf: true, EventsPerCommit: 1, PayloadBytes: 256},
							{Writers: 4, OpsPerWriter: *ops / 3, Streams: 10000, EventsPerCommit: 3, PayloadBytes: 256},
						} {
							say("appends: %s: %d writers, zipf %v, %d-event commits", mode.name, o.Writers, o.Zipf, o.EventsPerCommit)
							r, err := bench.Appends(ctx, srv.Store, o, fmt.Sprintf("m%d-z%v-e%d-", mode.every, o.Zipf, o.EventsPerCommit))
							if err != nil {
								return nil, err
							}
							for i := range r {
								r[i].Group = mode.name + ": " + r[i].Group
							}
							all = append(all, r...)
						}
						return all, nil
					})
					if err != nil {
						return err
					}
				}
			}
			if want["commands"] {
				o := bench.CommandOptions{Writers: 4, Commands: 1000, Rounds: 5, Active: 50}
				if *quick {
					o.Commands, o.Rounds = 25, 2
				}
				say("commands: %d writers, %d rounds of %d commands each, interleaved with raw publishes", o.Writers, o.Rounds, o.Commands)
				if err := onStore("commands", "commands", 0, func(srv *bench.Server) ([]bench.Row, error) {
					return bench.Commands(ctx, srv.Store, o, "c")
				}); err != nil {
					return err
				}
			}
			if want["http"] {
				rates, each := []int{100, 500, 2000}, 10*time.Second
				if *quick {
					rates, each = []int{50}, time.Second
				}
				say("http: offered rates %v, %s each", rates, each)
				if err := onStore("http", "http", 0, func(srv *bench.Server) ([]bench.Row, error) {
					return bench.HTTP(ctx, srv.Store, rates, each)
				}); err != nil {
					return err
				}
			}
			if want["load"] {
				times := 1000
				if *quick {
					times = 20
				}
				say("load: referrals of 10, 50 and 500 events, %d loads each", times)
				if err := onStore("load", "load", time.Minute, func(srv *bench.Server) ([]bench.Row, error) {
					return bench.Load(ctx, srv.Store, []int{10, 50, 500}, times)
				}); err != nil {
					return err
				}
			}
			historyDir := filepath.Join(base, "history")
			var loadedEvents, openReferrals int
			if want["rebuild"] || want["memory"] {
				srv, err := bench.Open(ctx, historyDir, time.Minute)
				if err != nil {
					return fail("rebuild", err)
				}
				say("rebuild: loading a generated history of %d events", *nEvents)
				ev, commits, err := bench.LoadHistory(ctx, srv.Store, 1, *nEvents, stderr)
				if err != nil {
					return fail("rebuild", err)
				}
				loadedEvents = ev
				if want["rebuild"] {
					r, err := bench.Rebuild(ctx, srv.Store, uint64(ev))
					if err != nil {
						return fail("rebuild", err)
					}
					for _, x := range rowsOf(r) {
						x.Group = fmt.Sprintf("rebuild from zero: %d events in %d commits", ev, commits)
						rows = append(rows, x)
					}
				}
				if want["memory"] {
					openReferrals = max(100, *nEvents/10)
					say("memory: adding %d open referrals", openReferrals)
					if err := addOpenReferrals(ctx, srv, openReferrals); err != nil {
						return fail("memory", err)
					}
				}
				srv.Close()
			}
			if want["memory"] {
				say("memory: serve holding the history")
				rss, took, err := peakRSS(ctx, historyDir)
				if err != nil {
					return fail("memory", err)
				}
				rows = append(rows, bench.Row{Group: "memory", Name: fmt.Sprintf("serve holding %d events and %d open referrals, views caught up", loadedEvents+2*openReferrals, openReferrals),
					Seconds: took.Seconds(), Note: fmt.Sprintf("peak RSS %.0f MiB (VmHWM), start to views caught up %s", float64(rss)/1024, took.Round(time.Millisecond))})
			}
			if want["timers"] {
				say("timers: %d deadlines due together", *nTimers)
				if err := onStore("timers", "timers", 0, func(srv *bench.Server) ([]bench.Row, error) {
					r, err := bench.Timers(ctx, srv.Store, *nTimers, 1)
					return []bench.Row{r}, err
				}); err != nil {
					return err
				}
			}
			if want["mix"] || want["writes"] {
				mixOpts.Dir = filepath.Join(base, "serve")
				mixOpts.Say = say
			}
			if want["mix"] {
				say("mix: modes %v, rates %v, %d rounds, %s windows, serve %s, R3 cluster %v", mixOpts.Modes, mixOpts.Rates, mixOpts.Rounds, mixOpts.Window, mixOpts.Bin, mixOpts.Cluster)
				r, err := bench.Mix(ctx, mixOpts)
				if err != nil {
					return fail("mix", err)
				}
				rows = append(rows, r...)
			}
			if want["writes"] {
				say("writes: %d/s for %s, fsyncs counted with strace", mixOpts.WritesRate, mixOpts.Window)
				r, err := bench.Writes(ctx, mixOpts)
				if err != nil {
					return fail("writes", err)
				}
				rows = append(rows, r...)
			}
			printRows(stdout, rows)
			if *jsonOut != "" {
				b, _ := json.MarshalIndent(map[string]any{"cores": runtime.NumCPU(), "go": runtime.Version(), "when": time.Now().UTC(), "rows": rows}, "", "  ")
				if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
					return fail("json", err)
				}
			}
			return nil
		}
	},
}

func rowsOf(r []bench.RebuildRow) []bench.Row {
	var out []bench.Row
	for _, x := range r {
		out = append(out, bench.Row{Group: "rebuild", Name: x.Name, Events: int(x.Events), Ops: int(x.Commits), Seconds: x.Seconds, EventsPerSec: x.EventsPerSec, Ratio: x.RatioToRaw})
	}
	return out
}

// addOpenReferrals writes referrals received and still open (receipt and
// deadline.set), straight into the store.
func addOpenReferrals(ctx context.Context, srv *bench.Server, n int) error {
	lcs := simulate.Generate(simulate.Options{Seed: 99, Referrals: n, Start: time.Now().Add(-2 * time.Hour), Span: time.Hour, Authorities: []string{"E08000007", "E09000001", "E10000016", "E06000001"}, IDPrefix: "open-"})
	loader := srv.Store.NewLoader(8192)
	for _, lc := range lcs {
		lc.Steps = lc.Steps[:1] // the receipt only
		commits, err := simulate.History(lc, deadlinePolicy(), nil, time.Now())
		if err != nil {
			return err
		}
		for _, c := range commits {
			if err := loader.Add(ctx, c.Subject, c.Commit); err != nil {
				return err
			}
		}
	}
	return loader.Wait(ctx)
}

// peakRSS runs `ntsflow serve --no-sagas` on dir, waits until every view
// has caught up with the stream, and reads the process's peak RSS (KiB).
func peakRSS(ctx context.Context, dir string) (int, time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	cmd := exec.CommandContext(ctx, self, "serve", "--data-dir", dir, "--http-addr", addr, "--no-sagas", "--sync-interval", "1m", "--log-format", "json")
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for {
		if time.Since(start) > 10*time.Minute {
			return 0, 0, fmt.Errorf("views did not catch up in 10 minutes")
		}
		// A bounded poll (10 minutes): serve says how far its views are
		// only when asked.
		time.Sleep(500 * time.Millisecond)
		res, err := http.Get("http://" + addr + "/v1/views")
		if err != nil {
			continue
		}
		var v struct {
			StreamSequence uint64
			Views          []struct{ Sequence uint64 }
		}
		json.NewDecoder(res.Body).Decode(&v)
		res.Body.Close()
		// Every view serve has, however many: a count written here went
		// stale when a view was added, and the wait never ended.
		caught := len(v.Views) > 0
		for _, x := range v.Views {
			caught = caught && x.Sequence >= v.StreamSequence && v.StreamSequence > 0
		}
		if caught {
			break
		}
	}
	took := time.Since(start)
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0, took, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var n int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), &n)
			return n, took, nil
		}
	}
	return 0, took, fmt.Errorf("no VmHWM in /proc")
}

func printRows(w io.Writer, rows []bench.Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	group := ""
	for _, r := range rows {
		if r.Group != group {
			group = r.Group
			// No tab: the title is not a cell, so it does not widen the
			// name column.
			fmt.Fprintf(tw, "\n%s\n", group)
			fmt.Fprintf(tw, "name\tevents/s\tp50 ms\tp95 ms\tp99 ms\tp99.9 ms\tmax ms\tratio\terrors\tCPU ms/op\tnotes\t\n")
		}
		ratio := ""
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		cpu := ""
		if r.CPUPerOpMs != 0 {
			cpu = fmt.Sprintf("%.3f", r.CPUPerOpMs)
		}
		// Blank, not 0, where a row has no such figure (a summary, or a
		// window whose latency strace distorted).
		num := func(v float64, format string) string {
			if v == 0 {
				return ""
			}
			return fmt.Sprintf(format, v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", r.Name, num(r.EventsPerSec, "%.0f"), num(r.P50ms, "%.2f"), num(r.P95ms, "%.2f"), num(r.P99ms, "%.2f"), num(r.P999ms, "%.2f"), num(r.MaxMs, "%.2f"), ratio, r.Errors, cpu, r.Note)
	}
	tw.Flush()
}

func deadlinePolicy() deadline.Policy { return deadline.DefaultPolicy() }
