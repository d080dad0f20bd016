package app_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/app"
	"github.com/ntsflow/ntsflow/auth"
	"github.com/ntsflow/ntsflow/engine"
	"github.com/ntsflow/ntsflow/events"
	"github.com/ntsflow/ntsflow/eventstore"
	"github.com/ntsflow/ntsflow/eventstore/storetest"
	"github.com/ntsflow/ntsflow/refdata"
	"github.com/ntsflow/ntsflow/rota"
	"github.com/ntsflow/ntsflow/wiring"
)

// Rectification, the read audit and subject access on a real embedded
// JetStream, through production's wiring.

func privacyRig(t *testing.T) (context.Context, *storetest.Node, *wiring.Node) {
	t.Helper()
	ctx, sn, n, _ := nodeOn(t, storetest.Options{})
	return ctx, sn, n
}

var (
	stockportSP = app.As(auth.Principal{Name: "Stockport placements", Kind: auth.Authority, Authority: "E08000007"})
	manchesterC = app.As(auth.Principal{Name: "Manchester", Kind: auth.Authority, Authority: "E08000003"})
	dpo         = app.As(auth.Principal{Name: "Data protection officer", Kind: auth.DataProtection})
	auditorA    = app.As(auth.Principal{Name: "Auditor", Kind: auth.Auditor})
)

func receiveChild(t *testing.T, ctx context.Context, u app.Referrals, key string) string {
	t.Helper()
	out, err := u.Receive(ctx, stockportSP, aggregates.ReceiveReferral{ReceivingAuthority: "E08000007", Route: events.RouteHotel, Hotel: "Hotel A",
		ChildReference: "HO-" + key, DateOfBirth: "2010-03-01", Sex: "male", Nationality: "Sudanese", Languages: []string{"Tigrinya"},
		ReceivedAt: time.Now().Add(-time.Hour)}, engine.Meta{Actor: "Stockport placements", IdempotencyKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return out.AggregateID
}

func TestRectificationThroughTheUseCase(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "rect-1")
	meta := engine.Meta{Actor: "Stockport placements", Person: "Jane Smith"}
	fix := func(field, v string) aggregates.CorrectChildDetail {
		return aggregates.CorrectChildDetail{Field: field, NewValue: v, Reason: "the child's documents say so"}
	}

	if _, err := u.Correct(ctx, stockportSP, id, fix(aggregates.FieldNationality, "Eritrean"), meta); err != nil {
		t.Fatalf("the authority corrects the nationality: %v", err)
	}
	ref, stored, err := n.Engine.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Nationality != "Eritrean" || ref.Corrections != 1 {
		t.Errorf("after the correction the referral says %q (%d corrections)", ref.Nationality, ref.Corrections)
	}
	var before, corrected bool
	for _, st := range stored {
		for _, e := range st.Commit.Events {
			switch d := e.Data.(type) {
			case events.ReferralReceived:
				before = d.Nationality == "Sudanese"
			case events.ChildDetailCorrected:
				corrected = d.NewValue == "Eritrean" && d.Corrector == aggregates.CorrectorAuthority && e.Who() == "Stockport placements / Jane Smith"
			}
		}
	}
	if !before || !corrected {
		t.Errorf("the history does not keep both: receipt as recorded %v, correction with who %v", before, corrected)
	}

	if _, err := u.Correct(ctx, dpo, id, fix(aggregates.FieldSex, "female"), engine.Meta{Actor: "Data protection officer"}); err != nil {
		t.Fatalf("the data protection officer corrects the sex: %v", err)
	}
	if _, err := u.Correct(ctx, dpo, id, fix(aggregates.FieldDateOfBirth, "2011-03-01"), engine.Meta{Actor: "Data protection officer"}); app.Classify(err).Code != string(aggregates.CodeNotYourCorrection) {
		t.Errorf("the data protection officer corrects the date of birth: %v; want not_your_correction", err)
	}
	if _, err := u.Correct(ctx, manchesterC, id, fix(aggregates.FieldSex, "unknown"), engine.Meta{Actor: "Manchester"}); !errors.Is(err, app.ErrNoReferral) {
		t.Errorf("another authority corrects Stockport's child: %v; want no referral", err)
	}
	var denied *app.Forbidden
	if _, err := u.Correct(ctx, auditorA, id, fix(aggregates.FieldSex, "unknown"), engine.Meta{Actor: "Auditor"}); !errors.As(err, &denied) {
		t.Errorf("an auditor corrects: %v; want Forbidden", err)
	}
	ref, _, _ = n.Engine.Load(ctx, id)
	if ref.Sex != "female" || ref.DateOfBirth != "2010-03-01" || ref.Corrections != 2 {
		t.Errorf("after the refusals the referral says sex %q, born %s, %d corrections", ref.Sex, ref.DateOfBirth, ref.Corrections)
	}
}

// What a correction form offers is what Correct accepts from the same
// caller: the authority every detail, the officer not the date of birth,
// nobody else anything (and another authority not even the referral).
func TestACorrectionFormOffersWhatTheCallerCorrects(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "offer-1")
	for _, c := range []struct {
		who  string
		as   app.Caller
		want string
	}{
		{"the authority", stockportSP, "dateOfBirth sex nationality"},
		{"the data protection officer", dpo, "sex nationality"},
	} {
		ref, fields, err := u.Correction(ctx, c.as, id)
		if err != nil || ref.ID != id || strings.Join(fields, " ") != c.want {
			t.Errorf("%s is offered %v (%v); want %s", c.who, fields, err, c.want)
		}
	}
	if _, _, err := u.Correction(ctx, manchesterC, id); !errors.Is(err, app.ErrNoReferral) {
		t.Errorf("another authority's form: %v; want no referral", err)
	}
	var denied *app.Forbidden
	if _, _, err := u.Correction(ctx, auditorA, id); !errors.As(err, &denied) {
		t.Errorf("an auditor's form: %v; want Forbidden", err)
	}
	if _, _, err := u.Correction(ctx, dpo, "E08000007-nobody"); !errors.Is(err, app.ErrNoReferral) {
		t.Errorf("the officer's form for a referral never received: %v; want no referral", err)
	}
}

