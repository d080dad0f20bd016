package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/migrate"
	"github.com/ntsflow/ntsflow/projections"
	"github.com/ntsflow/ntsflow/views"
	"github.com/ntsflow/ntsflow/wiring"
)

// What the old log holds in the clear: two children's references, a date
// of birth, and free text (a need, a withdrawal's detail, a reason).
const (
	oldRef       = "UASC-PLAIN-55120"
	oldRef2      = "UASC-PLAIN-55121"
	oldDOB       = "2009-11-23"
	oldNeed      = "needs an EpiPen kept by Mr Haddad"
	oldDetail    = "went to a cousin at 9 Rowan Close, Oldham"
	oldReason    = "looks older than 17 to the duty worker"
	sealedRef    = "UASC-SEALED-9931"
	migrateHotel = "hotel-migrate-2207"
)

var oldSecrets = []string{oldRef, oldRef2, oldDOB, oldNeed, oldDetail}

// oldLog is what the test knows of the data directory it built.
type oldLog struct {
	dir, keyFile string
	key          []byte
	lastSeq      uint64
	floors       map[string]uint64
	views        map[string]string
}

// buildOldLog writes a data directory the way an engine from before
// sealing left it: an engine with no key store (Engine.Keys nil, which is
// how every engine before issue 24 wrote) records two referrals, one
// withdrawn, with their personal fields in the clear; the second child is
// then disposed of (their key destroyed, as the retention saga does),
// which did not erase the fields written in the clear. Then sealing is
// switched on, as an upgraded engine has it: a third referral is recorded
// sealed, and an age assessment request (a sealed reason) is added to the
// first, so its chain holds plaintext then sealed events. The sagas, the
// publisher and the views run throughout, so their consumers have moved.
func buildOldLog(t *testing.T) oldLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Durable: true})
	key := bytes.Repeat([]byte{5}, 32)
	keyFile := filepath.Join(n.Dir, eventstore.ChainKeyFileName)
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The old engine's clock says an hour ago: the log was written well
	// before the migration stores its copy (at the server's time now).
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: key, Now: func() time.Time { return time.Now().Add(-time.Hour).UTC() }})
	if err != nil {
		t.Fatal(err)
	}
	node.Engine.Keys = nil // an engine from before sealing
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { node.Run(runCtx, wiring.All...); close(done) }()
	meta := engine.Meta{Actor: "test"}
	handle := func(id string, cmd aggregates.Command) {
		t.Helper()
		if _, err := node.Engine.Handle(ctx, id, cmd, meta); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	at := time.Now().UTC().Add(-2 * time.Hour)
	recv := func(id, ref string) aggregates.ReceiveReferral {
		return aggregates.ReceiveReferral{ReferralID: id, ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: migrateHotel,
			ChildReference: ref, DateOfBirth: oldDOB, Needs: []string{oldNeed}, ReceivedAt: at}
	}
	handle("r-old-1", recv("r-old-1", oldRef))
	handle("r-old-2", recv("r-old-2", oldRef2))
	handle("r-old-2", aggregates.Withdraw{Reason: "family-reunion", Detail: oldDetail})
	if err := n.Store.DestroyKey(ctx, "r-old-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	node.Engine.Keys = n.Store // upgraded: sealing on
	handle("r-new", recv("r-new", sealedRef))
	handle("r-old-1", aggregates.RequestAgeAssessment{Method: "merton-compliant", Reason: oldReason})

	last, err := n.Store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every consumer has handled every commit it was given, and the views
	// hold the last sequence.
	if !storetest.WaitFor(30*time.Second, func() bool {
		cs, err := n.Store.DurableConsumers(ctx, eventstore.EventsStream)
		if err != nil || len(cs) == 0 {
			return false
		}
		for _, c := range cs {
			if p, err := n.Store.ConsumerPending(ctx, eventstore.EventsStream, c.Name); err != nil || p > 0 {
				return false
			}
		}
		l, _ := n.Store.LastSequence(ctx)
		if l != last {
			last = l // a saga reacted: wait for that too
			return false
		}
		return node.Views.Referrals.Status().Sequence >= last && node.Views.Records.Status().Sequence >= last
	}) {
		t.Fatal("the consumers and views never caught up")
	}
	log := oldLog{dir: n.Dir, keyFile: keyFile, key: key, lastSeq: last, floors: floors(ctx, t, n.Store), views: viewsJSON(node.Views)}
	stop()
	<-done
	n.Stop()
	return log
}

func floors(ctx context.Context, t *testing.T, st *eventstore.Store) map[string]uint64 {
	t.Helper()
	cs, err := st.DurableConsumers(ctx, eventstore.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, c := range cs {
		out[c.Name] = c.AckFloor
	}
	return out
}

// viewsJSON is every view as JSON.
func viewsJSON(s *views.Set) map[string]string {
	out := map[string]string{}
	put := func(name string, v any) { b, _ := json.Marshal(v); out[name] = canonical(string(b)) }
	s.Capacity.Read(func(v *projections.Capacity, _ uint64) { put("capacity", v) })
	s.Timeliness.Read(func(v *projections.Timeliness, _ uint64) { put("timeliness", v) })
	s.Referrals.Read(func(v *projections.ReferralList, _ uint64) {
		var rows []projections.ReferralRow
		v.Each(func(r projections.ReferralRow) { rows = append(rows, r) })
		put("referrals", rows)
	})
	s.Safeguarding.Read(func(v *projections.Safeguarding, _ uint64) { put("safeguarding", v) })
	s.Children.Read(func(v *projections.Children, _ uint64) { put("children", v) })
	s.Deadlines.Read(func(v *projections.Deadlines, _ uint64) { put("deadlines", v) })
	s.Records.Read(func(v *projections.Records, _ uint64) { put("records", v) })
	return out
}

// runMigrate runs the command in process.
func runMigrate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"migrate-personal-data"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// Issue 24: events written before sealing are migrated forward. After the
// migration none of the plaintext is in any file of the data directory;
// verify passes; the engine starts on it with every view as it was and
// every consumer where it was (no saga reaction redone: no commit more);
// reads give the living child's fields back and the disposed child's as
// disposed of; the manifest links the old chains to the new; a second run
// does nothing.
func TestMigrationSealsThePlaintextOfOldEvents(t *testing.T) {
	old := buildOldLog(t)
	hits := storetest.FilesHolding(t, old.dir, bytesOf(oldSecrets)...)
	for _, s := range oldSecrets {
		if len(hits[s]) == 0 {
			t.Fatalf("%q is in no file before the migration: the test built no plaintext, or the scan cannot see it", s)
		}
	}
	manifest := filepath.Join(t.TempDir(), "manifest.json")

	code, out, errText := runMigrate(t, "--data-dir", old.dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "would seal 3 events of 2 children (2 of them disposed of") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errText)
	}
	if _, err := os.Stat(manifest); err == nil {
		t.Fatal("the dry run wrote a manifest")
	}
	code, out, errText = runMigrate(t, "--data-dir", old.dir, "--manifest", manifest)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errText)
	}
	t.Logf("%s", out)

	hits = storetest.FilesHolding(t, old.dir, bytesOf(append(oldSecrets, migrateHotel))...)
	if len(hits[migrateHotel]) == 0 {
		t.Fatal("the scan finds not even the hotel, which is no personal data: it cannot see the files")
	}
	for _, s := range oldSecrets {
		if len(hits[s]) > 0 {
			t.Errorf("%q is still in %v after the migration", s, hits[s])
		}
	}
	if code, out, errText := func() (int, string, string) {
		var o, e bytes.Buffer
		c := run([]string{"verify", "--data-dir", old.dir}, &o, &e)
		return c, o.String(), e.String()
	}(); code != 0 {
		t.Fatalf("verify after the migration: exit %d\n%s\n%s", code, out, errText)
	}
	man, err := migrate.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var aggs []string
	for _, c := range man.Aggregates {
		aggs = append(aggs, c.Aggregate)
		if c.OldHead == "" || c.NewHead == "" || c.OldHead == c.NewHead || c.FirstSequence == 0 {
			t.Errorf("manifest entry %+v", c)
		}
	}
	if want := []string{"referral.r-old-1", "referral.r-old-2"}; !slices.Equal(aggs, want) {
		t.Errorf("manifest names %v, want %v", aggs, want)
	}
	if b, _ := os.ReadFile(manifest); bytes.Contains(b, []byte(oldRef)) || bytes.Contains(b, []byte(oldDOB)) {
		t.Error("the manifest holds personal data")
	}

	// The engine starts on it: consumers where they were, views as they
	// were, no commit more, fields read back.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Dir: old.dir, Durable: true})
	t.Logf("consumers' ack floors before: %v", old.floors)
	if got := floors(ctx, t, n.Store); !maps.Equal(got, old.floors) {
		t.Errorf("consumers' ack floors after the migration %v, before %v", got, old.floors)
	}
	node, err := wiring.Build(wiring.Config{Store: n.Store, ChainKey: old.key})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { node.Run(runCtx, wiring.All...); close(done) }()
	if !storetest.WaitFor(30*time.Second, func() bool {
		return node.Views.Referrals.Status().Sequence >= old.lastSeq && node.Views.Records.Status().Sequence >= old.lastSeq
	}) {
		t.Fatal("the views never caught up after the migration")
	}
	// The views hold what the log holds: the disposed child's reference and
	// date of birth, in the clear in the old log, are gone from the new one
	// and so from the views built from it. Nothing else changes.
	want := map[string]string{}
	for k, v := range old.views {
		want[k] = forgetDisposed(t, k, v)
	}
	if got := viewsJSON(node.Views); !maps.Equal(got, want) {
		for k := range old.views {
			if got[k] != want[k] {
				t.Errorf("view %s after the migration:\n%s\nwant:\n%s", k, got[k], want[k])
			}
		}
	}
	// Every consumer has caught up (pending 0, pulled by the engine): had
	// it been set back, its saga would have handled commits again.
	if !storetest.WaitFor(30*time.Second, func() bool {
		for name := range old.floors {
			if p, err := n.Store.ConsumerPending(ctx, eventstore.EventsStream, name); err != nil || p > 0 {
				return false
			}
		}
		return true
	}) {
		t.Error("the consumers never caught up after the migration")
	}
	// The engine took the consumers the migration made again as its own
	// (it creates or updates them with its configuration on start): each is
	// being pulled from.
	if !storetest.WaitFor(10*time.Second, func() bool {
		cs, err := n.Store.DurableConsumers(ctx, eventstore.EventsStream)
		if err != nil || len(cs) != len(old.floors) {
			return false
		}
		for _, c := range cs {
			if !c.InUse {
				return false
			}
		}
		return true
	}) {
		t.Error("the engine does not read from the consumers the migration restored")
	}
	if last, _ := n.Store.LastSequence(ctx); last != old.lastSeq {
		t.Errorf("%d commits after the engine started on the migrated log, %d before: reactions were redone", last, old.lastSeq)
	}
	// A view as of a moment before the migration is folded from the
	// events recorded by then, though the copy was stored after it.
	asOf, _, _, err := views.Fold(ctx, n.Store, projections.ReferralListSpec(), views.FoldOptions{AsOf: time.Now().Add(-30 * time.Minute)})
	if err != nil || asOf.Len() != 3 {
		t.Errorf("the referrals as of half an hour ago, after the migration: %d, %v; want all 3", asOf.Len(), err)
	}
	_, stored, err := node.Engine.Load(ctx, "r-old-1")
	if err != nil {
		t.Fatal(err)
	}
	r := stored[0].Commit.Events[0].Data.(events.ReferralReceived)
	if r.ChildReference != oldRef || r.DateOfBirth != oldDOB || !slices.Equal(r.Needs, []string{oldNeed}) || r.Hotel != migrateHotel {
		t.Errorf("r-old-1 reads back as %+v", r)
	}
	if stored[0].Commit.Events[0].Sealed == "" {
		t.Error("r-old-1's receipt is not sealed")
	}
	if got := stored[len(stored)-1].Commit.Events[0].Data.(events.AgeAssessmentRequested).Reason; got != oldReason {
		t.Errorf("the sealed reason after the plaintext reads %q", got)
	}
	_, stored, err = node.Engine.Load(ctx, "r-old-2")
	if err != nil {
		t.Fatal(err)
	}
	e := stored[0].Commit.Events[0]
	if r := e.Data.(events.ReferralReceived); r.ChildReference != "" || r.Hotel != migrateHotel || !slices.Contains(e.Disposed, "childReference") {
		t.Errorf("the disposed child's receipt reads %+v, disposed %v", r, e.Disposed)
	}
	stop()
	<-done
	n.Stop()

	code, out, errText = runMigrate(t, "--data-dir", old.dir, "--manifest", manifest+".2")
	if code != 0 || !strings.HasPrefix(out, "nothing to do") {
		t.Fatalf("a second run: exit %d\n%s\n%s", code, out, errText)
	}
	if _, err := os.Stat(manifest + ".2"); err == nil {
		t.Error("a second run wrote a manifest")
	}
	// The key store came through untouched: the disposal is still listed.
	var list, errb bytes.Buffer
	if code := run([]string{"disposals", "--data-dir", old.dir}, &list, &errb); code != 0 || !strings.Contains(list.String(), `"child":"r-old-2"`) {
		t.Errorf("disposals after the migration: exit %d\n%s\n%s", code, list.String(), errb.String())
	}
}

