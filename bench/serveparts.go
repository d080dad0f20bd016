package bench

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// P99Bar is issue 17's latency bar: a rate is held when every round's p99
// is at most this, with no errors.
const P99Bar = 50 * time.Millisecond

// RawWriters is how many clients publish in the raw baseline, as in the
// issue's `nats bench js pub sync --clients 4`.
const RawWriters = 4

// rawPayload sizes the raw baseline's message like one of the mix's
// commits as stored, headers included (about 900 B: the writes part
// reports the average it saw, the raw rows what they stored).
const rawPayload = 660

// MixOptions shape the mix and writes parts.
type MixOptions struct {
	Bin    string // the ntsflow binary whose serve is measured
	Dir    string // each window's fresh data directory is made here
	Rates  []int
	Rounds int
	Window time.Duration
	// Drain bounds the wait after a window for serve to go idle (its
	// views, sagas and publisher done with what the commands wrote).
	Drain time.Duration
	// Gap is how long each referral in flight waits between its commands
	// (0: a tenth of the window; see OfferMix).
	Gap time.Duration
	// WritesRate is the writes part's offered rate.
	WritesRate int
	// Modes are the mix's modes, each run in every round at every rate:
	// "cold" (commands to referrals last touched long ago, ColdReferrals
	// of them in turn, seeded beforehand) and "warm" (each referral's
	// commands a tenth of the window apart: the engine's cache holds them).
	// Empty: both, cold first.
	Modes []string
	// ColdReferrals is how many referrals the cold mode spreads its
	// commands over (0: ColdFactor times the engine's default cache).
	ColdReferrals int
	// Cluster also runs every window on a fresh cluster of ClusterNodes
	// processes (R3 streams, fsync always), beside the embedded ones in
	// the same rounds, with RawClusterClients' raw baselines.
	Cluster bool
	// NodeBin is the binary whose hidden nats-node command runs the
	// cluster's nodes (the harness's own: Bin may be an older build).
	NodeBin string
	// ServeArgs are more of serve's flags for every window (--load-conns).
	ServeArgs []string
	// ProfileDir, if set, receives serve's CPU, block, mutex and
	// goroutine profiles of every mix window (serve --pprof-addr), and on
	// the cluster each node's (NAME-node-n1 ...; nats-node --pprof-addr).
	ProfileDir string
	Say        func(format string, a ...any)
}

// RawClusterClients are the raw baselines' client counts on the cluster
// (the 4, 16 and 64 synchronous clients); the last is its target's.
var RawClusterClients = []int{4, 16, 64}

func (o MixOptions) say(format string, a ...any) {
	if o.Say != nil {
		o.Say(format, a...)
	}
}

// RawPublishes measures RawWriters clients each publishing a commit-sized
// message synchronously, one after another, for window, to a fresh
// embedded server in dir (fsync on every write, the engine's streams):
// what the disk and server give with no engine. CPU per publish is this
// process's (server and clients), from /proc.
func RawPublishes(ctx context.Context, dir string, window time.Duration) (Row, error) {
	srv, err := Open(ctx, dir, 0)
	if err != nil {
		return Row{}, err
	}
	defer os.RemoveAll(dir)
	defer srv.Close()
	stores := make([]*eventstore.Store, RawWriters)
	for i := range stores {
		stores[i] = srv.Store
	}
	r, err := rawPublish(ctx, stores, window, "", ProcessCPU)
	r.Target = "embedded"
	return r, err
}