func TestEveryReadIsRecordedAndQueryable(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "read-1")
	other := receiveChild(t, ctx, u, "read-2")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { n.Run(runCtx, wiring.ReadAudit); close(done) }()
	defer func() { stop(); <-done }()

	if _, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewReferral, Person: "Jane Smith"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewHistory, Reason: "preparing the review"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Read(ctx, stockportSP, other, app.ReadOf{View: app.ViewReferral}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Read(ctx, manchesterC, id, app.ReadOf{View: app.ViewReferral}); !errors.Is(err, app.ErrNoReferral) {
		t.Fatalf("Manchester read Stockport's child: %v", err)
	}

	var ofChild []eventstore.ReadRecord
	if !storetest.WaitFor(10*time.Second, func() bool {
		ofChild, _ = n.Reads.Reads(ctx, dpo, app.ReadsQuery{Referral: id})
		return len(ofChild) == 2
	}) {
		t.Fatalf("the reads of the child: %+v; want 2 (a refused read is not one)", ofChild)
	}
	h, r := ofChild[0], ofChild[1] // newest first
	if h.View != app.ViewHistory || h.Reason != "preparing the review" || r.View != app.ViewReferral || r.Person != "Jane Smith" ||
		r.Actor != "Stockport placements" || r.Role != "authority:E08000007" || r.At.IsZero() {
		t.Errorf("the reads recorded: %+v", ofChild)
	}
	byPerson, err := n.Reads.Reads(ctx, dpo, app.ReadsQuery{Reader: "Stockport placements"})
	if err != nil || len(byPerson) != 3 || byPerson[0].Referral != other {
		t.Errorf("Stockport's reads: %+v, %v; want 3, the newest of the other child", byPerson, err)
	}
	if got, _ := n.Reads.Reads(ctx, dpo, app.ReadsQuery{Reader: "Manchester"}); len(got) != 0 {
		t.Errorf("Manchester read nothing, yet the audit says %+v", got)
	}
	var denied *app.Forbidden
	for _, c := range []app.Caller{stockportSP, auditorA} {
		if _, err := n.Reads.Reads(ctx, c, app.ReadsQuery{Referral: id}); !errors.As(err, &denied) {
			t.Errorf("%s read the read audit: %v", c.P.Role(), err)
		}
	}
	if st := n.Reads.Stats(); st.Queued != 3 || st.Written != 3 || st.Direct != 0 || st.Failed != 0 {
		t.Errorf("stats %+v; want 3 queued and written", st)
	}
}

