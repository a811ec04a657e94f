package stack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
)

// holdConnection is the test upstream with a short hold timeout.
const holdConnection = `  - name: prod
    type: http
    upstream: ${TEST_UPSTREAM}
    credential: {env: TEST_SERVICE_CREDENTIAL}
    hold_timeout: 3s
`

const approvalPolicy = testPolicy + `  - name: prod-writes-need-approval
    effect: approve
    when: connection.name == "prod" && request.method in ["PUT", "POST"]
    reason: writes to production need a human
`

// answer is a response through the gateway.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request in the background: held requests take a while.
func (ts *testStack) send(t *testing.T, method, path, tok, body string) <-chan answer {
	t.Helper()
	out := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(method, ts.IngressURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			out <- answer{}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		out <- answer{resp.StatusCode, resp.Header, data}
	}()
	return out
}

// approvals opens the approvals bucket as an operator would.
func approvals(t *testing.T, ts *testStack) jetstream.KeyValue {
	t.Helper()
	_, js := connect(t, ts.NATSURL)
	kv, err := js.KeyValue(context.Background(), subject.ApprovalsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// awaitPending waits for the pending approval of a request to path.
func awaitPending(t *testing.T, kv jetstream.KeyValue, path string) approver.Approval {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		as, err := approver.List(context.Background(), kv, approver.StatePending)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(as) - 1; i >= 0; i-- {
			if as[i].Path == path {
				return as[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending approval for %s among %d", path, len(as))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// command decides an approval as `airlock approvals approve|deny` does.
func command(t *testing.T, kv jetstream.KeyValue, c approver.Command) {
	t.Helper()
	data, _ := json.Marshal(c)
	if _, err := kv.Create(context.Background(), approver.CommandKey(c.ApprovalID, event.NewID()), data); err != nil {
		t.Fatal(err)
	}
}

func wait(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer in 10 s")
	}
	return answer{}
}

// TestHeldRequestsAreReleasedOrRefusedByADecision drives the approval flow
// without Slack, through the operators' commands: a held request released
// while it waits; one denied with a reason; one that outlives its hold
// (202 pending, Retry-After) and passes on retry under a single-use grant;
// "approve for N minutes" letting the same operation through at once; and
// that window revoked.
func TestHeldRequestsAreReleasedOrRefusedByADecision(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: holdConnection, policy: approvalPolicy})
	tok := ts.token(t, "agents")
	kv := approvals(t, ts)

	// Released while it waits.
	calls := ts.up.calls.Load()
	held := ts.send(t, "PUT", "/prod/upload/a", tok, "a")
	a := awaitPending(t, kv, "/upload/a")
	if a.Identity != "copilot" || a.Connection != "prod" || a.Rule != "prod-writes-need-approval" {
		t.Errorf("approval %+v", a)
	}
	if ts.up.calls.Load() != calls {
		t.Fatal("the held request reached the upstream before a decision")
	}
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: event.OutcomeApprove, By: "tester"})
	if got := wait(t, held); got.status != http.StatusOK {
		t.Fatalf("approved request: %d %s", got.status, got.body)
	}
	ts.events.waitFor(t, a.ID, "audit")
	var au event.Audit
	_ = json.Unmarshal(ts.events.raw(t, a.ID, "audit"), &au)
	if au.Decision != event.EffectApprove || au.Approver != "cli:tester" || au.Status != http.StatusOK {
		t.Errorf("audit of the released request: %+v", au)
	}

	// Denied, with the reason.
	held = ts.send(t, "PUT", "/prod/upload/b", tok, "b")
	a = awaitPending(t, kv, "/upload/b")
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: event.OutcomeDeny, By: "tester", Reason: "not during the freeze"})
	got := wait(t, held)
	if got.status != http.StatusForbidden || !strings.Contains(string(got.body), "denied by cli:tester: not during the freeze") {
		t.Fatalf("denied request: %d %s", got.status, got.body)
	}

	// No decision within the hold: 202, then approved, then the retry
	// passes once.
	calls = ts.up.calls.Load()
	got = wait(t, ts.send(t, "PUT", "/prod/upload/c", tok, "c"))
	var p struct {
		Status     string `json:"status"`
		ApprovalID string `json:"approval_id"`
		RetryAfter int    `json:"retry_after"`
	}
	if err := json.Unmarshal(got.body, &p); err != nil || got.status != http.StatusAccepted || p.Status != "pending_approval" ||
		!event.ValidID(p.ApprovalID) || got.header.Get("Retry-After") == "" || p.RetryAfter <= 0 {
		t.Fatalf("held past its timeout: %d %s (Retry-After %q)", got.status, got.body, got.header.Get("Retry-After"))
	}
	command(t, kv, approver.Command{ApprovalID: p.ApprovalID, Outcome: event.OutcomeApprove, By: "tester"})
	awaitState(t, kv, p.ApprovalID, approver.StateApproved)
	if got := wait(t, ts.send(t, "PUT", "/prod/upload/c", tok, "c")); got.status != http.StatusOK {
		t.Fatalf("retry under the grant: %d %s", got.status, got.body)
	}
	if ts.up.calls.Load() != calls+1 {
		t.Errorf("upstream calls %d, want %d", ts.up.calls.Load(), calls+1)
	}
	// Single use: the next identical request is held again; a different
	// body was never granted.
	for _, body := range []string{"c", "c2"} {
		if got := wait(t, ts.send(t, "PUT", "/prod/upload/c", tok, body)); got.status != http.StatusAccepted {
			t.Fatalf("after the grant was used (%s): %d %s", body, got.status, got.body)
		}
	}

	// Approve for 15 minutes: the same operation passes at once.
	held = ts.send(t, "POST", "/prod/deploy", tok, "v1")
	a = awaitPending(t, kv, "/deploy")
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: event.OutcomeApprove, Window: 15 * time.Minute, By: "tester"})
	if got := wait(t, held); got.status != http.StatusOK {
		t.Fatalf("approved for 15m: %d %s", got.status, got.body)
	}
	start := time.Now()
	if got := wait(t, ts.send(t, "POST", "/prod/deploy", tok, "v2")); got.status != http.StatusOK {
		t.Fatalf("within the window: %d %s", got.status, got.body)
	}
	t.Logf("a request under a window grant took %s", time.Since(start).Round(time.Millisecond))

	// The approver counts what happened.
	mfs, err := ts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "airlock_approver_events_total" {
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counts["approved"] != 3 || counts["denied"] != 1 || counts["granted"] != 2 || counts["requested"] < 5 {
		t.Errorf("approver metrics: %v", counts)
	}

	// Revoked: the next such request is asked again.
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: approver.OutcomeRevoke, By: "tester"})
	awaitState(t, kv, a.ID, approver.StateRevoked)
	if got := wait(t, ts.send(t, "POST", "/prod/deploy", tok, "v3")); got.status != http.StatusAccepted {
		t.Fatalf("after the revocation: %d %s", got.status, got.body)
	}
}