// forgetDisposed is a view as it was before the migration, less what the
// disposed child's plaintext events gave it, in canonical JSON.
func forgetDisposed(t *testing.T, view, js string) string {
	t.Helper()
	js = strings.ReplaceAll(js, `"childReference":"`+oldRef2+`",`, "") // the list omits an empty one
	js = strings.ReplaceAll(js, `"`+oldRef2+`"`, `""`)
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	if view == "records" {
		delete(v.(map[string]any)["refs"].(map[string]any)["r-old-2"].(map[string]any)["f"].(map[string]any), "b")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// canonical is JSON with its objects' members in one order.
func canonical(js string) string {
	var v any
	json.Unmarshal([]byte(js), &v)
	b, _ := json.Marshal(v)
	return string(b)
}

func bytesOf(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// killEnv names the step a re-executed test binary kills itself at, and
// dirEnv its data directory.
const (
	killEnv = "NTSFLOW_TEST_MIGRATE_KILL_AT"
	dirEnv  = "NTSFLOW_TEST_MIGRATE_DIR"
)

// Issue 24's crash test for the migration: a process running it is killed
// (SIGKILL: no clean-up, the embedded server's files as they were) at each
// of its steps in turn, from the working copy's creation to the working
// copy's removal. The next run finishes it: nothing is lost (every
// sequence there), verify passes, no plaintext is left in any file, the
// consumers are where they were and the living child's fields read back.
func TestMigrationKilledAtEachStepIsFinishedByTheNextRun(t *testing.T) {
	if step := os.Getenv(killEnv); step != "" {
		migrateStep = func(s string) {
			if s == step {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		code, out, errText := runMigrate(t, "--data-dir", os.Getenv(dirEnv), "--manifest", filepath.Join(os.Getenv(dirEnv), "..", "manifest.json"))
		t.Fatalf("the migration was not killed at %s: exit %d\n%s\n%s", step, code, out, errText)
	}
	old := buildOldLog(t)
	for _, step := range migrate.Steps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			storetest.CopyDir(t, old.dir, dir)
			cmd := exec.Command(os.Args[0], "-test.run=^TestMigrationKilledAtEachStepIsFinishedByTheNextRun$", "-test.count=1")
			cmd.Env = append(os.Environ(), killEnv+"="+step, dirEnv+"="+dir)
			var childOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &childOut, &childOut
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the child was not killed at %s: %v\n%s", step, err, childOut.String())
			}
			code, out, errText := runMigrate(t, "--data-dir", dir, "--manifest", filepath.Join(t.TempDir(), "manifest.json"))
			if code != 0 {
				t.Fatalf("the run after the kill at %s: exit %d\n%s\n%s", step, code, out, errText)
			}
			t.Logf("after the kill at %s: %s", step, strings.TrimSpace(out))
			checkMigrated(t, dir, old)
			// And a run after that finds nothing to do.
			if code, out, errText := runMigrate(t, "--data-dir", dir, "--manifest", filepath.Join(t.TempDir(), "again.json")); code != 0 || !strings.HasPrefix(out, "nothing to do") {
				t.Errorf("a run after the finished one: exit %d\n%s\n%s", code, out, errText)
			}
		})
	}
}

// checkMigrated checks a data directory migrated from old: verify passes,
// no plaintext in any file, every sequence there, consumers where they
// were, the living child's fields read back.
func checkMigrated(t *testing.T, dir string, old oldLog) {
	t.Helper()
	var o, e bytes.Buffer
	if code := run([]string{"verify", "--data-dir", dir}, &o, &e); code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", code, o.String(), e.String())
	}
	hits := storetest.FilesHolding(t, dir, bytesOf(append(oldSecrets, migrateHotel))...)
	if len(hits[migrateHotel]) == 0 {
		t.Fatal("the scan finds not even the hotel: it cannot see the files")
	}
	for _, s := range oldSecrets {
		if len(hits[s]) > 0 {
			t.Errorf("%q is still in %v", s, hits[s])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Dir: dir, Durable: true})
	defer n.Stop()
	if last, err := n.Store.LastSequence(ctx); err != nil || last != old.lastSeq {
		t.Errorf("the log ends at %d (%v), it ended at %d", last, err, old.lastSeq)
	}
	if f, err := n.Store.Facts(ctx, eventstore.MigrationStream); err != nil || f != nil {
		t.Errorf("the working copy is still there: %+v, %v", f, err)
	}
	if got := floors(ctx, t, n.Store); !maps.Equal(got, old.floors) {
		t.Errorf("consumers' ack floors %v, before %v", got, old.floors)
	}
	if err := n.Store.OpenKeys(ctx, events.KeyStoreKey(old.key)); err != nil {
		t.Fatal(err)
	}
	stored, err := n.Store.Load(ctx, events.ReferralSubject("r-old-1"))
	if err != nil {
		t.Fatal(err)
	}
	if r := stored[0].Commit.Events[0].Data.(events.ReferralReceived); r.ChildReference != oldRef || r.DateOfBirth != oldDOB {
		t.Errorf("r-old-1 reads back as %+v", r)
	}
}

