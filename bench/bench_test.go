package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/views"
)

// The smoke: seconds, on a small history; it checks the harness works and
// that every view applied every event, not how fast.
func TestRebuildHarness(t *testing.T) {
	n := storetest.Start(t, storetest.Options{})
	ctx := context.Background()
	events, commits, err := LoadHistory(ctx, n.Store, 1, 3000, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Rebuild(ctx, n.Store, uint64(events))
	if err != nil {
		t.Fatal(err)
	}
	// The raw read, then one row per registered view.
	if len(rows) != 1+len(views.Names()) || rows[0].Commits != uint64(commits) {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows[1:] {
		if r.Events != uint64(events) || r.EventsPerSec <= 0 {
			t.Fatalf("%s applied %d of %d events", r.Name, r.Events, events)
		}
	}
}

// BenchmarkRebuild: go test ./bench -run XXX -bench Rebuild -benchtime 1x
// (NTSFLOW_BENCH_EVENTS sets the history's size; default 1,000,000).
func BenchmarkRebuild(b *testing.B) {
	size := 1_000_000
	if s := os.Getenv("NTSFLOW_BENCH_EVENTS"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	n := storetest.Start(b, storetest.Options{})
	ctx := context.Background()
	start := time.Now()
	events, commits, err := LoadHistory(ctx, n.Store, 1, size, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d events in %d commits in %v", events, commits, time.Since(start).Round(time.Second))
	b.ResetTimer()
	for range b.N {
		rows, err := Rebuild(ctx, n.Store, uint64(events))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			b.Logf("%-48s %9d events %7.2fs %10.0f events/s  ratio %.2f", r.Name, r.Events, r.Seconds, r.EventsPerSec, r.RatioToRaw)
		}
	}
}

// BenchmarkHTTP500 offers 500 commands/s for 5 s, for profiling:
// go test ./bench -run XXX -bench HTTP500 -benchtime 1x -cpuprofile http.prof
func BenchmarkHTTP500(b *testing.B) {
	n := storetest.Start(b, storetest.Options{Durable: true})
	for range b.N {
		rows, err := HTTP(context.Background(), n.Store, []int{500}, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%+v", rows[0])
	}
}

// BenchmarkCommands runs the command part (fsync on every write) and logs
// its rows, CPU per command included:
// go test ./bench -run XXX -bench Commands -benchtime 1x
func BenchmarkCommands(b *testing.B) {
	n := storetest.Start(b, storetest.Options{Durable: true})
	for i := range b.N {
		rows, err := Commands(context.Background(), n.Store, CommandOptions{Writers: 4, Commands: 500, Rounds: 5, Active: 50}, fmt.Sprint("b", i))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			b.Logf("%-56s %6.0f ops/s  p50 %.2f p99 %.2f ms  CPU %.3f ms/op  errors %d", r.Name, r.EventsPerSec, r.P50ms, r.P99ms, r.CPUPerOpMs, r.Errors)
		}
	}
}

// strace -f -y's lines, as strace 6.1 writes them: a call whole, a call
// begun on one thread and resumed after another's (counted once), and
// each attributed to whose file it synced.
func TestParseStraceCalls(t *testing.T) {
	trace := `101 fsync(12</d/jetstream/$G/streams/NTS_EVENTS/msgs/1.blk>) = 0
102 fsync(14</d/jetstream/$G/streams/NTS_EVENTS/obs/deadline-saga/o.dat.tmp> <unfinished ...>
101 fdatasync(9</d/jetstream/$SYS/_js_/C-R3F-abc/msgs/1.blk>) = 0
102 <... fsync resumed>) = 0
103 fsync(7</d/jetstream/$SYS/_js_/S-R3F-def/msgs/1.blk>) = 0
103 fsync(8</d/jetstream/$SYS/_js_/_meta_/msgs/1.blk>) = 0
103 fsync(5</d/jetstream/$G/streams/NTS_TIMERS/msgs/2.blk>) = 0
103 fsync(6</d/other/x.json>) = 0
104 openat(AT_FDCWD</d>, "/d/jetstream/$G/streams/NTS_PUBLIC/batches/Ab1/meta.inf.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_SYNC|O_CLOEXEC, 0600) = 9</d/jetstream/$G/streams/NTS_PUBLIC/batches/Ab1/meta.inf.tmp>
104 openat(AT_FDCWD</d>, "/d/jetstream/$G/streams/NTS_PUBLIC/msgs/1.blk", O_RDONLY|O_CLOEXEC) = 10</d/jetstream/$G/streams/NTS_PUBLIC/msgs/1.blk>
105 openat(AT_FDCWD</d>, "/d/jetstream/$G/streams/NTS_KEYS/meta.inf.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_SYNC|O_CLOEXEC, 0600 <unfinished ...>
104 openat(AT_FDCWD</d>, "/d/gone/x.tmp", O_WRONLY|O_SYNC, 0600) = -1 ENOENT (No such file or directory)
105 <... openat resumed>) = 11</d/jetstream/$G/streams/NTS_KEYS/meta.inf.tmp>
+++ exited with 0 +++
`
	calls, by := parseStraceCalls(trace, map[string]string{"C-R3F-abc": "consumer public-publisher"})
	if calls["fsync"] != 6 || calls["fdatasync"] != 1 || calls["O_SYNC open"] != 2 || len(calls) != 3 {
		t.Fatalf("calls %v", calls)
	}
	want := map[string]int{"stream NTS_EVENTS": 1, "consumer deadline-saga": 1, "raft log: consumer public-publisher": 1, "raft log: streams": 1,
		"raft log: meta": 1, "stream NTS_TIMERS": 1, "other: other": 1, "stream NTS_PUBLIC": 1, "stream NTS_KEYS": 1}
	if !maps.Equal(by, want) {
		t.Fatalf("by %v, want %v", by, want)
	}
	if _, by := parseStraceCalls(trace, nil); by["raft log: consumers"] != 1 {
		t.Fatalf("an unnamed consumer's raft log: %v", by)
	}
	if calls, by := parseStraceCalls("", nil); calls["fsync"] != 0 || len(by) != 0 {
		t.Fatalf("no trace: %v %v", calls, by)
	}
}