func awaitState(t *testing.T, kv jetstream.KeyValue, id, state string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if e, err := kv.Get(context.Background(), "approval."+id); err == nil {
			var a approver.Approval
			if json.Unmarshal(e.Value(), &a) == nil && a.State == state {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("approval %s never became %s", id, state)
}

// TestApproverRestartLosesNothing: the approver is down while a request is
// held (202); started again, it picks the verdict up from its durable
// consumer, the approval is decided, and the agent's retry passes.
func TestApproverRestartLosesNothing(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: holdConnection, policy: approvalPolicy})
	tok := ts.token(t, "agents")
	kv := approvals(t, ts)
	ts.StopApprover()
	got := wait(t, ts.send(t, "PUT", "/prod/upload/z", tok, "z"))
	if got.status != http.StatusAccepted {
		t.Fatalf("held with no approver: %d %s", got.status, got.body)
	}
	if err := ts.StartApprover(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := awaitPending(t, kv, "/upload/z")
	command(t, kv, approver.Command{ApprovalID: a.ID, Outcome: event.OutcomeApprove, By: "tester"})
	awaitState(t, kv, a.ID, approver.StateApproved)
	if got := wait(t, ts.send(t, "PUT", "/prod/upload/z", tok, "z")); got.status != http.StatusOK {
		t.Fatalf("retry after the restart: %d %s", got.status, got.body)
	}
}

// TestDrainAnswersHeldRequests: an ingress shutting down answers the
// requests it holds at once with 202 pending_approval, forwards none of
// them, and reports itself not ready.
func TestDrainAnswersHeldRequests(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: strings.Replace(holdConnection, "3s", "30s", 1),
		policy: approvalPolicy})
	tok := ts.token(t, "agents")
	held := ts.send(t, "PUT", "/prod/upload/x", tok, "x")
	awaitPending(t, approvals(t, ts), "/upload/x")
	start := time.Now()
	ts.ingress.Drain()
	got := wait(t, held)
	if got.status != http.StatusAccepted || !strings.Contains(string(got.body), `"pending_approval"`) {
		t.Fatalf("held request on drain: %d %s", got.status, got.body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered %s after the drain began, want at once (the hold is 30 s)", took)
	}
	if err := ts.Ready(); err == nil || !strings.Contains(err.Error(), "draining") {
		t.Errorf("Ready while draining: %v", err)
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Errorf("upstream calls %d: a held request was forwarded", n)
	}
}
