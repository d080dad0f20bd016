package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ntsflow/ntsflow/eventstore"
)

// Personal data stays in: a full scripted run (referrals received with
// every personal field filled in, notified, searched, age-assessed, warned,
// breached, escalated, placed, withdrawn; the placed child missing, the
// police and hub notified, a strategy discussion, the return and a return
// interview), then every public message (headers and body) and every
// metric line are scanned for any of it.
func TestNoPersonalDataLeavesTheEngine(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	natsAddr := l.Addr().String()
	l.Close()
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"version":"privacy-test","routes":{"hotel":{"duration":"5s"},"entry-authority":{"duration":"5s"}},"warnBefore":{"duration":"3s"},"warnTo":"team-leader","escalation":[{"after":{},"to":"team-leader"},{"after":{"duration":"1s"},"to":"director"}]}`), 0o600)
	dataDir := t.TempDir()
	base, stop := startServe(t, dataDir, "--nats-listen", natsAddr, "--deadline-policy", policy)
	defer stop()

	personal := []string{"Amanuel Tesfaye", "HO-SECRET-77", "2009-04-17", "Eritrean", "Tigrinya", "Arabic", "type 1 diabetes", "Hotel Marina", "Mrs Okafor fostering", "seen near the station",
		// The missing episode: where last seen, the police reference, where found, who offered the interview.
		"Stockport bus station", "GMP-25-SECRET", "Piccadilly Gardens", "Ms Adeyemi advocacy"}
	post := func(path, body string) string {
		t.Helper()
		res, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return strings.Split(strings.Split(string(b), `"referralId":"`)[1], `"`)[0]
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ids := []string{}
	for i, route := range []string{`"route":"hotel","hotel":"Hotel Marina"`, `"route":"entry-authority","transferringAuthority":"E10000016"`, `"route":"hotel","hotel":"Hotel Marina"`} {
		ids = append(ids, post("/v1/referrals", fmt.Sprintf(`{"receivingAuthority":"E08000007",%s,"childReference":"HO-SECRET-77","claimedAge":16,"dateOfBirth":"2009-04-17","sex":"male","nationality":"Eritrean","languages":["Tigrinya","Arabic"],"needs":["type 1 diabetes","Amanuel Tesfaye's asthma"],"receivedAt":%q}`, route, now)))
		_ = i
	}
	post("/v1/referrals/"+ids[0]+"/notifications", `{"professions":["health","education","mash","police"],"notifiedBy":"team leader"}`)
	post("/v1/referrals/"+ids[0]+"/placement-searches", `{"track":"commissioned","offersFound":1,"placementTypes":["U4"]}`)
	post("/v1/referrals/"+ids[1]+"/age-assessment-requests", `{"method":"merton-compliant","reason":"Amanuel Tesfaye appears older"}`)
	post("/v1/referrals/"+ids[1]+"/age-assessments", `{"method":"merton-compliant","outcome":"child","assessedDateOfBirth":"2009-04-17"}`)
	// Wait for the deadline saga's warning, breach and escalation of the
	// first referral (warned at 2 s, due at 5 s, escalated 1 s after), up
	// to 30 s. The warning has 3 s to be recorded before the breach makes
	// it moot (a referral swept after its due time is breached with no
	// warning): a 1 s gap was too little under -race on a busy 2-core CI
	// machine, and the run then had no public warning to scan.
	for give := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // a poll interval
		res, err := http.Get(base + "/v1/referrals/" + ids[0] + "/history")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `"deadline.escalated"`) {
			break
		}
		if time.Now().After(give) {
			t.Fatalf("no escalation within 30 s: %s", b)
		}
	}
	post("/v1/referrals/"+ids[0]+"/placement", fmt.Sprintf(`{"placementType":"U4","provider":"Mrs Okafor fostering","placedAt":%q}`, time.Now().UTC().Format(time.RFC3339Nano)))
	post("/v1/referrals/"+ids[2]+"/withdrawal", `{"reason":"missing","detail":"seen near the station"}`)
	// The placed child goes missing and comes back.
	stamp := func() string { return time.Now().UTC().Format(time.RFC3339Nano) }
	post("/v1/referrals/"+ids[0]+"/missing-episodes", fmt.Sprintf(`{"missingAt":%q,"lastSeen":"Stockport bus station, 19:30","policeReference":"GMP-25-SECRET"}`, stamp()))
	post("/v1/referrals/"+ids[0]+"/missing-episodes/strategy-discussion", fmt.Sprintf(`{"heldAt":%q,"attendees":["police","social-care"]}`, stamp()))
	post("/v1/referrals/"+ids[0]+"/missing-episodes/returned", fmt.Sprintf(`{"returnedAt":%q,"whereFound":"Piccadilly Gardens"}`, stamp()))
	post("/v1/referrals/"+ids[0]+"/missing-episodes/return-interview", fmt.Sprintf(`{"offeredAt":%q,"offeredBy":"Ms Adeyemi advocacy","accepted":true}`, stamp()))
	// The public stream is read below until every expected type arrives.

	users, err := eventstore.LoadOrCreateNATSUsers(filepath.Join(dataDir, eventstore.NATSUsersFileName))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+natsAddr, nats.UserInfo(eventstore.SubscriberUser, users.Subscriber))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "NTS_PUBLIC", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var public []string
	types := map[string]bool{}
	wanted := []string{"received", "deadline-warning", "deadline-breached", "deadline-escalated", "placed", "withdrawn", "missing-notified", "missing-returned"}
	all := func() bool {
		for _, w := range wanted {
			if !types["org.ntsflow.referral."+w+".v1"] {
				return false
			}
		}
		return true
	}
	// Read until every expected type has arrived (the sagas and the
	// publisher work on their own time) and nothing more comes for a
	// second. One iterator: a Fetch on an ordered consumer makes a new
	// consumer each time, and the subscriber may not delete the last.
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	for ctx.Err() == nil {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) {
			if all() {
				break
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var hdr []string
		for k, v := range m.Headers() {
			hdr = append(hdr, k+": "+strings.Join(v, ","))
		}
		public = append(public, strings.Join(hdr, "\n")+"\n"+string(m.Data()))
		types[m.Headers().Get("ce-type")] = true
	}
	for _, want := range wanted {
		if !types["org.ntsflow.referral."+want+".v1"] {
			t.Errorf("the run produced no public %s event: the scan would prove less", want)
		}
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, secret := range personal {
		for i, msg := range public {
			if strings.Contains(msg, secret) {
				t.Errorf("public message %d carries %q:\n%s", i, secret, msg)
			}
		}
		if strings.Contains(string(metricsText), secret) {
			t.Errorf("/metrics carries %q", secret)
		}
	}
	for _, field := range []string{`"lastSeen":`, `"policeReference":`, `"whereFound":`, `"offeredBy":`, `"attendees":`, `"childReference":`, `"dateOfBirth":`, `"nationality":`, `"languages":`, `"needs":`, `"claimedAge":`, `"sex":`, `"hotel":`, `"provider":`, `"detail":`, `"reason":`} {
		for i, msg := range public {
			if strings.Contains(msg, field) {
				t.Errorf("public message %d has a personal field %s", i, field)
			}
		}
	}
	t.Logf("scanned %d public messages and %d bytes of metrics", len(public), len(metricsText))
}
