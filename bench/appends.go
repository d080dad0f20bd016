package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
)

// The baselines publish with nats.go directly: measuring raw JetStream is
// the one place outside eventstore that needs the client.

// Row is one measured line of a benchmark table.
type Row struct {
	Group        string  `json:"group"`
	Name         string  `json:"name"`
	Ops          int     `json:"ops"`
	Events       int     `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSecond"`
	P50ms        float64 `json:"p50Ms"`
	P95ms        float64 `json:"p95Ms"`
	P99ms        float64 `json:"p99Ms"`
	P999ms       float64 `json:"p999Ms"`
	MaxMs        float64 `json:"maxMs"`
	Ratio        float64 `json:"ratioToBaseline,omitempty"`
	Errors       int     `json:"errors,omitempty"`
	Conflicts    int     `json:"conflicts,omitempty"`
	Note         string  `json:"note,omitempty"`
	// CPUPerOpMs is the process's CPU time (engine and embedded server,
	// from /proc) per operation; in the mix part, serve's per command sent.
	CPUPerOpMs float64 `json:"cpuMsPerOp,omitempty"`
	// The mix and writes parts: the rate offered and the round; Ops are
	// the commands sent and Events those accepted (200 or 201).
	Offered int `json:"offeredPerSecond,omitempty"`
	Round   int `json:"round,omitempty"`
	// Mode is the mix's mode (cold or warm) for its rows.
	Mode       string         `json:"mode,omitempty"`
	ErrorKinds map[string]int `json:"errorKinds,omitempty"`
	// FsyncsPerOp is serve's synced writes per command sent: fsync and
	// fdatasync calls, and files opened O_SYNC (counted since 2026-12-08;
	// earlier rows count the calls only); absent when they could not be
	// counted (no strace, no ptrace).
	FsyncsPerOp *float64 `json:"fsyncsPerOp,omitempty"`
	// FsyncsBy divides FsyncsPerOp by whose file was synced ("stream
	// NTS_EVENTS", "consumer deadline-saga", "raft log: consumers").
	FsyncsBy map[string]float64 `json:"fsyncsBy,omitempty"`
	// MessagesPerOp is the messages each stream gained per command sent.
	MessagesPerOp map[string]float64 `json:"messagesPerOp,omitempty"`
	// Target is where the mix's and raw rows ran: "embedded" (one
	// in-process server) or "r3" (the three-process cluster).
	Target string `json:"target,omitempty"`
	// ClusterCPUPerOpMs is, on the cluster, its three nodes' CPU per
	// command sent or per raw publish (serve's own is CPUPerOpMs).
	ClusterCPUPerOpMs float64 `json:"clusterCpuMsPerOp,omitempty"`
	// Clients is how many clients published in a raw row.
	Clients int `json:"clients,omitempty"`
}

func fill(r *Row, lat []time.Duration, took time.Duration) {
	r.Seconds = took.Seconds()
	r.EventsPerSec = float64(r.Events) / r.Seconds
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	r.P50ms, r.P95ms, r.P99ms, r.P999ms, r.MaxMs = q(.5), q(.95), q(.99), q(.999), float64(lat[len(lat)-1].Microseconds())/1000
}

// AppendOptions shape an append workload, after the Event Store Benchmark
// Suite's: writers, payload, streams, and how writes fall on them.
type AppendOptions struct {
	Writers         int
	OpsPerWriter    int
	Streams         int
	Zipf            bool // 20% of writes to a hot set of 100 streams
	EventsPerCommit int
	PayloadBytes    int
}

func (o AppendOptions) shape() string {
	dist := "flat"
	if o.Zipf {
		dist = "hot 20%/100"
	}
	return fmt.Sprintf("%d writers, %d streams %s, %d-event commits of %d B events", o.Writers, o.Streams, dist, o.EventsPerCommit, o.PayloadBytes)
}

func (o AppendOptions) pick(rng *rand.Rand) int {
	if o.Zipf && rng.IntN(5) == 0 {
		return rng.IntN(min(100, o.Streams))
	}
	return rng.IntN(o.Streams)
}

// commitOf builds a commit of n events, each with payloadBytes of data.
func commitOf(n, payloadBytes int) events.Commit {
	c := events.Commit{Command: "bench"}
	pad := strings.Repeat("x", max(0, payloadBytes-60))
	for i := range n {
		c.Events = append(c.Events, events.Event{ID: fmt.Sprintf("b-%d", i), Type: events.TypePlacementSearched, SchemaVersion: 1, AggregateID: "bench",
			OccurredAt: time.Unix(0, 0).UTC(), RecordedAt: time.Unix(0, 0).UTC(), Actor: "bench",
			Data: events.PlacementSearched{Track: pad, OffersFound: i}})
	}
	return c
}