// A full queue never drops a read: it is written on the reader's time,
// and counted. A store that cannot take it refuses the read.
func TestAFullQueueWritesTheReadItself(t *testing.T) {
	ctx, sn, n := privacyRig(t)
	reg := refdata.Default()
	n.Reads.Queue = 1 // and no writer running: the second read finds it full
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "full-1")
	for range 3 {
		if _, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewReferral}); err != nil {
			t.Fatal(err)
		}
	}
	if st := n.Reads.Stats(); st.Queued != 1 || st.Direct != 2 || st.Waiting != 1 {
		t.Fatalf("stats %+v; want 1 queued (waiting) and 2 written directly", st)
	}
	got, err := n.Reads.Reads(ctx, dpo, app.ReadsQuery{Referral: id})
	if err != nil || len(got) != 2 {
		t.Fatalf("stored so far: %d, %v; want the 2 written directly", len(got), err)
	}
	// Stopping drains the queue.
	runCtx, stop := context.WithCancel(ctx)
	stop()
	if err := n.Reads.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	if got, _ := n.Reads.Reads(ctx, dpo, app.ReadsQuery{Referral: id}); len(got) != 3 {
		t.Errorf("after the drain %d reads stored; want 3", len(got))
	}

	// The referral is in the engine's cache; the store is gone.
	sn.Stop()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _, err = u.Read(short, stockportSP, id, app.ReadOf{View: app.ViewReferral})
	if err == nil {
		t.Fatal("a read was served that the audit could not record")
	}
	if o := app.Classify(err); !errors.Is(err, app.ErrReadNotRecorded) && o.Kind != app.Unavailable {
		t.Errorf("refused as %+v (%v); want unavailable", o, err)
	}
}

func TestTheReadPolicyAsksForAReason(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	n.Reads.Policy = app.ReadPolicy{ReasonFor: map[string]bool{app.ViewHistory: true}}
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "policy-1")
	_, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewHistory})
	var need *app.ReasonNeeded
	if !errors.As(err, &need) || app.Classify(err).Field != "reason" || app.Classify(err).Status != 400 {
		t.Errorf("the history without a reason: %v; want reason_needed", err)
	}
	if _, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewHistory, Reason: "bad\x00reason"}); !errors.As(err, &need) {
		t.Errorf("an unreadable reason: %v", err)
	}
	if _, _, err := u.Read(ctx, stockportSP, id, app.ReadOf{View: app.ViewReferral}); err != nil {
		t.Errorf("the referral, where the policy asks nothing: %v", err)
	}
	if st := n.Reads.Stats(); st.Queued != 1 {
		t.Errorf("%d reads queued; want only the one served", st.Queued)
	}
}

