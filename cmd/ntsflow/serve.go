package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/calendar"
	"github.com/ntsflow/ntsflow/console"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/metrics"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/deadline"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
	"github.com/ntsflow/ntsflow/sagas/policy"
	"github.com/ntsflow/ntsflow/sagas/retention"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
	"github.com/ntsflow/ntsflow/wiring"
)

type serveConfig struct {
	dataDir      string
	httpAddr     string
	natsURL      string
	natsListen   string
	natsLogin    natsLogin
	replicas     int
	syncInterval time.Duration
	maxBytes     int64
	loadConns    int
	appendConns  int
	logFormat    string
	logLevel     string
	shutdownWait time.Duration
	policyFile   string
	allocPolicy  string
	safePolicy   string
	leavePolicy  string
	retainPolicy string
	holidayFile  string
	noSagas      bool
	population   string
	authorities  string
	chainKeyFile string
	natsUsers    string
	tokens       string
	sessionIdle  time.Duration
	sessionMax   time.Duration
	trustedProxy string
	tlsCert      string
	tlsKey       string
	insecure     bool
	pprofAddr    string
}

func serveFlags(fs *flag.FlagSet) *serveConfig {
	c := &serveConfig{}
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the embedded JetStream's files (ignored with --nats-url)")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "address the HTTP API listens on")
	fs.StringVar(&c.natsURL, "nats-url", "", "connect to this NATS server or cluster (comma-separated URLs) instead of embedding one; no user or password in it (see --nats-user)")
	natsLoginFlags(fs, &c.natsLogin)
	fs.StringVar(&c.natsListen, "nats-listen", "", "let NATS clients (the nats CLI) reach the embedded server at this loopback host:port; default: in-process only")
	fs.IntVar(&c.replicas, "replicas", 0, "stream replicas (default 1 embedded or on a single server, 3 on a cluster)")
	fs.DurationVar(&c.syncInterval, "sync-interval", 0, "embedded JetStream fsync interval; 0 (default) fsyncs every append, see README on what relaxing it risks")
	fs.IntVar(&c.loadConns, "load-conns", eventstore.DefaultLoadConns, "NATS connections aggregate loads are spread over, round robin (1: the engine's one connection; see docs/design/atomic-appends.md)")
	fs.IntVar(&c.appendConns, "append-conns", eventstore.DefaultAppendConns, "NATS connections commands' appends are spread over, round robin (1: the engine's one connection; see docs/operations.md)")
	fs.Int64Var(&c.maxBytes, "max-bytes", 0, "cap the events stream at this many bytes; when full, commands fail with 503 and nothing is lost (0: no cap)")
	fs.StringVar(&c.logFormat, "log-format", defaultLogFormat(), "log format: json or text (text when stderr is a terminal)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.allocPolicy, "allocation-policy", "", "the allocated authority's response time (JSON, like sagas/allocation/policy.json); default: one working day, a reminder half way, then the partnership's lead")
	fs.StringVar(&c.retainPolicy, "retention-policy", "", "retention policy (JSON, like sagas/retention/policy.json); default: until the 75th birthday looked after, 15 years after a death before 18, the 21st birthday and 3 years after closing otherwise")
	fs.StringVar(&c.leavePolicy, "leaving-care-policy", "", "leaving-care policy (JSON, like sagas/leavingcare/policy.json); default: the pathway plan due 90 days after the 16th birthday")
	fs.StringVar(&c.safePolicy, "safeguarding-policy", "", "missing-episode policy (JSON, like sagas/safeguarding/policy.json); default: police and hub told at once, a strategy discussion within 24 hours, a return interview within 72 hours of return")
	fs.StringVar(&c.policyFile, "deadline-policy", "", "deadline policy file (JSON, like sagas/deadline/policy.json); default: the shipped NTS policy, 5 working days (hotel) and 10 (entry authority)")
	fs.StringVar(&c.holidayFile, "bank-holidays", "", "bank holidays file in the gov.uk bank-holidays.json format; default: the shipped list, with the standing rules computed for years it does not cover")
	fs.StringVar(&c.population, "population", "", "child population (0-17) per authority, CSV: ons_code,population_0_17,year,source, replacing the shipped ONS mid-2020 figures (e.g. with a newer release)")
	fs.StringVar(&c.authorities, "authorities", "", "authority list CSV (ons_code,name,region) to use instead of the shipped one")
	fs.StringVar(&c.chainKeyFile, "chain-key-file", "", "key of the events' tamper-evident HMAC chain (64 hex digits); default: embedded, DATA-DIR/chain.key (made on first start, 0600); with --nats-url, a key kept in NATS (bucket ntsflow_chain)")
	fs.StringVar(&c.natsUsers, "nats-users", "", "with --nats-listen: the NATS users' passwords, JSON {\"engine\":...,\"subscriber\":...}; default DATA-DIR/nats-users.json, made on first start (0600)")
	fs.StringVar(&c.tokens, "tokens", "", "bearer token file (JSON, hashed tokens with roles; see 'ntsflow token'); turns authentication on, reloaded when it changes")
	fs.DurationVar(&c.sessionIdle, "session-idle", console.DefaultSessionIdle, "with --tokens: a console session unused for this long ends")
	fs.DurationVar(&c.sessionMax, "session-max-age", console.DefaultSessionMaxAge, "with --tokens: a console session ends this long after signing in, used or not")
	fs.StringVar(&c.trustedProxy, "trusted-proxy", "", "with --tokens: reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client that unknown tokens are counted against; default none: the connection's address is the client")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); required to listen beyond loopback")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	fs.BoolVar(&c.insecure, "insecure", false, "allow listening beyond loopback without TLS (closed container networks only); tokens are still required")
	fs.BoolVar(&c.noSagas, "no-sagas", false, "serve the API and views only; leave the deadline saga and the public publisher to other instances")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go's profiles (/debug/pprof/: CPU, goroutines, block, mutex) on this loopback host:port, block and mutex sampling on; default off")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", 15*time.Second, "how long to let requests in flight finish on SIGINT/SIGTERM")
	return c
}

