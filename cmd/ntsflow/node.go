package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ntsflow/ntsflow/eventstore"
)

// hiddenCommands run by name but are left out of the usage: they are for
// ntsflow's own child processes, not for people.
var hiddenCommands = []*Command{cmdNATSNode}

// cmdNATSNode is one node of the cluster `bench --cluster r3` starts: the
// nats-server built into this binary (the module in go.mod, nothing
// downloaded), one per process.
var cmdNATSNode = &Command{
	Name:      "nats-node",
	UsageLine: "nats-node --name NAME --data-dir DIR --listen HOST:PORT --cluster-listen HOST:PORT --routes HOST:PORT,... [--pprof-addr HOST:PORT]",
	Short:     "one node of bench's JetStream cluster (bench starts it)",
	Long: `Runs one nats-server node of a JetStream cluster on loopback, fsync on every
write, until SIGINT or SIGTERM. 'ntsflow bench --cluster r3' starts three;
it is not meant to hold records (no users, no TLS).`,
	Flags: func(fs *flag.FlagSet) runFunc {
		var cfg eventstore.ClusterNodeConfig
		var routes string
		fs.StringVar(&cfg.Name, "name", "", "the node's server name (its identity in the cluster)")
		fs.StringVar(&cfg.DataDir, "data-dir", "", "the node's JetStream directory")
		fs.StringVar(&cfg.Listen, "listen", "", "loopback host:port for clients")
		fs.StringVar(&cfg.ClusterName, "cluster", "ntsflow-bench", "the cluster's name")
		fs.StringVar(&cfg.ClusterListen, "cluster-listen", "", "loopback host:port for the cluster's routes")
		fs.StringVar(&routes, "routes", "", "every node's cluster host:port, comma-separated")
		pprofAddr := fs.String("pprof-addr", "", "serve Go's profiles on this loopback host:port (bench --profile asks for it)")
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if routes != "" {
				cfg.Routes = strings.Split(routes, ",")
			}
			if *pprofAddr != "" {
				if err := startPprof(ctx, *pprofAddr, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
					return err
				}
			}
			node, err := eventstore.StartClusterNode(cfg)
			if err != nil {
				return err
			}
			// The parent waits for this line rather than polling the port.
			fmt.Fprintf(stdout, "ready %s\n", cfg.Listen)
			<-ctx.Done()
			node.Shutdown()
			return nil
		}
	},
}
