package stack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/slack-go/slack/slacktest"

	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/services/approver"
)

// Slack here is slack-go's slacktest server, in-process: no real Slack
// workspace can be reached from a test. slacktest has no chat.update and
// no views.open, so fakeSlack records them on slacktest's own router.
type fakeSlack struct {
	srv     *slacktest.Server
	mu      sync.Mutex
	updates []url.Values
	// views are the private_metadata of the modals opened (views.open).
	views []string
}

const (
	slackSecret   = "9a3f-test-signing-secret"
	slackApprover = "U0APPROVER"
)

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			f.mu.Lock()
			f.updates = append(f.updates, r.PostForm)
			f.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts")})
		})
		c.Handle("/views.open", func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				View struct {
					PrivateMetadata string `json:"private_metadata"`
				} `json:"view"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			f.mu.Lock()
			f.views = append(f.views, body.View.PrivateMetadata)
			f.mu.Unlock()
			_, _ = w.Write([]byte(`{"ok":true,"view":{"id":"V0DENY","type":"modal"}}`))
		})
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *fakeSlack) updated() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.updates...)
}

func (f *fakeSlack) opened() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.views...)
}

// denySubmission is the deny modal submitted with a reason.
func denySubmission(user, metadata, reason string) string {
	p := map[string]any{
		"type": "view_submission",
		"team": map[string]any{"id": "T0AIRLOCK"},
		"user": map[string]any{"id": user, "name": user},
		"view": map[string]any{
			"id": "V0DENY", "type": "modal", "callback_id": "airlock_deny", "private_metadata": metadata,
			"state": map[string]any{"values": map[string]any{"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": reason}}}},
		},
	}
	data, _ := json.Marshal(p)
	return "payload=" + url.QueryEscape(string(data))
}

// slackApprovals is the approvals section for a stack asking in fakeSlack.
func (f *fakeSlack) approvals() string {
	// The requester (see TestSlackApprovalReleasesTheHeldRequest) is listed
	// too: being an approver does not let it approve its own request.
	return fmt.Sprintf(`  approvers: [%s, W012A3CDE]
  slack:
    bot_token: xoxb-test
    signing_secret: %s
    channel: C0APPROVALS
    listen: "127.0.0.1:0"
    api_url: %s`, slackApprover, slackSecret, f.srv.GetAPIURL())
}

// click is a Slack block_actions payload for a button on an approval.
func click(user, approvalID, action string, window time.Duration, actionTS string) string {
	p := map[string]any{
		"type":       "block_actions",
		"team":       map[string]any{"id": "T0AIRLOCK"},
		"user":       map[string]any{"id": user, "name": user},
		"trigger_id": "1700000010.1.abc",
		"container":  map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVALS"},
		"channel":    map[string]any{"id": "C0APPROVALS"},
		"actions": []map[string]any{{
			"type": "button", "block_id": "airlock_decision", "action_id": action,
			"value": approvalID + "|" + strconv.FormatInt(int64(window/time.Second), 10), "action_ts": actionTS,
		}},
	}
	data, _ := json.Marshal(p)
	return "payload=" + url.QueryEscape(string(data))
}

// deliver posts an interaction as Slack does: signed with the signing
// secret at ts (zero: now).
func deliver(t testing.TB, endpoint, body, secret string, ts time.Time) int {
	t.Helper()
	if ts.IsZero() {
		ts = time.Now()
	}
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("v0:" + stamp + ":" + body))
		req.Header.Set("X-Slack-Request-Timestamp", stamp)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refusals are the reasons of the approval events of kind refused for an
// approval.
func (el *eventLog) refusals(id string) []string {
	el.mu.Lock()
	defer el.mu.Unlock()
	var out []string
	for _, data := range el.approvals[id] {
		var a event.Approval
		if json.Unmarshal(data, &a) == nil && a.Kind == event.ApprovalRefused {
			out = append(out, a.By+": "+a.Reason)
		}
	}
	return out
}

// TestSlackApprovalReleasesTheHeldRequest: a held request is posted to
// Slack; forged, stale, replayed and unauthorised clicks are refused (and
// recorded), the requester cannot approve itself, and the approver's
// signed click releases the request to the upstream and updates the
// message.
func TestSlackApprovalReleasesTheHeldRequest(t *testing.T) {
	f := newFakeSlack(t)
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: strings.Replace(holdConnection, "3s", "20s", 1),
		policy: approvalPolicy, approvals: f.approvals()})
	if ts.InteractionsURL == "" {
		t.Fatal("no interactions endpoint")
	}
	// The requester has an email, which slacktest resolves to its own
	// default user: that user is the requester in Slack.
	tok, err := ts.Issuer.Sign(devissuer.Claims{Subject: "copilot", Email: "copilot@acme.test", Groups: []string{"agents"}})
	if err != nil {
		t.Fatal(err)
	}
	kv := approvals(t, ts)
	calls := ts.up.calls.Load()
	held := ts.send(t, "PUT", "/prod/upload/x", tok, "x")
	a := awaitPending(t, kv, "/upload/x")
	deadline := time.Now().Add(5 * time.Second)
	for a.TS == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		a = awaitPending(t, kv, "/upload/x")
	}
	if a.TS == "" || a.Channel != "C0APPROVALS" {
		t.Fatalf("the approval was not posted to Slack: %+v", a)
	}

	approve := click(slackApprover, a.ID, "airlock_approve_once", 0, "1700000011.000001")
	for _, tc := range []struct {
		name   string
		body   string
		secret string
		at     time.Time
		status int
	}{
		{"unsigned", approve, "", time.Time{}, http.StatusUnauthorized},
		{"badly signed", approve, "not-the-secret", time.Time{}, http.StatusUnauthorized},
		{"older than 5 minutes", approve, slackSecret, time.Now().Add(-6 * time.Minute), http.StatusUnauthorized},
	} {
		if got := deliver(t, ts.InteractionsURL, tc.body, tc.secret, tc.at); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
	// slacktest answers users.lookupByEmail with its one non-bot user,
	// W012A3CDE, for any email: the requester's included.
	const requesterInSlack = "W012A3CDE"
	for _, user := range []string{"U0SOMEONE", requesterInSlack} { // not an approver; the requester
		if got := deliver(t, ts.InteractionsURL, click(user, a.ID, "airlock_approve_once", 0, "1700000012."+user), slackSecret, time.Time{}); got != http.StatusOK {
			t.Errorf("click by %s: %d, want 200 (refused in Slack, not in HTTP)", user, got)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(ts.events.refusals(a.ID)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := strings.Join(ts.events.refusals(a.ID), "; "); !strings.Contains(r, "slack:U0SOMEONE: you are not an approver") ||
		!strings.Contains(r, "slack:W012A3CDE: the requester cannot approve its own request") {
		t.Errorf("refused clicks recorded: %s", r)
	}
	if ts.up.calls.Load() != calls {
		t.Fatal("a refused click released the request")
	}

	// The approver's click, signed: the request goes through.
	start := time.Now()
	if got := deliver(t, ts.InteractionsURL, approve, slackSecret, time.Time{}); got != http.StatusOK {
		t.Fatalf("approver's click: %d", got)
	}
	if got := wait(t, held); got.status != http.StatusOK {
		t.Fatalf("released request: %d %s", got.status, got.body)
	}
	t.Logf("click to answer: %s", time.Since(start).Round(time.Millisecond))
	// The same payload again (a Slack retry, a replay): refused, recorded.
	if got := deliver(t, ts.InteractionsURL, approve, slackSecret, time.Time{}); got != http.StatusOK {
		t.Errorf("replayed click: %d", got)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(ts.events.refusals(a.ID)) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := ts.events.refusals(a.ID); len(r) != 3 || !strings.Contains(r[2], "already received (replayed)") {
		t.Errorf("after the replay, refused clicks recorded: %q", r)
	}
	if ts.up.calls.Load() != calls+1 {
		t.Errorf("upstream calls %d, want %d", ts.up.calls.Load(), calls+1)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(f.updated()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if u := f.updated(); len(u) != 1 || u[0].Get("ts") != a.TS || !strings.Contains(u[0].Get("blocks"), slackApprover) {
		t.Errorf("message updates: %v", u)
	}
}

// BenchmarkDecisionToRelease measures what a human waits for after the
// click: from the signed interaction reaching the approver's endpoint to
// the held request reaching the upstream. Each iteration holds a request,
// waits for its Slack message, then clicks.
func BenchmarkDecisionToRelease(b *testing.B) {
	f := newFakeSlack(b)
	released := make(chan time.Time, 1)
	ts := newTestStack(b, stackOptions{decisionTimeout: 5 * time.Second, connections: strings.Replace(holdConnection, "3s", "30s", 1),
		policy: approvalPolicy, approvals: f.approvals(),
		handle: func(w http.ResponseWriter, r *http.Request) {
			released <- time.Now()
			_, _ = io.WriteString(w, "ok")
		}})
	tok := ts.token(b, "agents")
	_, js := connect(b, ts.NATSURL)
	kv, err := js.KeyValue(b.Context(), "airlock-approvals")
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for i := range b.N {
		path := fmt.Sprintf("/upload/bench-%d", i)
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("PUT", ts.IngressURL+"/prod"+path, strings.NewReader("x"))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		var id string
		for id == "" {
			as, _ := approverList(b, kv)
			for _, a := range as {
				if a.Path == path && a.TS != "" {
					id = a.ID
				}
			}
		}
		start := time.Now()
		if got := deliver(b, ts.InteractionsURL, click(slackApprover, id, "airlock_approve_once", 0, fmt.Sprintf("1700000100.%06d", i)), slackSecret, time.Time{}); got != http.StatusOK {
			b.Fatalf("click: %d", got)
		}
		lat = append(lat, (<-released).Sub(start))
		if got := <-done; got != http.StatusOK {
			b.Fatalf("released request: %d", got)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
}

// TestSlackDenyAsksForAReason: Deny opens a modal; its submission refuses
// the held request with 403 and the reason, and the upstream never sees it.
func TestSlackDenyAsksForAReason(t *testing.T) {
	f := newFakeSlack(t)
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: strings.Replace(holdConnection, "3s", "20s", 1),
		policy: approvalPolicy, approvals: f.approvals()})
	tok := ts.token(t, "agents")
	kv := approvals(t, ts)
	calls := ts.up.calls.Load()
	held := ts.send(t, "PUT", "/prod/upload/d", tok, "d")
	a := awaitPending(t, kv, "/upload/d")
	for deadline := time.Now().Add(5 * time.Second); a.TS == "" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		a = awaitPending(t, kv, "/upload/d")
	}
	if got := deliver(t, ts.InteractionsURL, click(slackApprover, a.ID, "airlock_deny", 0, "1700000030.000001"), slackSecret, time.Time{}); got != http.StatusOK {
		t.Fatalf("deny click: %d", got)
	}
	views := f.opened()
	if len(views) != 1 || !strings.Contains(views[0], a.ID) {
		t.Fatalf("modals opened: %q", views)
	}
	if got := deliver(t, ts.InteractionsURL, denySubmission(slackApprover, views[0], "touches the billing tables"), slackSecret, time.Time{}); got != http.StatusOK {
		t.Fatalf("deny submission: %d", got)
	}
	got := wait(t, held)
	if got.status != http.StatusForbidden || !strings.Contains(string(got.body), "denied by slack:U0APPROVER: touches the billing tables") {
		t.Fatalf("denied request: %d %s", got.status, got.body)
	}
	if ts.up.calls.Load() != calls {
		t.Error("the denied request reached the upstream")
	}
}

func approverList(tb testing.TB, kv jetstream.KeyValue) ([]approver.Approval, error) {
	tb.Helper()
	return approver.List(tb.Context(), kv, approver.StatePending)
}

// TestSlackClickAfterApproverRestart: the approver that posted the message
// is gone; the one started after it takes the click on that message and
// releases the request still held.
func TestSlackClickAfterApproverRestart(t *testing.T) {
	f := newFakeSlack(t)
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: strings.Replace(holdConnection, "3s", "30s", 1),
		policy: approvalPolicy, approvals: f.approvals()})
	tok := ts.token(t, "agents")
	kv := approvals(t, ts)
	held := ts.send(t, "PUT", "/prod/upload/r", tok, "r")
	a := awaitPending(t, kv, "/upload/r")
	for deadline := time.Now().Add(5 * time.Second); a.TS == "" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		a = awaitPending(t, kv, "/upload/r")
	}
	if a.TS == "" {
		t.Fatal("not posted")
	}
	ts.StopApprover()
	if err := ts.StartApprover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := deliver(t, ts.InteractionsURL, click(slackApprover, a.ID, "airlock_approve_once", 0, "1700000040.000001"), slackSecret, time.Time{}); got != http.StatusOK {
		t.Fatalf("click: %d", got)
	}
	if got := wait(t, held); got.status != http.StatusOK {
		t.Fatalf("held request after the restart: %d %s", got.status, got.body)
	}
}
