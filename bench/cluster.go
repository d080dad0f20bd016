package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ntsflow/ntsflow/eventstore"
)

// ClusterNodes is how many processes the replicated cluster runs, and the
// replicas of its streams (R3).
const ClusterNodes = 3

// Cluster is a JetStream cluster of ClusterNodes nats-server processes on
// this machine (`ntsflow nats-node`, the server built into the binary),
// each with its own directory and loopback ports, fsync on every write.
type Cluster struct {
	URL string // every node's client URL, comma-separated, for --nats-url
	Dir string // holds each node's directory, n1 ... n3
	// PprofAddrs are the nodes' profile addresses, n1 first, when the
	// cluster was started profiled.
	PprofAddrs []string
	nodes      []*clusterNode
}

type clusterNode struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// StartCluster starts the nodes (bin nats-node) on the node directories
// under dir, new ones or a copy of a stopped cluster's (each node keeps its
// name, which is its identity in the raft groups, on fresh ports), and
// returns once the cluster places a stream of ClusterNodes replicas. Each
// node is killed if this process dies first (Linux), and stopped by Stop.
// profiled: each node serves Go's profiles on a loopback port of its own
// (PprofAddrs), so that a window's nodes can be profiled as serve is.
func StartCluster(ctx context.Context, bin, dir string, profiled bool) (*Cluster, error) {
	c := &Cluster{Dir: dir}
	var clients, routes []string
	for range 2 * ClusterNodes {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		if len(clients) < ClusterNodes {
			clients = append(clients, a)
		} else {
			routes = append(routes, a)
		}
	}
	var urls []string
	for _, a := range clients {
		urls = append(urls, "nats://"+a)
	}
	c.URL = strings.Join(urls, ",")
	for i := range ClusterNodes {
		name := fmt.Sprintf("n%d", i+1)
		nodeDir := filepath.Join(dir, name)
		if err := os.MkdirAll(nodeDir, 0o750); err != nil {
			c.Stop()
			return nil, err
		}
		n := &clusterNode{exited: make(chan struct{}), log: nodeDir + ".log"}
		args := []string{"nats-node", "--name", name, "--data-dir", nodeDir, "--listen", clients[i], "--cluster-listen", routes[i], "--routes", strings.Join(routes, ",")}
		if profiled {
			a, err := freeAddr()
			if err != nil {
				c.Stop()
				return nil, err
			}
			args = append(args, "--pprof-addr", a)
			c.PprofAddrs = append(c.PprofAddrs, a)
		}
		n.cmd = exec.Command(bin, args...)
		n.cmd.SysProcAttr = childAttr()
		logf, err := os.Create(n.log)
		if err != nil {
			c.Stop()
			return nil, err
		}
		n.cmd.Stderr = logf
		stdout, err := n.cmd.StdoutPipe()
		if err != nil {
			logf.Close()
			c.Stop()
			return nil, err
		}
		err = n.cmd.Start()
		logf.Close() // the child holds its own descriptor
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("start cluster node %s: %w", name, err)
		}
		c.nodes = append(c.nodes, n)
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready ") {
					close(ready)
					break
				}
			}
			io.Copy(io.Discard, stdout)
			n.cmd.Wait()
			close(n.exited)
		}()
		select {
		case <-ready:
		case <-n.exited:
			c.Stop()
			return nil, fmt.Errorf("cluster node %s exited before it was ready: %s", name, tail(n.log))
		case <-ctx.Done():
			c.Stop()
			return nil, ctx.Err()
		case <-time.After(60 * time.Second):
			c.Stop()
			return nil, fmt.Errorf("cluster node %s not ready after 60 s: %s", name, tail(n.log))
		}
	}
	if err := c.waitReplicated(ctx, 60*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReplicated waits until a replicated stream can be placed: the nodes
// take connections before they have routed to each other and elected a
// JetStream meta leader.
func (c *Cluster) waitReplicated(ctx context.Context, within time.Duration) error {
	nc, err := eventstore.Dial(c.URL, "ntsflow-bench-probe", eventstore.ConnOptions{})
	if err != nil {
		return err
	}
	defer nc.Close()
	limit := time.Now().Add(within)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := nc.ProbeReplicas(pctx, ClusterNodes)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(limit) {
			return fmt.Errorf("the cluster did not place a stream of %d replicas within %s: %w", ClusterNodes, within, err)
		}
		// A bounded poll: the meta leader's election has no event a client
		// can wait on.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Pids are the nodes' process ids.
func (c *Cluster) Pids() []int {
	var out []int
	for _, n := range c.nodes {
		out = append(out, n.cmd.Process.Pid)
	}
	return out
}

// CPU is the CPU time the nodes have used, all together.
func (c *Cluster) CPU() (time.Duration, error) {
	var sum time.Duration
	for _, pid := range c.Pids() {
		t, err := CPUOf(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// Streams reads the state of the events, public and timers streams over
// the cluster's client ports, as Serve.Streams does over serve's.
func (c *Cluster) Streams(ctx context.Context) (StreamState, error) {
	return streamsAt(ctx, c.URL, eventstore.ConnOptions{})
}

// RaftGroups names each raft group on the cluster by its stream or
// consumer (eventstore.Store.RaftGroups).
func (c *Cluster) RaftGroups(ctx context.Context) (map[string]string, error) {
	return askStore(ctx, c.URL, eventstore.ConnOptions{}, func(store *eventstore.Store) (map[string]string, error) {
		return store.RaftGroups(ctx)
	})
}

// Stop asks every node to stop (SIGTERM: it finishes writing) and kills
// one that has not within 30 s. The directories stay: Remove, or copy them
// for another cluster.
func (c *Cluster) Stop() {
	for _, n := range c.nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range c.nodes {
		select {
		case <-n.exited:
		case <-time.After(30 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
		}
	}
	c.nodes = nil
}

// Remove stops the cluster and removes its directories.
func (c *Cluster) Remove() {
	c.Stop()
	os.RemoveAll(c.Dir)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// RawClusterPublishes starts a fresh cluster in dir, opens the engine's
// streams on it with ClusterNodes replicas, and measures, one after
// another, each count of clients publishing a commit-sized message
// synchronously for window, each client on its own connection. CPU per
// publish is the nodes' and this process's (the clients'), as the embedded
// baseline's is its process's.
func RawClusterPublishes(ctx context.Context, bin, dir string, clients []int, window time.Duration) ([]Row, error) {
	cl, err := StartCluster(ctx, bin, dir, false)
	if err != nil {
		return nil, err
	}
	defer cl.Remove()
	first, err := eventstore.Dial(cl.URL, "ntsflow-bench-raw", eventstore.ConnOptions{})
	if err != nil {
		return nil, err
	}
	defer first.Close()
	if _, err := first.Open(ctx, eventstore.Config{Replicas: ClusterNodes}); err != nil {
		return nil, err
	}
	cpu := func() (time.Duration, error) {
		k, err := cl.CPU()
		if err != nil {
			return 0, err
		}
		p, err := ProcessCPU()
		return k + p, err
	}
	var rows []Row
	for _, n := range clients {
		stores := make([]*eventstore.Store, n)
		var conns []*eventstore.Conn
		for i := range stores {
			nc, err := eventstore.Dial(cl.URL, fmt.Sprintf("ntsflow-bench-raw-%d", i), eventstore.ConnOptions{})
			if err == nil {
				conns = append(conns, nc)
				stores[i], err = nc.Attach(ctx)
			}
			if err != nil {
				closeAll(conns)
				return nil, err
			}
		}
		r, err := rawPublish(ctx, stores, window, fmt.Sprintf("c%d-", n), cpu)
		closeAll(conns)
		if err != nil {
			return nil, err
		}
		r.Target = "r3"
		r.Name = strings.Replace(r.Name, "raw JetStream publish", fmt.Sprintf("raw R3 publish to %d processes", ClusterNodes), 1)
		rows = append(rows, r)
	}
	return rows, nil
}

func closeAll(conns []*eventstore.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