func defaultLogFormat() string {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return "text"
	}
	return "json"
}

var cmdServe = &Command{
	Name:      "serve",
	UsageLine: "serve [flags]",
	Short:     "run the engine: HTTP API, embedded NATS JetStream (or --nats-url)",
	Long: `Runs the engine in one process: an embedded NATS JetStream server holding the
event log under --data-dir (or a connection to --nats-url), the streams the
engine needs (created or updated on start), and the HTTP API on --http-addr.
Stops gracefully on SIGINT or SIGTERM. Probes: GET /healthz, GET /readyz.`,
	Flags: func(fs *flag.FlagSet) runFunc {
		cfg := serveFlags(fs)
		return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			log, err := newLogger(stderr, cfg.logFormat, cfg.logLevel)
			if err != nil {
				return exitWith(2, err)
			}
			if err := runServe(ctx, cfg, log, nil); err != nil {
				log.Error("serve stopped", "err", err)
				return exitWith(1, nil)
			}
			return nil
		}
	},
}

// runServe runs until ctx ends. ready, if set, is called with the HTTP
// address once the engine serves (tests use it).
func runServe(ctx context.Context, cfg *serveConfig, log *slog.Logger, ready func(addr string)) error {
	if err := checkExposure(cfg); err != nil {
		return err
	}
	if cfg.sessionIdle <= 0 || cfg.sessionMax <= 0 {
		return fmt.Errorf("--session-idle (%v) and --session-max-age (%v) must be positive, e.g. 30m and 12h", cfg.sessionIdle, cfg.sessionMax)
	}
	if cfg.pprofAddr != "" {
		if err := startPprof(ctx, cfg.pprofAddr, log); err != nil {
			return err
		}
	}
	var nc *eventstore.Conn
	var emb *eventstore.Embedded
	natsClient := metrics.NewNATSClient(log)
	replicas := cfg.replicas
	if cfg.natsURL == "" {
		dir, err := filepath.Abs(cfg.dataDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		ecfg := eventstore.EmbeddedConfig{DataDir: dir, Listen: cfg.natsListen, SyncInterval: cfg.syncInterval}
		if cfg.natsListen != "" {
			path := cfg.natsUsers
			if path == "" {
				path = filepath.Join(dir, eventstore.NATSUsersFileName)
			}
			users, err := eventstore.LoadOrCreateNATSUsers(path)
			if err != nil {
				return err
			}
			ecfg.Users = &users
			log.Info("embedded nats requires authentication", "users", eventstore.EngineUser+", "+eventstore.SubscriberUser, "credentials", path)
		}
		if emb, err = eventstore.StartEmbedded(ecfg); err != nil {
			return err
		}
		defer func() {
			emb.Shutdown()
			log.Info("embedded nats stopped")
		}()
		sync := "every append (fsync)"
		if cfg.syncInterval > 0 {
			sync = "every " + cfg.syncInterval.String()
		}
		log.Info("embedded nats started", "data_dir", dir, "nats_listen", cfg.natsListen, "sync", sync)
		// A full disk leaves the server failing every write until its
		// JetStream starts again: start it again once there is room, within
		// a second or two, rather than failing every write until a restart.
		keepCtx, stopKeep := context.WithCancel(context.Background())
		defer stopKeep()
		go emb.KeepJetStream(keepCtx, time.Second, log.With("component", "embedded-nats"))
		if nc, err = emb.Dial("ntsflow", eventstore.ConnOptions{Events: natsClient.Events()}); err != nil {
			return err
		}
		if replicas == 0 {
			replicas = 1
		}
	} else {
		login, err := cfg.natsLogin.login(cfg.natsURL)
		if err != nil {
			return err
		}
		if nc, err = eventstore.Dial(cfg.natsURL, "ntsflow", eventstore.ConnOptions{Login: login, Events: natsClient.Events()}); err != nil {
			return err
		}
		if replicas == 0 {
			// A lone server refuses replicated streams; a cluster gets three,
			// so that losing one node loses nothing.
			replicas = 3
			if nc.ClusterName() == "" {
				replicas = 1
			}
		}
		log.Info("connected to nats", "url", nc.RedactedURL(), "cluster", nc.ClusterName(), "replicas", replicas)
	}
	defer nc.Drain()

	if cfg.appendConns < 1 {
		return fmt.Errorf("--append-conns %d: want at least 1 connection", cfg.appendConns)
	}
	if cfg.loadConns < 1 {
		return fmt.Errorf("--load-conns %d: want at least 1 connection", cfg.loadConns)
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	store, err := nc.Open(openCtx, eventstore.Config{Replicas: replicas, MaxBytes: cfg.maxBytes, LoadConns: cfg.loadConns, AppendConns: cfg.appendConns})
	cancel()
	if err != nil && replicas > 1 {
		return fmt.Errorf("%w; pass --replicas with at most the cluster's JetStream servers (--replicas 1 on a single server)", err)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	if emb != nil {
		// Readiness hears of a failed write from the server itself, at once;
		// the consumers pull afresh as soon as JetStream starts again.
		store.Storage = emb.CheckStorage
		emb.OnRestart(store.JetStreamRestarted)
	}
	cal := calendar.Default()
	if cfg.holidayFile != "" {
		if cal, err = calendar.Load(cfg.holidayFile); err != nil {
			return err
		}
	}
	policy, err := deadline.Policies.FileOr(cfg.policyFile)
	if err != nil {
		return err
	}
	reg := refdata.Default()
	if cfg.authorities != "" {
		if reg, err = refdata.LoadAuthorities(cfg.authorities); err != nil {
			return err
		}
	}
	if cfg.population != "" {
		// A newer ONS release replaces the shipped mid-2020 figures.
		if err := reg.LoadPopulation(cfg.population); err != nil {
			return err
		}
	} else if !reg.PopulationLoaded {
		// An operator's own authority list, with no figures for it.
		log.Warn(refdata.ErrNoPopulation.Error())
	}
	first, last := cal.Covers()
	log.Info("deadline policy", "version", policy.Version, "bank_holidays_listed", fmt.Sprintf("%d-%d", first, last), "calendar_source", cal.Source)

	chainKey, err := serveChainKey(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	var policies policyReader
	allocPolicy := readPolicy(&policies, allocation.Policies, cfg.allocPolicy)
	safePolicy := readPolicy(&policies, safeguarding.Policies, cfg.safePolicy)
	leavePolicy := readPolicy(&policies, leavingcare.Policies, cfg.leavePolicy)
	retainPolicy := readPolicy(&policies, retention.Policies, cfg.retainPolicy)
	if policies.err != nil {
		return policies.err
	}
	log.Info("allocation response policy", "version", allocPolicy.Version)
	log.Info("safeguarding policy", "version", safePolicy.Version)
	log.Info("leaving-care policy", "version", leavePolicy.Version)
	log.Info("retention policy", "version", retainPolicy.Version)
	var tokens *auth.Tokens
	if cfg.tokens != "" {
		if tokens, err = auth.Load(cfg.tokens, reg); err != nil {
			return err
		}
		if tokens.TrustedProxies, err = auth.ParseProxies(cfg.trustedProxy); err != nil {
			return fmt.Errorf("--trusted-proxy: %w", err)
		}
		log.Info("authentication on", "tokens", cfg.tokens, "trusted_proxies", cfg.trustedProxy)
	} else {
		log.Warn("authentication off: no --tokens file; anyone who can reach " + cfg.httpAddr + " can read and write")
	}
	var sessions console.SessionStore
	if tokens != nil {
		// Console sessions live in NATS beside the log, so a restart or
		// another instance keeps everyone signed in.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		kv, err := store.Sessions(sctx, cfg.sessionMax)
		cancel()
		if err != nil {
			return err
		}
		sessions = kv
	}
	node, err := wiring.Build(wiring.Config{Store: store, Log: log, ChainKey: chainKey, Calendar: cal, Authorities: reg,
		Deadline: &policy, Allocation: &allocPolicy, Safeguarding: &safePolicy, LeavingCare: &leavePolicy, Retention: &retainPolicy,
		Tokens: tokens, Sessions: sessions, SessionIdle: cfg.sessionIdle, SessionMaxAge: cfg.sessionMax, Secure: cfg.tlsCert != "", Version: version})
	if err != nil {
		return err
	}
	node.Metrics.Registry.MustRegister(natsClient)

	var workers sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.Background())
	defer func() {
		stopWork()
		workers.Wait()
	}()
	parts := wiring.All
	if cfg.noSagas {
		parts = wiring.ViewsOnly
	}
	workers.Add(1)
	go func() { defer workers.Done(); node.Run(workCtx, parts...) }()
	if tokens != nil {
		workers.Add(1)
		go func() {
			defer workers.Done()
			tokens.OnReload = func(path string, n int) { log.Info("token file reloaded", "tokens", path, "count", n) }
			tokens.Watch(workCtx, 2*time.Second, func(err error) { log.Error("token file not reloaded; keeping the tokens in force", "err", err) })
		}()
	}

	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	hs := newHTTPServer(node.Handler(), log)
	errc := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			errc <- hs.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
			return
		}
		errc <- hs.Serve(ln)
	}()
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	log.Info("ntsflow serving", "http", scheme+"://"+ln.Addr().String(), "version", version)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "timeout", cfg.shutdownWait)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownWait)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}