func TestSubjectAccessExport(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "sar-1")
	if _, err := u.Correct(ctx, stockportSP, id, aggregates.CorrectChildDetail{Field: aggregates.FieldNationality, NewValue: "Eritrean", Reason: "documents"}, engine.Meta{Actor: "Stockport placements"}); err != nil {
		t.Fatal(err)
	}
	sa := app.SubjectAccess{Engine: n.Engine, Reads: n.Reads}
	meta := engine.Meta{Actor: "Data protection officer", Person: "Sam Jones"}

	var denied *app.Forbidden
	if _, err := sa.Export(ctx, stockportSP, id, "asked", meta); !errors.As(err, &denied) {
		t.Errorf("the authority exports: %v; want Forbidden", err)
	}
	var need *app.ReasonNeeded
	if _, err := sa.Export(ctx, dpo, id, "", meta); !errors.As(err, &need) {
		t.Errorf("an export with no reason: %v; want reason_needed", err)
	}
	if _, err := sa.Export(ctx, dpo, "no-such-referral", "asked", meta); !errors.Is(err, app.ErrNoReferral) {
		t.Errorf("an export of nothing: %v", err)
	}

	x, err := sa.Export(ctx, dpo, id, "request from the child's advocate", meta)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(x.Zip), int64(len(x.Zip)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	var raw []struct {
		Subject string       `json:"subject"`
		Event   events.Event `json:"event"`
	}
	if err := json.Unmarshal([]byte(files["events.json"]), &raw); err != nil {
		t.Fatalf("events.json: %v", err)
	}
	_, stored, _ := n.Engine.Load(ctx, id)
	held := 0
	for _, st := range stored {
		held += len(st.Commit.Events)
	}
	// Everything held before the export, which is itself recorded after.
	if len(raw) != held-1 || x.Events != held-1 {
		t.Errorf("the export holds %d events (says %d); the log holds %d before the export's own record", len(raw), x.Events, held-1)
	}
	page := files["record.html"]
	for _, want := range []string{"HO-sar-1", "Sudanese", "Eritrean", "Date of birth", "2010-03-01", "Tigrinya", "Referral received", "Child detail corrected", "GMT", "request from the child&#39;s advocate"} {
		if !strings.Contains(page, want) {
			t.Errorf("record.html does not say %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("record.html runs a script")
	}
	if !strings.Contains(files["README.txt"], x.Recorded.Events[0].ID) {
		t.Error("the README does not name the event that records the export")
	}

	last := stored[len(stored)-1].Commit.Events[0]
	d, ok := last.Data.(events.SubjectAccessExported)
	if !ok || last.Actor != "Data protection officer" || last.Person != "Sam Jones" || d.Events != held-1 || d.Reason == "" {
		t.Errorf("the export's record: %+v", last)
	}
	b, _ := json.Marshal(last)
	for _, personal := range []string{"HO-sar-1", "Sudanese", "Eritrean", "2010-03-01"} {
		if strings.Contains(string(b), personal) {
			t.Errorf("the export's record holds personal data %q: %s", personal, b)
		}
	}
	if st := n.Reads.Stats(); st.Queued+st.Direct < 1 {
		t.Error("the export was not recorded in the read audit")
	}
}

// Given a child's referral, the record's keeping reads until when it is
// kept by the policy in force, and follows a corrected date of birth;
// holds placed and released are its history, oldest first, with who and
// why; only data protection reads it.
func TestARecordsKeepingAndItsHolds(t *testing.T) {
	ctx, _, n := privacyRig(t)
	reg := refdata.Default()
	u := app.Referrals{Engine: n.Engine, Authorities: reg, Rota: rota.Facts{Authorities: reg}, Reads: n.Reads}
	id := receiveChild(t, ctx, u, "keep-1")
	if _, err := n.Engine.Handle(ctx, id, aggregates.Withdraw{Reason: "family-reunion"}, engine.Meta{Actor: "Stockport placements"}); err != nil {
		t.Fatal(err)
	}
	recs := app.Records{Engine: n.Engine, Policy: &n.RetentionPolicy}
	kept := func() string {
		t.Helper()
		cr, err := recs.Record(ctx, dpo, id)
		if err != nil {
			t.Fatal(err)
		}
		if cr.Kept == nil || cr.Policy != n.RetentionPolicy.Version {
			t.Fatalf("no retention known: %+v", cr)
		}
		return cr.Kept.Until.String()
	}
	before := kept()
	if _, err := u.Correct(ctx, stockportSP, id, aggregates.CorrectChildDetail{Field: aggregates.FieldDateOfBirth, NewValue: "2009-07-15", Reason: "the child's passport"},
		engine.Meta{Actor: "Stockport placements"}); err != nil {
		t.Fatal(err)
	}
	if after := kept(); after == before || !strings.HasSuffix(after, "-07-15") {
		t.Errorf("kept until %s before the correction and %s after; want the corrected birthday's", before, after)
	}

	for _, h := range []struct {
		hold   bool
		reason string
	}{{true, "Claim 2026/77"}, {false, "Claim settled"}} {
		if _, err := recs.Hold(ctx, dpo, id, h.hold, h.reason, engine.Meta{Actor: "Data protection officer"}); err != nil {
			t.Fatal(err)
		}
	}
	cr, err := recs.Record(ctx, dpo, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Holds) != 2 || !cr.Holds[0].Placed || cr.Holds[0].Reason != "Claim 2026/77" || cr.Holds[1].Placed || cr.Holds[1].Reason != "Claim settled" ||
		cr.Holds[1].Actor != "Data protection officer" || cr.Holds[1].At.IsZero() || cr.Record.Held {
		t.Errorf("holds: %+v", cr.Holds)
	}
	var denied *app.Forbidden
	if _, err := recs.Record(ctx, stockportSP, id); !errors.As(err, &denied) {
		t.Errorf("the authority reads the record's keeping: %v", err)
	}
	if _, err := recs.Hold(ctx, stockportSP, id, true, "keep it", engine.Meta{Actor: "Stockport placements"}); !errors.As(err, &denied) {
		t.Errorf("the authority places a hold: %v", err)
	}
}