// A log whose chain is broken (an event forged without the chain key) is
// refused before anything is done: no working copy, the events stream as
// it was, the plaintext where it was.
func TestMigrationRefusesALogThatDoesNotVerify(t *testing.T) {
	old := buildOldLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := storetest.Start(t, storetest.Options{Dir: old.dir, Durable: true})
	stored, err := n.Store.Load(ctx, events.ReferralSubject("r-new"))
	if err != nil {
		t.Fatal(err)
	}
	forged := events.Event{ID: "forged-1", Type: events.TypeReferralWithdrawn, AggregateID: "r-new", RecordedAt: time.Now().UTC(), OccurredAt: time.Now().UTC(),
		Actor: "intruder", Data: events.ReferralWithdrawn{Reason: "other"}, PrevHash: "not-the-last-hash", Hash: strings.Repeat("0", 64)}
	if _, err := n.Store.Append(ctx, events.ReferralSubject("r-new"), eventstore.LastSequenceOf(stored), "", events.Commit{Command: "withdraw", Events: []events.Event{forged}}); err != nil {
		t.Fatal(err)
	}
	last, _ := n.Store.LastSequence(ctx)
	n.Stop()

	code, out, errText := runMigrate(t, "--data-dir", old.dir)
	if code != 1 || !strings.Contains(errText, "the log does not verify") || !strings.Contains(errText, "nothing was changed") {
		t.Fatalf("a broken log: exit %d\n%s\n%s", code, out, errText)
	}
	t.Logf("%s", strings.TrimSpace(errText[strings.LastIndex(errText, "ntsflow migrate-personal-data:"):]))
	n = storetest.Start(t, storetest.Options{Dir: old.dir, Durable: true})
	if l, err := n.Store.LastSequence(ctx); err != nil || l != last {
		t.Errorf("the log ends at %d (%v), it ended at %d", l, err, last)
	}
	if f, err := n.Store.Facts(ctx, eventstore.MigrationStream); err != nil || f != nil {
		t.Errorf("a working copy was made: %+v, %v", f, err)
	}
	n.Stop()
	if hits := storetest.FilesHolding(t, old.dir, []byte(oldRef)); len(hits[oldRef]) == 0 {
		t.Error("the plaintext was changed although the migration refused")
	}
}