// newHTTPServer bounds every phase of a connection: headers (and their
// size), the whole request, the response (streams that may run longer, the
// export and verify, lift their own write deadline) and idle keep-alives.
// Command bodies have their own, shorter deadline (api.DefaultBodyTimeout).
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// serveChainKey finds the chain key. An embedded engine keeps it in a file
// beside its data, never in NATS (a key kept in an earlier version's bucket
// moves to the file on first start); with --nats-url, instances share the
// one kept in NATS unless the operator gives them all a key file.
func serveChainKey(ctx context.Context, cfg *serveConfig, store *eventstore.Store, log *slog.Logger) ([]byte, error) {
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	embedded := cfg.natsURL == ""
	switch {
	case cfg.chainKeyFile != "":
		key, err := eventstore.ReadChainKeyFile(cfg.chainKeyFile)
		if err == nil && embedded {
			err = store.ForgetStoredChainKey(kctx, key)
		}
		return key, err
	case embedded:
		path := filepath.Join(cfg.dataDir, eventstore.ChainKeyFileName)
		key, migrated, err := store.KeyFileChainKey(kctx, path)
		if migrated {
			log.Info("chain key moved out of NATS into a key file", "file", path, "bucket_deleted", eventstore.ChainKeyBucket)
		}
		return key, err
	}
	key, err := store.ChainKey(kctx)
	if errors.Is(err, eventstore.ErrChainKeyElsewhere) {
		return nil, fmt.Errorf("%w; give this instance the same key with --chain-key-file (an embedded engine keeps it in DATA-DIR/%s): a key of its own would make verify call its events altered", err, eventstore.ChainKeyFileName)
	}
	if err == nil {
		log.Warn("chain key kept in NATS (bucket " + eventstore.ChainKeyBucket + "): whoever can read it can forge the chain; give every engine and verifier --chain-key-file")
	}
	return key, err
}

