package stack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
)

// TestStreamKeepsNothingOnceRecorded: the AIRLOCK stream keeps a request's
// events only until every consumer they concern has acked them (interest
// retention). Once allowed, denied and held-then-approved requests are
// recorded, the stream is empty; before, a day of traffic stayed on disk
// and in the server's per-subject index (the soak's memory growth). The
// held request's approval was bound from the request its verdict carried.
func TestStreamKeepsNothingOnceRecorded(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: holdConnection, policy: approvalPolicy})
	tok := ts.token(t, "agents")
	kv := approvals(t, ts)
	_, js := connect(t, ts.NATSURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := stream.CachedInfo().Config.Retention; got != jetstream.InterestPolicy {
		t.Fatalf("AIRLOCK retention %v, want interest", got)
	}

	for range 20 {
		if resp, _ := ts.do(t, "GET", "/gh/repos/acme/api", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	if resp, _ := ts.do(t, "DELETE", "/gh/repos/acme/api", tok, nil); resp.StatusCode != 403 {
		t.Fatalf("DELETE: %d, want 403", resp.StatusCode)
	}
	held := ts.send(t, "PUT", "/prod/upload/kept", tok, `{"note":"held"}`)
	a := awaitPending(t, kv, "/upload/kept")
	if a.Identity != "copilot" || a.Method != "PUT" || a.Digest == "" || a.Preview != `{"note":"held"}` {
		t.Errorf("approval not bound to the held request: %+v", a)
	}
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: event.OutcomeApprove, By: "alice"})
	if got := wait(t, held); got.status != 200 {
		t.Fatalf("held PUT: %d %s", got.status, got.body)
	}
	awaitRecords(t, ts.Recordings(), 22, 30*time.Second)

	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AIRLOCK still holds %d events of recorded requests", info.State.Msgs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestApproveVerdictWithoutItsRequestIsRefused: an approve verdict that
// does not carry its request (a policy service from before it did, or a
// forged one) cannot be bound to an approval; the approver refuses the
// request rather than leave it held.
func TestApproveVerdictWithoutItsRequestIsRefused(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: holdConnection, policy: approvalPolicy})
	nc, js := connect(t, ts.NATSURL)
	id := event.NewID()
	decisions, err := nc.SubscribeSync(subject.Decision(id))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal(event.Verdict{V: event.Version, ID: id, Time: time.Now().UTC(), Effect: event.EffectApprove, Rule: "r", Reason: "x"})
	if _, err := js.Publish(context.Background(), subject.Verdict(id), v); err != nil {
		t.Fatal(err)
	}
	m, err := decisions.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no decision: %v", err)
	}
	var d event.Decision
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Outcome != event.OutcomeDeny {
		t.Errorf("decision %+v, want deny", d)
	}
}
