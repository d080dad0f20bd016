package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// CPUOf is the CPU time (user and system, every thread) process pid has
// used, from /proc/PID/stat: how an outside harness reads serve's.
func CPUOf(pid int) (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing one. utime and stime are fields 14
	// and 15, in clock ticks (USER_HZ, 100 on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields", path, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: utime %q stime %q", path, f[11], f[12])
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// ServeOptions say how to start a serve for one measured window.
type ServeOptions struct {
	// Bin is the ntsflow binary to run (`ntsflow bench` passes its own,
	// or --serve-bin to measure another build with this harness).
	Bin string
	// Dir is its data directory, which must be fresh: every window starts
	// from an empty store.
	Dir string
	// NATS lets the embedded server listen on loopback (with its users and
	// passwords, as serve --nats-listen does), so the harness can read the
	// streams' state. Off for the latency and CPU windows, which run serve
	// as an operator would.
	NATS bool
	// NATSURL connects serve to a cluster (Replicas each stream) instead
	// of embedding a server; Dir then only names its log.
	NATSURL  string
	Replicas int
	// Args are more of serve's flags (--load-conns, say).
	Args []string
	// Pprof has serve serve its profiles on a loopback port (PprofAddr).
	Pprof bool
}

// Serve is `ntsflow serve` running as a child process: the whole engine
// (API, views, sagas, publisher, embedded JetStream with fsync on every
// write, the default).
type Serve struct {
	URL      string // http://host:port
	NATSAddr string // host:port, with ServeOptions.NATS
	// PprofAddr is where serve's profiles are, with ServeOptions.Pprof.
	PprofAddr string
	Pid       int
	dir       string
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// freeAddr asks the kernel for a free loopback port. Another process may
// take it before serve listens; serve then fails to start and says so.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartServe starts serve and returns once it answers /readyz (its views
// loaded, the store reachable).
func StartServe(ctx context.Context, o ServeOptions) (*Serve, error) {
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// Warnings only: at info, serve logs every request, which is work an
	// operator's serve does too but which the figures left out.
	args := []string{"serve", "--data-dir", o.Dir, "--http-addr", addr, "--log-format", "json", "--log-level", "warn"}
	s := &Serve{URL: "http://" + addr, dir: o.Dir, logPath: o.Dir + ".log", exited: make(chan struct{})}
	if o.NATSURL != "" {
		args = append(args, "--nats-url", o.NATSURL, "--replicas", strconv.Itoa(max(1, o.Replicas)))
	}
	args = append(args, o.Args...)
	if o.Pprof {
		if s.PprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", s.PprofAddr)
	}
	if o.NATS {
		if s.NATSAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--nats-listen", s.NATSAddr)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	s.cmd = exec.Command(o.Bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	s.Pid = s.cmd.Process.Pid
	go func() { s.cmd.Wait(); close(s.exited) }()
	// A bounded poll of /readyz: serve says it is ready only once its
	// views have loaded, and there is no other signal to wait on.
	client := &http.Client{Timeout: time.Second}
	limit := time.Now().Add(60 * time.Second)
	for {
		res, err := client.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("serve exited before it was ready: %s", s.logTail())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(limit) {
			s.Stop()
			return nil, fmt.Errorf("serve not ready after 60 s: %s", s.logTail())
		}
	}
}

func (s *Serve) logTail() string { return tail(s.logPath) }

// CPU is serve's CPU time so far.
func (s *Serve) CPU() (time.Duration, error) { return CPUOf(s.Pid) }

// WaitIdle waits until serve has used at most one clock tick (10 ms) of CPU
// in the last second, or until bound: after a window its views, sagas and
// publisher are still working through what the commands wrote, and their
// CPU belongs to the commands. It returns serve's CPU time at that moment,
// how long it waited, and whether serve went idle (false: the bound).
func (s *Serve) WaitIdle(ctx context.Context, bound time.Duration) (time.Duration, time.Duration, bool, error) {
	const step = 250 * time.Millisecond
	const per = 4 // samples in the second looked back on
	start := time.Now()
	var seen []time.Duration
	for {
		c, err := s.CPU()
		if err != nil {
			return 0, time.Since(start), false, err
		}
		seen = append(seen, c)
		if n := len(seen); n > per && seen[n-1]-seen[n-1-per] <= 10*time.Millisecond {
			return c, time.Since(start), true, nil
		}
		if time.Since(start) >= bound {
			return c, time.Since(start), false, nil
		}
		// A bounded poll: idleness is only seen by sampling.
		select {
		case <-ctx.Done():
			return c, time.Since(start), false, ctx.Err()
		case <-s.exited:
			return c, time.Since(start), false, fmt.Errorf("serve exited: %s", s.logTail())
		case <-time.After(step):
		}
	}
}

// StreamState is where each of the engine's streams stands: its last
// sequence (every message ever written, including those since removed, as
// fired or cancelled schedules are) and bytes held.
type StreamState map[string]eventstore.StreamState

// Streams reads the state of the events, public and timers streams over
// the server's NATS port, as the engine's user (serve keeps the password
// beside its data). It needs ServeOptions.NATS.
func (s *Serve) Streams(ctx context.Context) (StreamState, error) {
	if s.NATSAddr == "" {
		return nil, errors.New("serve started without a NATS port")
	}
	b, err := os.ReadFile(filepath.Join(s.dir, eventstore.NATSUsersFileName))
	if err != nil {
		return nil, err
	}
	var users eventstore.NATSUsers
	if err := json.Unmarshal(b, &users); err != nil {
		return nil, err
	}
	return streamsAt(ctx, "nats://"+s.NATSAddr, eventstore.ConnOptions{Login: &eventstore.Login{User: eventstore.EngineUser, Password: users.Engine}})
}

// streamsAt reads the state of the events, public and timers streams over
// a NATS connection to url.
func streamsAt(ctx context.Context, url string, o eventstore.ConnOptions) (StreamState, error) {
	return askStore(ctx, url, o, func(store *eventstore.Store) (StreamState, error) {
		return store.StreamStates(ctx, eventstore.EventsStream, eventstore.PublicStream, eventstore.TimersStream)
	})
}

// askStore asks the engine's store at url one thing, over a connection of
// its own, closed after.
func askStore[T any](ctx context.Context, url string, o eventstore.ConnOptions, ask func(*eventstore.Store) (T, error)) (T, error) {
	var zero T
	nc, err := eventstore.Dial(url, "ntsflow-bench", o)
	if err != nil {
		return zero, err
	}
	defer nc.Close()
	store, err := nc.Attach(ctx)
	if err != nil {
		return zero, err
	}
	return ask(store)
}

// Stop asks serve to stop (SIGTERM: it finishes requests in flight and
// stops its embedded server cleanly), kills it if it has not within 30 s,
// and removes its data directory and log.
func (s *Serve) Stop() {
	s.stop()
	os.RemoveAll(s.dir)
	os.Remove(s.logPath)
}

// StopKeeping stops serve as Stop does but keeps its data directory, for
// another serve to start on (a copy of it).
func (s *Serve) StopKeeping() {
	s.stop()
	os.Remove(s.logPath)
}

func (s *Serve) stop() { stopProcess(s.cmd, s.exited, syscall.SIGTERM) }

// stopProcess asks a process to stop with sig and waits for it to exit
// (exited closes then), killing it if it has not within 30 s: false then.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}, sig os.Signal) (stopped bool) {
	cmd.Process.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return false
	}
}