// rawPublish has one client per store publish a commit-sized message
// synchronously, one after another, for window, and charges the CPU that
// cpu reads over it to the publishes. Clients on different stores use
// different connections, as `nats bench --clients` does.
func rawPublish(ctx context.Context, stores []*eventstore.Store, window time.Duration, prefix string, cpu func() (time.Duration, error)) (Row, error) {
	clients := len(stores)
	data, err := events.EncodeCommit(commitOf(1, rawPayload))
	if err != nil {
		return Row{}, err
	}
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	c0, err := cpu()
	if err != nil {
		return Row{}, err
	}
	start := time.Now()
	end := start.Add(window)
	var wg sync.WaitGroup
	for w, st := range stores {
		wg.Go(func() {
			for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
				t := time.Now()
				if _, err := st.PublishUnchecked(ctx, events.ReferralSubject(fmt.Sprintf("raw-%s%d-%d", prefix, w, i)), data); err != nil {
					errs[w]++
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	c1, err := cpu()
	if err != nil {
		return Row{}, err
	}
	stored := ""
	if st, err := stores[0].StreamStates(ctx, eventstore.EventsStream); err == nil && st[eventstore.EventsStream].Msgs > 0 {
		stored = fmt.Sprintf(", %d B stored", st[eventstore.EventsStream].Bytes/st[eventstore.EventsStream].Msgs)
	}
	r := Row{Name: fmt.Sprintf("raw JetStream publish (%d clients, sync, %d B%s)", clients, len(data), stored), Clients: clients}
	var lat []time.Duration
	for w := range clients {
		lat = append(lat, lats[w]...)
		r.Errors += errs[w]
	}
	r.Ops, r.Events = len(lat), len(lat)-r.Errors
	if r.Ops > 0 {
		r.CPUPerOpMs = ms(c1-c0) / float64(r.Ops)
	}
	fill(&r, lat, took)
	return r, ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// mixWindow starts a fresh serve (on a fresh cluster with r3), lets it
// settle, offers the mix at rate for the window, waits for serve to go idle
// (or the drain bound) and stops it. Serve's CPU from the window's start to
// idle is charged to the commands sent, and so is the cluster's.
func mixWindow(ctx context.Context, o MixOptions, dir string, rate int, cold *coldSeed, r3 bool) (Row, error) {
	s, cl, stop, err := startWindow(ctx, o, dir, cold, r3, ServeOptions{Bin: o.Bin, Args: o.ServeArgs, Pprof: o.ProfileDir != ""})
	if err != nil {
		return Row{}, err
	}
	defer stop()
	clusterCPU := func() (time.Duration, error) { return 0, nil }
	if cl != nil {
		clusterCPU = cl.CPU
	}
	c0, err := s.CPU()
	if err != nil {
		return Row{}, err
	}
	k0, err := clusterCPU()
	if err != nil {
		return Row{}, err
	}
	profiled := func() error { return nil }
	if o.ProfileDir != "" {
		waits := []func() error{profileWindow(ctx, s.PprofAddr, o.Window, o.ProfileDir, filepath.Base(dir))}
		if cl != nil {
			for i, a := range cl.PprofAddrs {
				waits = append(waits, profileWindow(ctx, a, o.Window, o.ProfileDir, fmt.Sprintf("%s-node-n%d", filepath.Base(dir), i+1)))
			}
		}
		profiled = func() error {
			var errs []error
			for _, w := range waits {
				errs = append(errs, w())
			}
			return errors.Join(errs...)
		}
	}
	var m MixResult
	if cold != nil {
		m = OfferColdMix(ctx, s.URL, rate, o.Window, cold.referrals)
	} else {
		m = OfferMix(ctx, s.URL, rate, o.Window, o.Gap)
	}
	if err := profiled(); err != nil {
		o.say("mix: %v", err)
	}
	cWindow, err := s.CPU()
	if err != nil {
		return Row{}, err
	}
	cIdle, drained, idle, err := s.WaitIdle(ctx, o.Drain)
	if err != nil {
		return Row{}, err
	}
	k1, err := clusterCPU()
	if err != nil {
		return Row{}, err
	}
	r := mixRow(m)
	r.CPUPerOpMs = ms(cIdle-c0) / float64(max(1, m.Sent))
	r.Target = "embedded"
	drain := fmt.Sprintf("idle %.1f s after the window", drained.Seconds())
	if !idle {
		drain = fmt.Sprintf("still busy %.0f s after the window (the bound): its CPU per command is short of the whole", drained.Seconds())
	}
	r.Note += fmt.Sprintf("; serve used %.2f cores in the window, %s", (cWindow-c0).Seconds()/m.Took.Seconds(), drain)
	if r3 {
		r.Target = "r3"
		r.ClusterCPUPerOpMs = ms(k1-k0) / float64(max(1, m.Sent))
		r.Note += fmt.Sprintf("; the cluster's three nodes used %.3f ms of CPU per command (%.2f cores over the window and drain)", r.ClusterCPUPerOpMs, (k1-k0).Seconds()/(m.Took+drained).Seconds())
	}
	return r, nil
}

// startWindow starts a window's serve (so, on dir) and returns once it has
// settled: on a copy of the cold seed if there is one (serve's store, or
// the cluster nodes'), where serve starts with its engine's cache empty
// and its views fold the seed before it is idle; with r3 on a fresh
// cluster (nil without), serve then keeping only its log, in dir-serve.
// stop stops serve and removes the cluster.
func startWindow(ctx context.Context, o MixOptions, dir string, cold *coldSeed, r3 bool, so ServeOptions) (s *Serve, cl *Cluster, stop func(), err error) {
	settle := 10 * time.Second
	if cold != nil {
		if err := copyDir(cold.dir, dir); err != nil {
			return nil, nil, nil, fmt.Errorf("copy the cold seed: %w", err)
		}
		settle = max(settle, o.Drain)
	}
	so.Dir = dir
	if r3 {
		if cl, err = StartCluster(ctx, o.nodeBin(), dir, so.Pprof); err != nil {
			return nil, nil, nil, err
		}
		so.Dir, so.NATSURL, so.Replicas, so.NATS = dir+"-serve", cl.URL, ClusterNodes, false
	}
	stop = func() {
		if s != nil {
			s.Stop()
		}
		if cl != nil {
			cl.Remove()
		}
	}
	if s, err = StartServe(ctx, so); err != nil {
		stop()
		return nil, nil, nil, err
	}
	if _, _, _, err := s.WaitIdle(ctx, settle); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return s, cl, stop, nil
}

func mixRow(m MixResult) Row {
	r := Row{Offered: m.Rate, Ops: m.Sent, Events: m.Accepted, ErrorKinds: m.Errors}
	for _, n := range m.Errors {
		r.Errors += n
	}
	fill(&r, m.Latency, m.Took)
	r.Note = fmt.Sprintf("achieved %.0f/s; accepted %s; errors: %s", r.EventsPerSec, m.stepCounts(), m.errorKinds())
	if m.Replaced > 0 {
		r.Note += fmt.Sprintf("; %d follow-ups sent as receipts (their referral's last command unanswered)", m.Replaced)
	}
	return r
}

// ColdFactor is how many times the engine's default cache of aggregates
// the cold mix spreads its referrals over (issue 25: at least ten).
const ColdFactor = 10

// coldSeed is a stopped serve's data directory holding the cold mix's
// referrals, copied afresh for each cold window.
type coldSeed struct {
	dir       string
	referrals []ColdReferral
	took      time.Duration
}

// seedCold starts serve on a fresh directory (with r3, on a fresh cluster
// there), seeds n referrals through its API and stops it, keeping the
// directory: serve's store, or the cluster nodes'.
func seedCold(ctx context.Context, o MixOptions, n int, r3 bool) (*coldSeed, error) {
	dir := filepath.Join(o.Dir, "cold-seed")
	start := time.Now()
	so := ServeOptions{Bin: o.Bin, Dir: dir, Args: o.ServeArgs}
	if r3 {
		dir += "-r3"
		cl, err := StartCluster(ctx, o.nodeBin(), dir, false)
		if err != nil {
			return nil, err
		}
		// Stopped, not removed: the nodes' directories are the seed.
		defer cl.Stop()
		so.Dir, so.NATSURL, so.Replicas = dir+"-serve", cl.URL, ClusterNodes
	}
	s, err := StartServe(ctx, so)
	if err != nil {
		return nil, err
	}
	referrals, err := SeedCold(ctx, s.URL, n, 16)
	if err == nil {
		// Its sagas, views and publisher done with the seed before it
		// stops, so that each window's serve starts from the same state.
		_, _, _, err = s.WaitIdle(ctx, o.Drain)
	}
	if err != nil {
		s.Stop()
		return nil, err
	}
	if r3 {
		s.Stop() // the store is the cluster's; serve's directory is only its log
	} else {
		s.StopKeeping()
	}
	return &coldSeed{dir: dir, referrals: referrals, took: time.Since(start)}, nil
}

// copyDir copies the regular files and directories under from to to, and
// syncs each file: left to the kernel's writeback, the copy's tens of MB
// of dirty pages were flushed by serve's first fsyncs in the window, which
// showed as stalls of 100 to 200 ms in its first seconds.
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return err
		}
		if err := dst.Sync(); err != nil {
			dst.Close()
			return err
		}
		return dst.Close()
	})
}

func (o MixOptions) nodeBin() string {
	if o.NodeBin != "" {
		return o.NodeBin
	}
	return o.Bin
}

func (o MixOptions) coldReferrals() int {
	if o.ColdReferrals > 0 {
		return o.ColdReferrals
	}
	return ColdFactor * engine.DefaultCacheSize
}

// mixModes are MixOptions.Modes, checked.
func (o MixOptions) mixModes() ([]string, error) {
	if len(o.Modes) == 0 {
		return []string{"cold", "warm"}, nil
	}
	for _, m := range o.Modes {
		if m != "cold" && m != "warm" {
			return nil, fmt.Errorf("mix mode %q: the modes are cold and warm", m)
		}
	}
	return o.Modes, nil
}

// Mix runs the mix part: for each round and each rate, raw publishes to a
// fresh embedded server, then the mix offered to a fresh serve at that
// rate in each mode; with o.Cluster, then raw publishes to a fresh cluster
// (RawClusterClients) and the mix in each mode with serve on a fresh
// cluster; so the disk's changes of pace fall on all alike. Rows come
// grouped by target, mode and rate, each round's raw rows beside its serve
// row, then a summary per target and mode: the highest rate that held
// P99Bar with no errors in every round, beside the raw baseline.
func Mix(ctx context.Context, o MixOptions) ([]Row, error) {
	modes, err := o.mixModes()
	if err != nil {
		return nil, err
	}
	targets := []string{"embedded"}
	if o.Cluster {
		targets = append(targets, "r3")
	}
	seeds := map[string]*coldSeed{}
	if slices.Contains(modes, "cold") {
		n := o.coldReferrals()
		for _, t := range targets {
			o.say("mix: seeding %d referrals for the cold mode, %s (the engine caches %d by default)", n, t, engine.DefaultCacheSize)
			seed, err := seedCold(ctx, o, n, t == "r3")
			if err != nil {
				return nil, fmt.Errorf("cold seed, %s: %w", t, err)
			}
			defer os.RemoveAll(seed.dir)
			seeds[t] = seed
			o.say("mix: seeded in %s", seed.took.Round(time.Second))
		}
	}
	type cell struct {
		raws []Row
		mix  Row
	}
	key := func(t, mode string) string { return t + "/" + mode }
	cells := map[string][][]cell{}
	for _, t := range targets {
		for _, mode := range modes {
			cells[key(t, mode)] = make([][]cell, len(o.Rates))
		}
	}
	for round := 1; round <= o.Rounds; round++ {
		for i, rate := range o.Rates {
			for _, t := range targets {
				var raws []Row
				if t == "r3" {
					o.say("mix: round %d of %d: raw JetStream publishes to a fresh R3 cluster, %v clients, %s each", round, o.Rounds, RawClusterClients, o.Window)
					raws, err = RawClusterPublishes(ctx, o.nodeBin(), filepath.Join(o.Dir, fmt.Sprintf("raw-r3-%d-%d", round, rate)), RawClusterClients, o.Window)
				} else {
					o.say("mix: round %d of %d: raw JetStream publishes for %s", round, o.Rounds, o.Window)
					var raw Row
					raw, err = RawPublishes(ctx, filepath.Join(o.Dir, fmt.Sprintf("raw-%d-%d", round, rate)), o.Window)
					raws = []Row{raw}
				}
				if err != nil {
					return nil, fmt.Errorf("raw baseline, %s: %w", t, err)
				}
				for _, mode := range modes {
					o.say("mix: round %d of %d: %s, %s, %d commands/s to a fresh serve for %s", round, o.Rounds, t, mode, rate, o.Window)
					var seed *coldSeed
					if mode == "cold" {
						seed = seeds[t]
					}
					mix, err := mixWindow(ctx, o, filepath.Join(o.Dir, fmt.Sprintf("serve-%s-%s-%d-%d", t, mode, round, rate)), rate, seed, t == "r3")
					if err != nil {
						if ctx.Err() != nil {
							return nil, ctx.Err()
						}
						// One window that could not run (serve not ready on
						// a loaded machine, say) fails its rate, said so in
						// its row, rather than losing the run's other rows.
						o.say("mix: round %d: %s, %s, %d/s: the window failed: %v", round, t, mode, rate, err)
						mix = Row{Offered: rate, Target: t, Errors: 1, ErrorKinds: map[string]int{"window failed": 1}, Note: "the window failed: " + err.Error()}
					}
					cells[key(t, mode)][i] = append(cells[key(t, mode)][i], cell{raws, mix})
				}
			}
		}
	}
	var rows, summaries []Row
	for _, t := range targets {
		where, serveName := "", "serve"
		if t == "r3" {
			where, serveName = fmt.Sprintf(", serve on a %d-process R3 cluster (fsync always)", ClusterNodes), "serve on R3"
		}
		for _, mode := range modes {
			what := "warm: each referral's commands a tenth of the window apart, its aggregate in the engine's cache"
			if mode == "cold" {
				what = fmt.Sprintf("cold: commands spread in turn over %d seeded referrals, %.1f times the engine's cache of %d, so that each follow-up loads its referral from the store",
					len(seeds[t].referrals), float64(len(seeds[t].referrals))/engine.DefaultCacheSize, engine.DefaultCacheSize)
			}
			summary := fmt.Sprintf("HTTP mix through serve, %s%s: summary", mode, where)
			best, bestP99, bestRaw := 0, 0.0, 0.0
			for i, rate := range o.Rates {
				group := fmt.Sprintf("HTTP mix, %s, at %d/s offered to a fresh serve%s, open loop, beside raw JetStream in the same round (serve's CPU per command sent, drain included)", what, rate, where)
				held, worst, lowestRaw := 0, 0.0, 0.0
				var p99s, cpus, raws, rawCPUs []string
				var cpuVals []float64
				for round, c := range cells[key(t, mode)][i] {
					// The baseline is the raw row with the most clients: 4
					// embedded, 64 on the cluster, as the targets.
					base := c.raws[len(c.raws)-1]
					for _, raw := range c.raws {
						raw.Group, raw.Round = group, round+1
						raw.Name = fmt.Sprintf("round %d: %s", round+1, raw.Name)
						rows = append(rows, raw)
					}
					c.mix.Group, c.mix.Round, c.mix.Mode = group, round+1, mode
					c.mix.Name = fmt.Sprintf("round %d: %s, %s, %d/s offered", round+1, serveName, mode, rate)
					if base.CPUPerOpMs > 0 {
						c.mix.Ratio = (c.mix.CPUPerOpMs + c.mix.ClusterCPUPerOpMs) / base.CPUPerOpMs
						c.mix.Note = fmt.Sprintf("CPU per command %.1f× a raw publish's (ratio column); ", c.mix.Ratio) + c.mix.Note
					}
					rows = append(rows, c.mix)
					if c.mix.P99ms <= ms(P99Bar) && c.mix.Errors == 0 {
						held++
					}
					worst = max(worst, c.mix.P99ms)
					if lowestRaw == 0 || base.EventsPerSec < lowestRaw {
						lowestRaw = base.EventsPerSec
					}
					p99s = append(p99s, fmt.Sprintf("%.2f", c.mix.P99ms))
					cpus = append(cpus, fmt.Sprintf("%.3f", c.mix.CPUPerOpMs))
					cpuVals = append(cpuVals, c.mix.CPUPerOpMs)
					raws = append(raws, fmt.Sprintf("%.0f", base.EventsPerSec))
					rawCPUs = append(rawCPUs, fmt.Sprintf("%.3f", base.CPUPerOpMs))
				}
				slices.Sort(cpuVals)
				median := cpuVals[len(cpuVals)/2]
				if len(cpuVals)%2 == 0 {
					median = (median + cpuVals[len(cpuVals)/2-1]) / 2
				}
				summaries = append(summaries, Row{Group: summary, Offered: rate, Mode: mode, Target: t, Name: fmt.Sprintf("%s, %d/s offered: p99 ≤ %d ms with no errors in %d of %d rounds", mode, rate, P99Bar.Milliseconds(), held, len(cells[key(t, mode)][i])),
					P99ms: worst, CPUPerOpMs: median,
					Note: fmt.Sprintf("by round: p99 %s ms; serve CPU %s ms per command; raw %s publishes/s at %s ms CPU each (p99 column: the worst round; CPU column: the median)",
						strings.Join(p99s, " / "), strings.Join(cpus, " / "), strings.Join(raws, " / "), strings.Join(rawCPUs, " / "))})
				if held == len(cells[key(t, mode)][i]) && rate > best {
					best, bestP99, bestRaw = rate, worst, lowestRaw
				}
			}
			top := Row{Group: summary, Offered: best, Mode: mode, Target: t, Name: fmt.Sprintf("%s: highest rate with p99 ≤ %d ms and no errors in every round", mode, P99Bar.Milliseconds())}
			if best > 0 && bestRaw > 0 {
				// The targets divide the raw rate by the synced
				// writes per command (the writes part's figure), which
				// this part does not measure: the ratio here is to the raw
				// rate alone, and times those writes gives the issue's.
				top.Ratio = float64(best) / bestRaw
				top.Note = fmt.Sprintf("%d commands/s (worst round's p99 %.2f ms); %.2f of the slowest round's raw baseline (%.0f publishes/s; ratio column): times the synced writes per command, the issue's ratio", best, bestP99, top.Ratio, bestRaw)
				top.P99ms = bestP99
			} else {
				top.Note = "none of the rates offered"
			}
			summaries = append(summaries, top)
		}
	}
	return append(rows, summaries...), nil
}

// Writes runs the writes part: a fresh serve, the mix at o.WritesRate for
// the window and its drain, counting serve's fsync and fdatasync calls with
// strace and the messages each stream gained. strace stops serve's threads
// at every system call, so this window's latency and CPU are not reported.
// It runs once in each of o's modes.
func Writes(ctx context.Context, o MixOptions) ([]Row, error) {
	modes, err := o.mixModes()
	if err != nil {
		return nil, err
	}
	targets := []bool{false}
	if o.Cluster {
		targets = append(targets, true)
	}
	var rows []Row
	for _, r3 := range targets {
		for _, mode := range modes {
			var seed *coldSeed
			if mode == "cold" {
				where := ""
				if r3 {
					where = " on a fresh R3 cluster"
				}
				o.say("writes: seeding %d referrals for the cold mode%s", o.coldReferrals(), where)
				if seed, err = seedCold(ctx, o, o.coldReferrals(), r3); err != nil {
					return nil, fmt.Errorf("cold seed: %w", err)
				}
			}
			r, err := writesWindow(ctx, o, mode, seed, r3)
			if seed != nil {
				os.RemoveAll(seed.dir)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", mode, err)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// writesWindow is one window of the writes part. On the cluster (r3) the
// fsyncs counted are the three nodes' (serve embeds no server there), and
// the streams are read over the cluster's client port.
func writesWindow(ctx context.Context, o MixOptions, mode string, cold *coldSeed, r3 bool) (Row, error) {
	s, cl, stop, err := startWindow(ctx, o, filepath.Join(o.Dir, "writes-"+mode), cold, r3, ServeOptions{Bin: o.Bin, NATS: true})
	if err != nil {
		return Row{}, err
	}
	defer stop()
	streams, pids := s.Streams, []int{s.Pid}
	if cl != nil {
		streams, pids = cl.Streams, cl.Pids()
	}
	// The streams' state is read over NATS; without it the fsyncs are
	// still counted, and the row says what was missing.
	before, errBefore := streams(ctx)
	var traces []*straceRun
	why := ""
	for i, pid := range pids {
		tr, w := startStrace(pid, filepath.Join(o.Dir, fmt.Sprintf("writes-%d.strace", i)))
		if tr == nil {
			why = w
			break
		}
		traces = append(traces, tr)
	}
	var m MixResult
	if cold != nil {
		m = OfferColdMix(ctx, s.URL, o.WritesRate, o.Window, cold.referrals)
	} else {
		m = OfferMix(ctx, s.URL, o.WritesRate, o.Window, o.Gap)
	}
	_, drained, idle, err := s.WaitIdle(ctx, o.Drain)
	if err != nil {
		return Row{}, err
	}
	after, errAfter := streams(ctx)
	// On the cluster each raft log is named by its stream or consumer.
	var groups map[string]string
	var errGroups error
	if cl != nil {
		groups, errGroups = cl.RaftGroups(ctx)
	}
	// Every strace started is stopped, whatever the others did; the counts
	// stand only if every process was traced to the end.
	calls, by := map[string]int{}, map[string]int{}
	counted := len(traces) == len(pids)
	for _, tr := range traces {
		c, b, err := tr.stop(groups)
		if err != nil {
			why, counted = err.Error(), false
			continue
		}
		for k, v := range c {
			calls[k] += v
		}
		for k, v := range b {
			by[k] += v
		}
	}
	r := mixRow(m)
	r.Group = "writes per command: serve under the HTTP mix, strace attached (it slows serve: no latency or CPU from this window)"
	r.Name = fmt.Sprintf("%s, %d/s offered for %s and its drain", mode, o.WritesRate, o.Window)
	r.Mode = mode
	r.Target = "embedded"
	traced := "strace -f -y on serve"
	if r3 {
		r.Target, r.Name = "r3", "R3 "+r.Name
		traced = fmt.Sprintf("strace -f -y on each of the %d nodes, all together", len(pids))
	}
	r.P50ms, r.P95ms, r.P99ms, r.P999ms, r.MaxMs = 0, 0, 0, 0, 0
	sent := float64(max(1, m.Sent))
	var notes []string
	if counted {
		f := float64(calls["fsync"]+calls["fdatasync"]+calls[osyncOpen]) / sent
		r.FsyncsPerOp = &f
		notes = append(notes, fmt.Sprintf("%.2f synced writes per command (fsync %d, fdatasync %d, files opened O_SYNC %d; %s)", f, calls["fsync"], calls["fdatasync"], calls[osyncOpen], traced))
		if r3 {
			notes = append(notes, fmt.Sprintf("%.2f per node", f/float64(len(pids))))
		}
		r.FsyncsBy = map[string]float64{}
		var what []string
		for k, v := range by {
			r.FsyncsBy[k] = float64(v) / sent
			what = append(what, k)
		}
		// Most first.
		slices.SortFunc(what, func(a, b string) int { return cmp.Or(by[b]-by[a], strings.Compare(a, b)) })
		var per []string
		for _, k := range what {
			per = append(per, fmt.Sprintf("%s %.2f", k, r.FsyncsBy[k]))
		}
		notes = append(notes, "synced writes per command by whose file: "+strings.Join(per, ", "))
		if errGroups != nil {
			notes = append(notes, "raft logs not named by their stream or consumer: "+errGroups.Error())
		}
	} else {
		notes = append(notes, "fsyncs not measured: "+why)
	}
	if err := errors.Join(errBefore, errAfter); err != nil {
		notes = append(notes, "messages per stream not measured: "+err.Error())
	} else {
		r.MessagesPerOp = map[string]float64{}
		var per []string
		for _, name := range []string{eventstore.EventsStream, eventstore.PublicStream, eventstore.TimersStream} {
			d := float64(after[name].LastSeq-before[name].LastSeq) / sent
			r.MessagesPerOp[name] = d
			per = append(per, fmt.Sprintf("%s %.2f", name, d))
		}
		notes = append(notes, "messages written per command: "+strings.Join(per, ", "))
		if n := after[eventstore.EventsStream].Msgs - before[eventstore.EventsStream].Msgs; n > 0 {
			notes = append(notes, fmt.Sprintf("a stored commit averages %d B", (after[eventstore.EventsStream].Bytes-before[eventstore.EventsStream].Bytes)/n))
		}
	}
	if !idle {
		notes = append(notes, fmt.Sprintf("serve still busy %.0f s after the window (the bound): counts short of the whole", drained.Seconds()))
	}
	r.Note = strings.Join(notes, "; ") + "; " + r.Note
	return r, nil
}

// straceRun is strace attached to serve, counting its fsync and fdatasync
// calls (every thread, -f) until stopped.
type straceRun struct {
	cmd    *exec.Cmd
	out    string
	exited chan struct{}
}

// startStrace attaches strace to pid and returns once it has attached; or
// nil and why it could not (no strace, or ptrace not permitted here).
func startStrace(pid int, out string) (*straceRun, string) {
	bin, err := exec.LookPath("strace")
	if err != nil {
		return nil, "strace not on PATH"
	}
	// Each call with its file's path (-y), not a count table: the paths say
	// whose writes were synced (a stream, a consumer, a raft log).
	cmd := exec.Command(bin, "-f", "-y", "-e", "trace=fsync,fdatasync,openat", "-o", out, "-p", strconv.Itoa(pid))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err.Error()
	}
	if err := cmd.Start(); err != nil {
		return nil, err.Error()
	}
	t := &straceRun{cmd: cmd, out: out, exited: make(chan struct{})}
	attached := make(chan struct{})
	var said []string
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "attached") {
				once.Do(func() { close(attached) })
			}
			mu.Lock()
			said = append(said, sc.Text())
			mu.Unlock()
		}
		cmd.Wait()
		close(t.exited)
	}()
	// strace says on stderr when it has attached; if ptrace is refused it
	// says why and exits.
	select {
	case <-attached:
		return t, ""
	case <-t.exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-t.exited
	}
	mu.Lock()
	defer mu.Unlock()
	return nil, "strace did not attach: " + strings.Join(said, " ")
}

// stop detaches strace (SIGINT) and reads the calls it saw: by system
// call, and by whose file they synced (syncedWhat, with the cluster's
// raft groups by name).
func (t *straceRun) stop(groups map[string]string) (calls, by map[string]int, err error) {
	if !stopProcess(t.cmd, t.exited, os.Interrupt) {
		return nil, nil, errors.New("strace did not stop within 30 s")
	}
	b, err := os.ReadFile(t.out)
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(t.out)
	calls, by = parseStraceCalls(string(b), groups)
	return calls, by, nil
}

// parseStraceCalls reads strace -f -y's lines, one per call begun
// ("PID fsync(FD</path>) = 0", or its start "... <unfinished ...>", whose
// "resumed" line is not counted again). A file opened with O_SYNC or
// O_DSYNC counts as one synced write ("O_SYNC open"): nats-server writes
// its small metadata files whole that way, with no fsync call, and each is
// a write the disk must finish before the call returns.
func parseStraceCalls(trace string, groups map[string]string) (calls, by map[string]int) {
	calls, by = map[string]int{"fsync": 0, "fdatasync": 0, osyncOpen: 0}, map[string]int{}
	for _, line := range strings.Split(trace, "\n") {
		for _, name := range []string{"fsync", "fdatasync", "openat"} {
			i := strings.Index(line, name+"(")
			if i < 0 || (i > 0 && line[i-1] != ' ') {
				continue
			}
			args := line[i+len(name)+1:]
			var path string
			if name == "openat" {
				// openat(DIRFD</dir>, "/path", FLAGS, MODE) = FD</path>
				if !strings.Contains(args, "O_SYNC") && !strings.Contains(args, "O_DSYNC") || strings.Contains(args, ") = -1 ") {
					continue // not for synced writes, or it failed
				}
				name = osyncOpen
				if j := strings.IndexByte(args, '"'); j >= 0 {
					if k := strings.IndexByte(args[j+1:], '"'); k >= 0 {
						path = args[j+1 : j+1+k]
					}
				}
			} else if j, k := strings.IndexByte(args, '<'), strings.IndexByte(args, '>'); j >= 0 && k > j {
				path = args[j+1 : k]
			}
			calls[name]++
			by[syncedWhat(path, groups)]++
		}
	}
	return calls, by
}

// osyncOpen counts files opened for synchronous writes (parseStraceCalls).
const osyncOpen = "O_SYNC open"

// syncedWhat names whose file a sync was of, from nats-server's layout: a
// stream's messages ("stream NTS_EVENTS"), a consumer's state ("consumer
// deadline-saga"), a raft group's log on a cluster ("raft log: streams",
// "raft log: consumers", "raft log: meta"), or another file's directory.
// groups names a raft group by whose it is ("C-R3F-..." to "consumer
// referral-sagas", from Store.RaftGroups): its log is then "raft log:
// consumer referral-sagas".
func syncedWhat(path string, groups map[string]string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		switch {
		case p == "obs" && i+1 < len(parts):
			return "consumer " + parts[i+1]
		case p == "streams" && i+1 < len(parts) && !slices.Contains(parts[i+1:], "obs"):
			return "stream " + parts[i+1]
		case p == "_js_" && i+1 < len(parts):
			switch g := parts[i+1]; {
			case groups[g] != "":
				return "raft log: " + groups[g]
			case g == "_meta_":
				return "raft log: meta"
			case strings.HasPrefix(g, "S-"):
				return "raft log: streams"
			case strings.HasPrefix(g, "C-"):
				return "raft log: consumers"
			}
		}
	}
	if path == "" {
		return "unknown"
	}
	return "other: " + filepath.Base(filepath.Dir(path))
}