// Appends measures, on the same server and subjects, with the same writers
// and bytes: raw synchronous publishes, raw asynchronous publishes, and the
// engine store's conditional append (expected last subject sequence and a
// message id, retried on conflict as the engine does).
func Appends(ctx context.Context, store *eventstore.Store, o AppendOptions, prefix string) ([]Row, error) {
	commit := commitOf(o.EventsPerCommit, o.PayloadBytes)
	data, err := events.EncodeCommit(commit)
	if err != nil {
		return nil, err
	}
	subject := func(run string, i int) string { return events.ReferralSubject(fmt.Sprintf("%s%s%d", prefix, run, i)) }
	group := "appends: " + o.shape()
	type result struct {
		lat       []time.Duration
		errs      int
		conflicts int
	}
	// Each variant runs in rounds, interleaved with the others (raw sync,
	// raw async, engine, raw sync, ...), so a disk that is slower in one
	// minute than the next weighs on all three alike: with fsync on every
	// write, back-to-back phases of one variant each gave ratios from 0.8
	// to 1.4 on one machine, run to run.
	type variant struct {
		name    string
		op      func(rng *rand.Rand, w, ops int, res *result)
		rngs    []*rand.Rand
		results []result
		took    time.Duration
	}
	const rounds = 5
	var mu sync.Mutex
	last := map[string]uint64{}
	n := 0
	variants := []*variant{
		{name: "raw JetStream publish (sync)", op: func(rng *rand.Rand, w, ops int, res *result) {
			for range ops {
				t := time.Now()
				if _, err := store.PublishUnchecked(ctx, subject("s", o.pick(rng)), data); err != nil {
					res.errs++
				}
				res.lat = append(res.lat, time.Since(t))
			}
		}},
		{name: "raw JetStream publish (async, 64 in flight)", op: func(rng *rand.Rand, w, ops int, res *result) {
			type inflight struct {
				f eventstore.PendingAck
				t time.Time
			}
			window := make(chan inflight, 64)
			done := make(chan struct{})
			go func() {
				for in := range window {
					if in.f.Wait() != nil {
						res.errs++
					}
					res.lat = append(res.lat, time.Since(in.t))
				}
				close(done)
			}()
			for range ops {
				t := time.Now()
				f, err := store.PublishUncheckedAsync(subject("a", o.pick(rng)), data)
				if err != nil {
					res.errs++
					continue
				}
				window <- inflight{f, t}
			}
			close(window)
			<-done
		}},
		{name: "ntsflow conditional append (expected version + msg id)", op: func(rng *rand.Rand, w, ops int, res *result) {
			for range ops {
				subj := subject("e", o.pick(rng))
				t := time.Now()
				for {
					mu.Lock()
					expected := last[subj]
					n++
					id := fmt.Sprintf("%s-%d-%d", prefix, w, n)
					mu.Unlock()
					ack, err := store.Append(ctx, subj, expected, id, commit)
					var conflict *eventstore.ConflictError
					if errors.As(err, &conflict) {
						// As the engine does: reload to learn where the
						// subject stands now.
						res.conflicts++
						stored, err := store.Load(ctx, subj)
						if err != nil {
							res.errs++
							break
						}
						mu.Lock()
						if seq := eventstore.LastSequenceOf(stored); seq > last[subj] {
							last[subj] = seq
						}
						mu.Unlock()
						continue
					}
					if err != nil {
						res.errs++
						break
					}
					mu.Lock()
					if ack.Sequence > last[subj] {
						last[subj] = ack.Sequence
					}
					mu.Unlock()
					break
				}
				res.lat = append(res.lat, time.Since(t))
			}
		}},
	}
	for vi, v := range variants {
		v.results = make([]result, o.Writers)
		for w := range o.Writers {
			v.rngs = append(v.rngs, rand.New(rand.NewPCG(uint64(w), 42+uint64(vi))))
		}
	}
	for round := range rounds {
		// The last round takes what the others left, so every writer does
		// exactly OpsPerWriter in all.
		ops := o.OpsPerWriter / rounds
		if round == rounds-1 {
			ops = o.OpsPerWriter - ops*(rounds-1)
		}
		for _, v := range variants {
			var wg sync.WaitGroup
			start := time.Now()
			for w := range o.Writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v.op(v.rngs[w], w, ops, &v.results[w])
				}()
			}
			wg.Wait()
			v.took += time.Since(start)
		}
	}
	rows := make([]Row, len(variants))
	for i, v := range variants {
		r := Row{Group: group, Name: v.name, Ops: o.Writers * o.OpsPerWriter, Events: o.Writers * o.OpsPerWriter * o.EventsPerCommit}
		var lat []time.Duration
		for _, res := range v.results {
			lat = append(lat, res.lat...)
			r.Errors += res.errs
			r.Conflicts += res.conflicts
		}
		fill(&r, lat, v.took)
		rows[i] = r
	}
	syncRow, async, engine := rows[0], rows[1], rows[2]
	engine.Ratio = engine.EventsPerSec / syncRow.EventsPerSec
	async.Ratio = async.EventsPerSec / syncRow.EventsPerSec
	engine.Note = fmt.Sprintf("%.2f of async", engine.EventsPerSec/async.EventsPerSec)
	syncRow.Ratio = 1
	return []Row{syncRow, async, engine}, nil
}
