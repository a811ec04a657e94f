package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/schemas"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// harness is a running policy service on a real embedded server, and a
// client standing in for the ingress.
type harness struct {
	svc  *Service
	js   jetstream.JetStream
	logs *logtest.Buffer
}

func start(t *testing.T, policyFiles ...string) *harness {
	t.Helper()
	srv := bustest.Start(t)
	_, svcJS := srv.Connect(t, "policy")
	_, js := srv.Connect(t, "ingress")
	set, err := rules.Load(policyFiles)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	h := &harness{
		svc:  New(svcJS, set, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil),
		js:   js,
		logs: logs,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// request returns a request event from an agent.
func request(method, path string) *event.Request {
	return &event.Request{
		V:              event.Version,
		ID:             event.NewID(),
		Time:           time.Now().UTC(),
		Connection:     "github",
		ConnectionType: "github",
		Identity:       event.Identity{Subject: "agent-1", Issuer: "https://issuer.example.com", Groups: []string{"agents"}},
		Method:         method,
		Host:           "api.github.com",
		Path:           path,
		Headers:        map[string][]string{"Accept": {"application/json"}},
	}
}

// publish sends a request event as the ingress does, checking it against
// its schema first.
func (h *harness) publish(t *testing.T, req *event.Request, msgID string) {
	t.Helper()
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("request", data); err != nil {
		t.Fatalf("test request is invalid: %v", err)
	}
	h.publishRaw(t, subject.Request(req.Connection, req.ID), data, msgID)
}

func (h *harness) publishRaw(t *testing.T, subj string, data []byte, msgID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.js.Publish(ctx, subj, data, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatalf("publishing to %s: %v", subj, err)
	}
}

// verdict waits for the verdict of id to be stored in the stream, checks
// it against its schema and decodes it.
func (h *harness) verdict(t *testing.T, id string) event.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := h.js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := stream.GetLastMsgForSubject(ctx, subject.Verdict(id))
		if err == nil {
			if err := schemas.Validate("verdict", msg.Data); err != nil {
				t.Fatalf("verdict does not match its schema: %v\n%s", err, msg.Data)
			}
			if got := msg.Header.Get(jetstream.MsgIDHeader); got != id+":verdict" {
				t.Errorf("Nats-Msg-Id = %q, want %q", got, id+":verdict")
			}
			var v event.Verdict
			if err := json.Unmarshal(msg.Data, &v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatalf("reading verdict: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no verdict for %s\nlogs:\n%s", id, h.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// verdicts counts the verdicts stored for id.
func (h *harness) verdicts(t *testing.T, id string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := h.js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject.Verdict(id)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject.Verdict(id)]
}

// settled waits until the policy consumer has no event pending or
// unacknowledged, and returns its state.
func (h *harness) settled(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	return h.settledAfter(t, 0)
}

// settledAfter is settled once the consumer has delivered stream sequence
// seq: a just-stored event may not be counted as pending yet.
func (h *harness) settledAfter(t *testing.T, seq uint64) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := h.js.Consumer(ctx, subject.Stream, subject.PolicyConsumer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream >= seq {
			return info
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumer not settled: %+v", info)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestVerdicts(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	tests := []struct {
		name   string
		req    *event.Request
		effect string
		rule   string
		reason string
		shadow []event.RuleMatch
	}{
		{"agent read", request("GET", "/repos/acme/api/pulls"), event.EffectAllow, "allow-agent-reads", "agents may read", nil},
		{"delete", request("DELETE", "/repos/acme/api"), event.EffectDeny, "deny-deletes", "agents may not delete", nil},
		{"push", request("POST", "/repos/acme/api/git/refs/heads/main"), event.EffectApprove, "approve-pushes", "ref updates need a human", nil},
		{"push spelled otherwise", request("POST", "/repos/acme/api/pulls/%2e%2e/git//refs/heads/main"), event.EffectApprove, "approve-pushes", "ref updates need a human", nil},
		{"nothing allows", request("PATCH", "/repos/acme/api"), event.EffectDeny, "", rules.ReasonDefaultDeny, nil},
		{"shadow reported", request("GET", "/orgs/acme"), event.EffectAllow, "allow-agent-reads", "agents may read",
			[]event.RuleMatch{{Rule: "watch-org-reads", Effect: event.EffectDeny}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.publish(t, tt.req, tt.req.ID)
			v := h.verdict(t, tt.req.ID)
			if v.V != event.Version || v.ID != tt.req.ID || v.Time.IsZero() || v.EvalMicros < 0 {
				t.Errorf("verdict header = %+v", v)
			}
			if v.Effect != tt.effect || v.Rule != tt.rule || v.Reason != tt.reason {
				t.Errorf("verdict = %s/%q/%q, want %s/%q/%q", v.Effect, v.Rule, v.Reason, tt.effect, tt.rule, tt.reason)
			}
			if len(v.Shadow) != len(tt.shadow) || (len(tt.shadow) > 0 && v.Shadow[0] != tt.shadow[0]) {
				t.Errorf("shadow = %+v, want %+v", v.Shadow, tt.shadow)
			}
		})
	}
	h.settled(t)
	logs := h.logs.String()
	for _, secret := range []string{"application/json", "Accept"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain header %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, `"request_id":"`+tests[0].req.ID+`"`) {
		t.Errorf("no log line carries request_id %s:\n%s", tests[0].req.ID, logs)
	}
}

// TestDefaultPack runs the demo pack in deploy/examples.
func TestDefaultPack(t *testing.T) {
	h := start(t, "../../deploy/examples/policies/default.yaml")
	human := request("GET", "/repos/acme/api")
	human.Identity.Groups = []string{"humans"}
	tests := []struct {
		req    *event.Request
		effect string
		rule   string
	}{
		{request("GET", "/repos/acme/api"), event.EffectAllow, "allow-agent-reads"},
		{request("HEAD", "/repos/acme/api"), event.EffectAllow, "allow-agent-reads"},
		{human, event.EffectDeny, ""},
		{request("DELETE", "/repos/acme/api"), event.EffectDeny, "deny-repo-delete"},
		{request("DELETE", "/repos/acme/api/issues/comments/1"), event.EffectDeny, "deny-deletes"},
		{request("POST", "/repos/acme/api/issues"), event.EffectDeny, ""},
	}
	for _, tt := range tests {
		h.publish(t, tt.req, tt.req.ID)
		if v := h.verdict(t, tt.req.ID); v.Effect != tt.effect || v.Rule != tt.rule {
			t.Errorf("%s %s by %v: %s/%q, want %s/%q", tt.req.Method, tt.req.Path, tt.req.Identity.Groups, v.Effect, v.Rule, tt.effect, tt.rule)
		}
	}
}

// TestRedelivery publishes one request event twice, as a redelivery would
// present it, and wants one stored verdict.
func TestRedelivery(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	req := request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	first := h.verdict(t, req.ID)
	h.publish(t, req, req.ID+"-again")
	info := h.settledAfter(t, 2)
	if info.Delivered.Stream < 2 {
		t.Fatalf("second event not delivered: %+v", info.Delivered)
	}
	if n := h.verdicts(t, req.ID); n != 1 {
		t.Errorf("%d verdicts stored for %s, want 1", n, req.ID)
	}
	if again := h.verdict(t, req.ID); again.Time != first.Time {
		t.Errorf("stored verdict changed: %+v then %+v", first, again)
	}
}

// TestMalformedEvents: events that are not valid requests are terminated,
// logged with their subject, and the service goes on.
func TestMalformedEvents(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	wrongVersion := request("GET", "/")
	wrongVersion.V = 2
	wrongVersion.ID = event.NewID()
	badID := request("GET", "/")
	badID.ID = "not-a-ulid"
	moved := request("GET", "/")
	movedData, _ := json.Marshal(moved)
	v2Data, _ := json.Marshal(wrongVersion)
	badIDData, _ := json.Marshal(badID)
	bad := []struct {
		subject string
		data    []byte
	}{
		{subject.Request("github", event.NewID()), []byte(`{"v":1,"id":`)},
		{subject.Request("github", event.NewID()), []byte(`[1,2,3]`)},
		{subject.Request("github", wrongVersion.ID), v2Data},
		{subject.Request("github", "x"), badIDData},
		// A valid event on another request's subject.
		{subject.Request("other", moved.ID), movedData},
	}
	for i, b := range bad {
		h.publishRaw(t, b.subject, b.data, event.NewID())
		_ = i
	}
	good := request("GET", "/repos/acme/api")
	h.publish(t, good, good.ID)
	if v := h.verdict(t, good.ID); v.Effect != event.EffectAllow {
		t.Errorf("good event after malformed ones: %+v", v)
	}
	info := h.settled(t)
	if info.NumRedelivered != 0 {
		t.Errorf("malformed events were redelivered: %+v", info)
	}
	if n := h.verdicts(t, moved.ID); n != 0 {
		t.Errorf("verdict published for an event on the wrong subject")
	}
	logs := h.logs.String()
	for _, b := range bad {
		if !strings.Contains(logs, `"subject":"`+b.subject+`"`) {
			t.Errorf("no log line names %s:\n%s", b.subject, logs)
		}
	}
}

// TestBodyInObjectStore: a body above the inline limit is read from the
// object store and checked against its digest.
func TestBodyInObjectStore(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	ctx := context.Background()
	large := bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 20000) // 520 KB
	large = append(large, "DROP TABLE t;"...)

	withBody := func(data []byte, store bool) *event.Request {
		req := request("GET", "/repos/acme/api/contents/schema.sql")
		sum := sha256.Sum256(data)
		req.Body = &event.Body{Size: int64(len(data)), ContentLength: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		req.Body.Object = "req/" + req.ID
		if store {
			name, err := bus.NewBodies(h.js).Put(ctx, req.ID, data)
			if err != nil {
				t.Fatal(err)
			}
			req.Body.Object = name
		}
		return req
	}

	stored := withBody(large, true)
	h.publish(t, stored, stored.ID)
	if v := h.verdict(t, stored.ID); v.Effect != event.EffectDeny || v.Rule != "deny-dropped-tables" {
		t.Errorf("large body: %+v", v)
	}

	harmless := withBody(bytes.Repeat([]byte("SELECT 1;\n"), 50000), true)
	h.publish(t, harmless, harmless.ID)
	if v := h.verdict(t, harmless.ID); v.Effect != event.EffectAllow {
		t.Errorf("large harmless body: %+v", v)
	}

	missing := withBody(large, false)
	h.publish(t, missing, missing.ID)
	if v := h.verdict(t, missing.ID); v.Effect != event.EffectDeny || v.Reason != ReasonBodyUnavailable {
		t.Errorf("missing body: %+v", v)
	}

	tampered := withBody(large, true)
	tampered.Body.SHA256 = strings.Repeat("0", 64)
	h.publish(t, tampered, tampered.ID)
	if v := h.verdict(t, tampered.ID); v.Effect != event.EffectDeny || v.Reason != ReasonBodyDigest {
		t.Errorf("tampered body: %+v", v)
	}
	h.settled(t)
	if strings.Contains(h.logs.String(), "DROP TABLE") {
		t.Error("logs contain the body")
	}
}

// TestRetryUntilPublished: while verdicts cannot be stored, request events
// are not acked; once they can, the verdict comes.
func TestRetryUntilPublished(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	ctx := context.Background()
	stream, err := h.js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	// Take the verdict subjects out of the stream: publishing a verdict
	// now fails.
	cfg := stream.CachedInfo().Config
	var subjects []string
	for _, s := range cfg.Subjects {
		if s != subject.VerdictPrefix+">" {
			subjects = append(subjects, s)
		}
	}
	cfg.Subjects = subjects
	if _, err := h.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	req := request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), "publishing verdict: will retry") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed publish:\n%s", h.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := bus.Provision(ctx, h.js, bus.Limits{}); err != nil {
		t.Fatal(err)
	}
	if v := h.verdict(t, req.ID); v.Effect != event.EffectAllow {
		t.Errorf("verdict after retry: %+v", v)
	}
	if info := h.settled(t); info.NumRedelivered == 0 && info.Delivered.Consumer < 2 {
		t.Errorf("event was not redelivered: %+v", info)
	}
}

// TestSetRules swaps the rule set of a running service.
func TestSetRules(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	req := request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	if v := h.verdict(t, req.ID); v.Effect != event.EffectAllow {
		t.Fatalf("before: %+v", v)
	}
	set, err := rules.Parse("lockdown.yaml", []byte("rules:\n  - name: lockdown\n    effect: deny\n    when: \"true\"\n    reason: maintenance\n"))
	if err != nil {
		t.Fatal(err)
	}
	h.svc.SetRules(set)
	if h.svc.Rules() != set {
		t.Error("Rules does not return the new set")
	}
	req = request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	if v := h.verdict(t, req.ID); v.Effect != event.EffectDeny || v.Rule != "lockdown" || v.Reason != "maintenance" {
		t.Errorf("after: %+v", v)
	}
	// No rules at all: everything is denied.
	h.svc.SetRules(nil)
	req = request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	if v := h.verdict(t, req.ID); v.Effect != event.EffectDeny || v.Reason != rules.ReasonDefaultDeny {
		t.Errorf("nil set: %+v", v)
	}
}
