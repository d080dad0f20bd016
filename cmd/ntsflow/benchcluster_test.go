package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/bench"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// alive says whether process pid exists (and is not a zombie): after a
// node is stopped and reaped, it is gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// nodesOf lists the nats-node processes whose parent is pid.
func nodesOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err1 := os.ReadFile("/proc/" + e.Name() + "/stat")
		cmdline, err2 := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err1 != nil || err2 != nil || !bytes.Contains(cmdline, []byte("nats-node")) {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, child)
		}
	}
	return out
}

// bench's cluster is three real nats-server processes (this binary's
// hidden nats-node command) that replicate a stream three ways, and
// stopping it ends all three and removes their directories.
func TestBenchClusterStartsAndStopsThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster processes: not in -short")
	}
	t.Setenv(asMainEnv, "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := bench.StartCluster(ctx, self, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Remove()
	pids := cl.Pids()
	if len(pids) != 3 || len(nodesOf(os.Getpid())) != 3 {
		t.Fatalf("%d nodes started (%v), %d running: want 3", len(pids), pids, len(nodesOf(os.Getpid())))
	}
	for i, pid := range pids {
		if _, err := os.Stat(filepath.Join(dir, "n"+strconv.Itoa(i+1), "jetstream")); err != nil {
			t.Errorf("node %d (pid %d) has no JetStream directory of its own: %v", i+1, pid, err)
		}
	}
	// Three replicas are refused by a lone server: opening the store so
	// proves the three are one cluster.
	nc, err := eventstore.Dial(cl.URL, "test", eventstore.ConnOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := nc.Open(ctx, eventstore.Config{Replicas: 3})
	if err != nil {
		t.Fatalf("an R3 store on the cluster: %v", err)
	}
	if _, err := store.PublishUnchecked(ctx, "nts.events.referral.r1", []byte("{}")); err != nil {
		t.Fatalf("a publish to the R3 stream: %v", err)
	}
	nc.Close()

	cl.Remove()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("node pid %d still running after Remove", pid)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there: %v", err)
	}
}

// A short run of the mix with --cluster r3 completes: raw R3 publishes
// from 4, 16 and 64 clients, and every command of both modes accepted with
// serve on the cluster; with --profile, each window's serve and, on the
// cluster, each of its nodes is profiled; no node is left running.
func TestBenchClusterQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("bench on a cluster: not in -short")
	}
	t.Setenv(asMainEnv, "1")
	var out, errb bytes.Buffer
	jsonFile := filepath.Join(t.TempDir(), "bench.json")
	profiles := t.TempDir()
	if code := run([]string{"bench", "--quick", "--parts", "mix", "--cluster", "r3", "--cold-referrals", "50", "--json", jsonFile, "--profile", profiles}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, pattern := range []string{"*-r3-*-node-n1.cpu", "*-r3-*-node-n3.goroutines", "*-embedded-*.cpu"} {
		found, _ := filepath.Glob(filepath.Join(profiles, pattern))
		var full int
		for _, f := range found {
			if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
				full++
			}
		}
		if full == 0 {
			names, _ := os.ReadDir(profiles)
			t.Errorf("no profile %s written (the directory holds %d files)", pattern, len(names))
		}
	}
	if strings.Contains(errb.String(), "profile") && strings.Contains(errb.String(), "mix: ") {
		t.Errorf("a profile failed: %s", errb.String())
	}
	var doc struct {
		Rows []struct {
			Name, Target, Mode string
			Ops, Events        int
			Errors             int
			Clients            int
			ClusterCPU         float64 `json:"clusterCpuMsPerOp"`
		}
	}
	b, _ := os.ReadFile(jsonFile)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	clients, served := map[int]bool{}, map[string]bool{}
	for _, r := range doc.Rows {
		if r.Target != "r3" {
			continue
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d errors", r.Name, r.Errors)
		}
		switch {
		case r.Clients > 0:
			clients[r.Clients] = r.Ops > 0
		case strings.Contains(r.Name, "serve on R3"):
			served[r.Mode] = r.Ops > 0 && r.Events == r.Ops && r.ClusterCPU > 0
			if !served[r.Mode] {
				t.Errorf("%s: sent %d, accepted %d, the cluster's CPU per command %.3f ms", r.Name, r.Ops, r.Events, r.ClusterCPU)
			}
		}
	}
	if !clients[4] || !clients[16] || !clients[64] {
		t.Errorf("raw R3 rows with publishes, by clients: %v; want 4, 16 and 64", clients)
	}
	if !served["cold"] || !served["warm"] {
		t.Errorf("serve on R3 rows complete, by mode: %v; want cold and warm", served)
	}
	if left := nodesOf(os.Getpid()); len(left) > 0 {
		t.Errorf("nodes left running after the bench: %v", left)
	}
}

// Ctrl-C during a cluster window ends the bench and its three nodes.
func TestBenchClusterStopsItsNodesOnInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("bench on a cluster: not in -short")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "bench", "--quick", "--parts", "mix", "--cluster", "r3", "--modes", "warm", "--dir", t.TempDir())
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	var nodes []int
	if !storetest.WaitFor(3*time.Minute, func() bool { nodes = nodesOf(cmd.Process.Pid); return len(nodes) == 3 }) {
		t.Fatalf("the bench never ran three nodes (saw %v): %s", nodes, errb.String())
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the bench did not stop within 2 minutes of the interrupt: %s", errb.String())
	}
	for _, pid := range nodes {
		if alive(pid) {
			// Not reaped by a parent that is gone: the kernel's init
			// takes it, so allow it the time to go.
			if !storetest.WaitFor(30*time.Second, func() bool { return !alive(pid) }) {
				t.Errorf("node pid %d still running after the bench was interrupted", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
