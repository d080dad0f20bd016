package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// post sends a command with an idempotency key, resending it with the same
// key on a 503 or a connection error, as a careful client does, until it is
// acknowledged or refused. It returns the final status and body.
func post(t *testing.T, bases []string, path, key, body string) (int, []byte) {
	t.Helper()
	for attempt := 0; attempt < 60; attempt++ {
		base := bases[attempt%len(bases)]
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusServiceUnavailable {
				return res.StatusCode, b
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s (%s) never acknowledged", path, key)
	return 0, nil
}

// waitQuiet waits until the stream has not moved for a second and a half
// (the saga and publisher have done their work), so a live view and a
// rebuild are compared over the same events.
func waitQuiet(t *testing.T, base string) uint64 {
	t.Helper()
	var last uint64
	still := time.Now()
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(100 * time.Millisecond) {
		var v struct{ StreamSequence uint64 }
		getJSON(t, base+"/v1/views", &v)
		if v.StreamSequence != last {
			last, still = v.StreamSequence, time.Now()
		} else if time.Since(still) > 1500*time.Millisecond {
			return last
		}
	}
	t.Fatal("the stream never went quiet")
	return 0
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// Two engine instances on a 3-node JetStream cluster; referrals driven
// through both; one NATS node killed and restarted mid-run. Nothing
// acknowledged is lost, nothing is written twice, no breach is recorded
// twice, and the views equal a rebuild from zero.
func TestClusterSurvivesANodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short")
	}
	cluster := storetest.StartCluster(t, 3)
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"version":"cluster-test","routes":{"hotel":{"duration":"6s"},"entry-authority":{"duration":"6s"}},"warnBefore":{"duration":"2s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"}]}`), 0o600)
	var bases []string
	for range 2 {
		base, stop := startServe(t, t.TempDir(), "--nats-url", cluster.URL(), "--replicas", "3", "--deadline-policy", policy)
		defer stop()
		bases = append(bases, base)
	}

	const n = 24
	ids := make([]string, n)
	acked := map[string]string{} // idempotency key -> referral id
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("intake-", i)
			body := fmt.Sprintf(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":"HO-%d","receivedAt":%q}`, i, time.Now().UTC().Format(time.RFC3339Nano))
			status, b := post(t, bases[i%2:], "/v1/referrals", key, body)
			if status != 201 {
				t.Errorf("create %d: %d %s", i, status, b)
				return
			}
			var out struct{ ReferralID string }
			json.Unmarshal(b, &out)
			mu.Lock()
			ids[i], acked[key] = out.ReferralID, out.ReferralID
			mu.Unlock()
		}()
	}
	wg.Wait()

	// Kill a node while the placements go in; bring it back later.
	cluster.Kill(1)
	for i := 0; i < n; i += 2 {
		key := fmt.Sprint("place-", i)
		status, b := post(t, bases, "/v1/referrals/"+ids[i]+"/placement", key, fmt.Sprintf(`{"placementType":"U1","provider":"p","placedAt":%q}`, time.Now().UTC().Format(time.RFC3339Nano)))
		if status != 200 {
			t.Fatalf("place %d: %d %s", i, status, b)
		}
		acked[key] = ids[i]
	}
	time.Sleep(2 * time.Second) // the node stays down a while longer (the outage itself), not a wait
	cluster.Restart(1)

	// Wait for every referral's deadline and every unplaced referral's
	// breach (6s deadlines). The saga's work is at least once, not at
	// once: a receipt whose handling was cut off by the node loss comes
	// back when its acknowledgement wait (10s) runs out, so its
	// deadline.set may land well after the breaches of the others.
	deadline := time.Now().Add(45 * time.Second)
	for i := range n {
		want := "deadline.set"
		if i%2 == 1 {
			want = "deadline.breached"
		}
		for {
			var h struct{ Events []struct{ Type string } }
			getJSON(t, bases[0]+"/v1/referrals/"+ids[i]+"/history", &h)
			if strings.Contains(fmt.Sprint(h.Events), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("referral %d: no %s: %v", i, want, h.Events)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitQuiet(t, bases[0]) // room for a duplicate, were there one

	for i, id := range ids {
		var h struct {
			Events []struct {
				Type     string
				Sequence uint64
			}
		}
		getJSON(t, bases[i%2]+"/v1/referrals/"+id+"/history", &h)
		count := map[string]int{}
		for _, e := range h.Events {
			count[e.Type]++
		}
		if count["referral.received"] != 1 || count["deadline.set"] != 1 {
			t.Errorf("referral %d: %v", i, count)
		}
		if i%2 == 0 && (count["referral.placed"] != 1 || count["deadline.breached"] > 1) {
			t.Errorf("placed referral %d: %v", i, count)
		}
		if i%2 == 1 && count["deadline.breached"] != 1 {
			t.Errorf("unplaced referral %d: %d breaches", i, count["deadline.breached"])
		}
	}
	if len(acked) != n+n/2 {
		t.Fatalf("%d commands acknowledged", len(acked))
	}

	// Views on both instances equal a rebuild from zero.
	var views struct{ StreamSequence uint64 }
	views.StreamSequence = waitQuiet(t, bases[0])
	// A rebuild as of a moment after every commit (the parameter has whole
	// seconds), and no later: a view read as of a time is read as at that
	// time, and an hour on crossed midnight when the test ran after 23:00,
	// counting a working day more than the live view.
	asOf := url.QueryEscape(time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339))
	for _, base := range bases {
		var live, rebuilt struct{ Result json.RawMessage }
		getJSON(t, fmt.Sprintf("%s/v1/capacity?minSequence=%d", base, views.StreamSequence), &live)
		getJSON(t, base+"/v1/capacity?asOf="+asOf, &rebuilt)
		if !bytes.Equal(live.Result, rebuilt.Result) {
			t.Errorf("%s: the live capacity view differs from a rebuild", base)
		}
		var tl, tlRebuilt struct{ Result json.RawMessage }
		getJSON(t, fmt.Sprintf("%s/v1/referrals?limit=500&minSequence=%d", base, views.StreamSequence), &tl)
		getJSON(t, base+"/v1/referrals?limit=500&asOf="+asOf, &tlRebuilt)
		if len(tl.Result) == 0 || !strings.Contains(string(tl.Result), ids[0]) {
			t.Errorf("%s: the referral list lacks referrals", base)
		}
		var tm, tmRebuilt struct{ Result json.RawMessage }
		getJSON(t, fmt.Sprintf("%s/v1/timeliness?minSequence=%d", base, views.StreamSequence), &tm)
		getJSON(t, base+"/v1/timeliness?asOf="+asOf, &tmRebuilt)
		if !bytes.Equal(tm.Result, tmRebuilt.Result) {
			t.Errorf("%s: the live timeliness view differs from a rebuild:\n%s\n%s", base, tm.Result, tmRebuilt.Result)
		}
		if !bytes.Equal(tl.Result, tlRebuilt.Result) {
			t.Errorf("%s: the live referral list differs from a rebuild:\n%s\n%s", base, tl.Result, tlRebuilt.Result)
		}
		if t.Failed() {
			// What the views say of themselves (commits passed over as
			// corrupt, stops), for whoever reads the failure.
			var status json.RawMessage
			getJSON(t, base+"/v1/views", &status)
			t.Logf("%s: views: %s", base, status)
		}
	}

	// Both instances ran a publisher, through the node loss: the public
	// stream holds each event once, and each referral's in the log's order.
	publicOnce(t, cluster.URL(), map[string]int{"org.ntsflow.referral.received.v1": n, "org.ntsflow.referral.placed.v1": n / 2})
}

// publicOnce waits until the public stream at url holds at least want of
// each type, then checks that no event (ce-id) is there twice and that
// each referral's events come in the order of the commits they came from.
func publicOnce(t *testing.T, url string, want map[string]int) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []*jetstream.RawStreamMsg
	read := func() bool {
		msgs = storetest.Messages(t, ctx, js, eventstore.PublicStream)
		byType := map[string]int{}
		for _, m := range msgs {
			byType[m.Header.Get("ce-type")]++
		}
		for typ, k := range want {
			if byType[typ] < k {
				return false
			}
		}
		return true
	}
	if !storetest.WaitFor(45*time.Second, read) {
		t.Fatalf("the public stream never held %v (%d messages)", want, len(msgs))
	}
	seen := map[string]uint64{}
	lastOf := map[string]uint64{} // referral -> source sequence of its last event
	for _, m := range msgs {
		id, subject := m.Header.Get("ce-id"), m.Header.Get("ce-subject")
		if at, dup := seen[id]; dup {
			t.Errorf("public event %s at %d and again at %d", id, at, m.Sequence)
		}
		seen[id] = m.Sequence
		src, err := strconv.ParseUint(m.Header.Get(eventstore.PublicSourceHeader), 10, 64)
		if err != nil {
			t.Fatalf("public message %d: %s %q", m.Sequence, eventstore.PublicSourceHeader, m.Header.Get(eventstore.PublicSourceHeader))
		}
		if src < lastOf[subject] {
			t.Errorf("referral %s: an event of commit %d after one of commit %d", subject, src, lastOf[subject])
		}
		lastOf[subject] = src
	}
}