// checkExposure refuses configurations that would put children's records
// on a network unprotected: beyond loopback the API needs TLS and tokens.
// --insecure, for closed networks such as docker-compose's, waives TLS
// only: tokens may then travel in clear, but a network that is closed
// today is not a reason to let whoever reaches it read every referral.
func checkExposure(cfg *serveConfig) error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("--http-addr %q: %w", cfg.httpAddr, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	tls, tokens := cfg.tlsCert != "", cfg.tokens != ""
	switch {
	case loopback || (tokens && (tls || cfg.insecure)):
	case cfg.insecure:
		return fmt.Errorf("--http-addr %s is beyond loopback without --tokens: anyone who reaches it could read and change every referral; --insecure waives TLS on a closed network, never tokens: add --tokens FILE (see 'ntsflow token')", cfg.httpAddr)
	case tokens:
		return fmt.Errorf("--http-addr %s is beyond loopback: bearer tokens would travel in clear; serve TLS (--tls-cert, --tls-key), or pass --insecure on a closed network", cfg.httpAddr)
	case tls:
		return fmt.Errorf("--http-addr %s is beyond loopback: TLS without --tokens lets anyone who reaches it read and write; add --tokens (or --insecure on a closed network)", cfg.httpAddr)
	default:
		return fmt.Errorf("--http-addr %s is beyond loopback: serve TLS with --tokens, or pass --insecure on a closed network", cfg.httpAddr)
	}
	return nil
}

// policyReader keeps the first error of the sagas' policies read one
// after another, so that serve stops on it as it would reading each alone.
type policyReader struct{ err error }

// readPolicy is the policy in force for one saga: the operator's file at
// path, or the shipped one. After an error it reads nothing more.
func readPolicy[P any](r *policyReader, rule policy.Rule[P], path string) P {
	if r.err != nil {
		var none P
		return none
	}
	p, err := rule.FileOr(path)
	r.err = err
	return p
}
