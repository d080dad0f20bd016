package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/eventstore/storetest"
)

// readyz answers whether the engine says it is ready, and why not.
func readyz(t *testing.T, base string) (bool, string) {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	res, err := c.Get(base + "/readyz")
	if err != nil {
		return false, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode == http.StatusOK, string(b)
}

// receive posts a referral received on 2 June 2025 (so its deadline has
// long passed: the deadline saga records a breach at once), once, and
// answers the status and referral id.
func receive(t *testing.T, base, key string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"receivingAuthority":"E08000007","route":"hotel","hotel":"H","childReference":%q,"receivedAt":"2025-06-02T10:00:00Z"}`, "HO-"+key)
	req, _ := http.NewRequest("POST", base+"/v1/referrals", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	c := http.Client{Timeout: 30 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct{ ReferralID string }
	json.Unmarshal(b, &out)
	if res.StatusCode != http.StatusCreated {
		return res.StatusCode, string(b)
	}
	return res.StatusCode, out.ReferralID
}

// The engine as it runs (serve, embedded JetStream) on a disk that fills
// for real: /readyz goes not ready within 2 s of the first failed write
// and says why; once the space is freed, commands are accepted again
// within 30 s with no restart; every acknowledged referral is still there;
// and the views and sagas go on (a referral received after the recovery
// is listed, and its deadline breach recorded by the saga).
func TestServeFullDiskHealsWithoutRestart(t *testing.T) {
	dir := storetest.Tmpfs(t, 48<<20)
	base, stop := startServe(t, filepath.Join(dir, "data"))
	defer stop()

	acked := map[string]string{} // idempotency key -> referral id
	for i := range 5 {
		key := fmt.Sprint("before-", i)
		status, id := receive(t, base, key)
		if status != http.StatusCreated {
			t.Fatalf("receive %s: %d %s", key, status, id)
		}
		acked[key] = id
	}
	filler := storetest.Fill(t, dir)

	// Commands until one fails, watching readiness while each is in flight.
	var failedKey string
	for i := 0; failedKey == ""; i++ {
		if i == 200 {
			t.Fatal("200 commands on a full disk and none failed")
		}
		key := fmt.Sprint("full-", i)
		type answer struct {
			status int
			id     string
		}
		done := make(chan answer, 1)
		sent := time.Now()
		go func() { s, id := receive(t, base, key); done <- answer{s, id} }()
		var notReady time.Duration = -1
		var got answer
	watch:
		for {
			if notReady < 0 {
				if ok, _ := readyz(t, base); !ok {
					notReady = time.Since(sent)
				}
			}
			select {
			case got = <-done:
				break watch
			case <-time.After(10 * time.Millisecond): // readiness polling interval
			}
		}
		if got.status == http.StatusCreated {
			acked[key] = got.id
			continue
		}
		if got.status != http.StatusServiceUnavailable {
			t.Fatalf("a command on a full disk: %d %s (want 503)", got.status, got.id)
		}
		failedKey = key
		if notReady < 0 {
			// The answer came before readiness was seen to change: give
			// readiness what is left of its bound.
			storetest.WaitFor(3*time.Second-time.Since(sent), func() bool {
				if ok, _ := readyz(t, base); !ok {
					notReady = time.Since(sent)
				}
				return notReady >= 0
			})
		}
		t.Logf("command %s refused (503); /readyz not ready %s after it was sent", key, notReady.Round(time.Millisecond))
		if notReady < 0 || notReady > 2*time.Second {
			t.Fatalf("/readyz still ready %s after a write failed for lack of space (bound 2s)", time.Since(sent).Round(time.Millisecond))
		}
	}
	if ok, why := readyz(t, base); ok || !strings.Contains(why, "no space left") {
		t.Errorf("/readyz on a full disk should say why: %s", why)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for {
		status, id := receive(t, base, failedKey) // the client's retry, same key
		if status == http.StatusCreated {
			acked[failedKey] = id
			break
		}
		if time.Since(freed) > 30*time.Second {
			t.Fatalf("commands still refused %s after space was freed: %d %s", time.Since(freed).Round(time.Millisecond), status, id)
		}
		time.Sleep(100 * time.Millisecond) // the client's pause between retries
	}
	t.Logf("commands accepted again %s after space was freed", time.Since(freed).Round(time.Millisecond))
	var why string
	if !storetest.WaitFor(30*time.Second-time.Since(freed), func() bool {
		var ok bool
		ok, why = readyz(t, base)
		return ok
	}) {
		t.Fatalf("/readyz not ready %s after space was freed: %s", time.Since(freed).Round(time.Millisecond), why)
	}

	for key, id := range acked {
		var r struct{ ReferralID, Status string }
		getJSON(t, base+"/v1/referrals/"+id, &r)
		if r.ReferralID != id {
			t.Errorf("acknowledged referral %s (%s) lost: %+v", id, key, r)
		}
	}
	t.Logf("all %d acknowledged referrals read back", len(acked))

	// The views and the sagas follow the log again, promptly: told that
	// JetStream started again, their consumers do not wait to miss the
	// server's heartbeats (30 s) before pulling afresh.
	after := acked[failedKey]
	var breached, listed bool
	if !storetest.WaitFor(10*time.Second-time.Since(freed), func() bool {
		var h struct{ Events []struct{ Type string } }
		getJSON(t, base+"/v1/referrals/"+after+"/history", &h)
		var list struct{ Result json.RawMessage }
		getJSON(t, base+"/v1/referrals?limit=500", &list)
		breached = strings.Contains(fmt.Sprint(h.Events), "deadline.breached")
		listed = strings.Contains(string(list.Result), after)
		return breached && listed
	}) {
		t.Fatalf("%s after space was freed: deadline saga recorded the breach %v, referral list shows the referral %v", time.Since(freed).Round(time.Millisecond), breached, listed)
	}
	t.Logf("views and sagas caught up %s after space was freed", time.Since(freed).Round(time.Millisecond))
}
