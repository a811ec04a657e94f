package stack

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/pkg/oidctest"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/schemas"
)

const (
	serviceCredential = "svc-credential-7f3a"
	testPolicy        = `rules:
  - name: agents-read
    effect: allow
    when: request.method in ["GET", "HEAD"] && "agents" in identity.groups
    reason: agents may read
  - name: uploads
    effect: allow
    when: request.method == "PUT" && request.path.startsWith("/upload")
  - name: no-deletes
    effect: deny
    when: request.method == "DELETE"
    reason: agents never delete
  - name: trial-freeze-acme-api
    effect: deny
    shadow: true
    when: operation.repo == "acme/api" && request.query[?"per_page"].hasValue()
    reason: trying out a freeze
`
)

// upstream is the service behind the gateway. It fails the test if a
// request reaches it without the service credential or with the agent's.
type upstream struct {
	t     testing.TB
	url   string
	calls atomic.Int64
	mu    sync.Mutex
	last  *http.Request
	// handle serves a request after the credential checks; nil answers JSON.
	handle http.HandlerFunc
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		u.mu.Lock()
		u.last = r.Clone(context.Background())
		u.mu.Unlock()
		if got := r.Header.Get("Authorization"); got != "Bearer "+serviceCredential {
			t.Errorf("upstream got Authorization %q, want the injected service credential", got)
		}
		for k, v := range r.Header {
			if strings.Contains(strings.Join(v, " "), "eyJ") {
				t.Errorf("upstream got the agent's token in header %s", k)
			}
		}
		if r.Header.Get("Cookie") != "" {
			t.Errorf("upstream got the agent's cookie")
		}
		if u.handle != nil {
			u.handle(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"full_name":"acme/api","path":%q,"query":%q}`, r.URL.EscapedPath(), r.URL.RawQuery)
	}))
	t.Cleanup(srv.Close)
	u.url = srv.URL
	return u
}

func (u *upstream) lastRequest() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

type testStack struct {
	*Stack
	up     *upstream
	events *eventLog
}

func startStack(t testing.TB, decisionTimeout time.Duration) *testStack {
	t.Helper()
	return startStackWith(t, stackOptions{decisionTimeout: decisionTimeout})
}

// startStackQuiet starts the stack without the test's event watcher.
func startStackQuiet(t testing.TB, decisionTimeout time.Duration) *testStack {
	t.Helper()
	return newTestStack(t, stackOptions{decisionTimeout: decisionTimeout})
}

// stackOptions changes the stack startStackWith runs; the zero value, but
// for the decision timeout, is the stack of the tests above.
type stackOptions struct {
	// decisionTimeout is the ingress's decision_timeout.
	decisionTimeout time.Duration
	// connections are YAML list items added after the gh connection, at
	// its indentation; ${TEST_UPSTREAM} is the test upstream's URL and
	// ${TEST_SERVICE_CREDENTIAL} its credential.
	connections string
	// policy replaces testPolicy when not empty.
	policy string
	// handle is the upstream's handler (see upstream.handle).
	handle http.HandlerFunc
	// natsURL, when set, is a NATS server the stack connects to over TCP
	// instead of starting the embedded one.
	natsURL string
	// natsReplicas is nats.replicas (3 on a cluster), with natsURL.
	natsReplicas int
	// logTo receives every service's log lines (JSON), when set.
	logTo io.Writer
	// approvals is the approvals section's YAML body, indented two spaces.
	approvals string
	// recorder is the recorder section's YAML body, indented two spaces.
	recorder string
	// issuers are the identity section's trusted issuers, YAML list items
	// indented four spaces; the dev issuer is trusted besides.
	issuers string
	// maskTimeout is masking.timeout; zero means 30s (the race detector
	// slows the masker tenfold on bodies dense with secrets).
	maskTimeout time.Duration
	// ingress are YAML lines added to the ingress section, each indented
	// two spaces (read_header_timeout, body_timeout, inspect_limit).
	ingress string
}

// startStackWith starts the stack that opts describes, with the test's
// event watcher.
func startStackWith(t testing.TB, opts stackOptions) *testStack {
	t.Helper()
	ts := newTestStack(t, opts)
	ts.events = watchEvents(t, ts.NATSURL)
	return ts
}

func newTestStack(t testing.TB, opts stackOptions) *testStack {
	t.Helper()
	dir := t.TempDir()
	policy := testPolicy
	if opts.policy != "" {
		policy = opts.policy
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	up.handle = opts.handle
	t.Setenv("TEST_SERVICE_CREDENTIAL", serviceCredential)
	t.Setenv("TEST_UPSTREAM", up.url)
	natsSection := `embedded: {listen: "127.0.0.1:0"}`
	if opts.natsURL != "" {
		natsSection = "url: " + opts.natsURL
		if opts.natsReplicas > 0 {
			natsSection += fmt.Sprintf("\n  replicas: %d", opts.natsReplicas)
		}
	}
	yaml := fmt.Sprintf(`
nats:
  %s
identity:
  issuers:
%s
  dev_issuer: {enabled: true, listen: "127.0.0.1:0"}
ingress:
  listen: "127.0.0.1:0"
  decision_timeout: %s
%s
admin:
  listen: "127.0.0.1:0"
connections:
  - name: gh
    type: github
    upstream: ${TEST_UPSTREAM}
    hosts: [gh.airlock.test]
    credential: {env: TEST_SERVICE_CREDENTIAL}
%s
policies: [policy.yaml]
masking:
  timeout: %s
approvals:
%s
recorder:
%s
`, natsSection, opts.issuers, opts.decisionTimeout, opts.ingress, opts.connections, cmp.Or(opts.maskTimeout, 30*time.Second), opts.approvals, opts.recorder)
	cfgPath := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.logTo != nil {
		log = slog.New(slog.NewJSONHandler(opts.logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := Start(context.Background(), cfg, filepath.Join(dir, "data"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &testStack{Stack: st, up: up}
}

func (ts *testStack) token(t testing.TB, groups ...string) string {
	t.Helper()
	tok, err := ts.Issuer.Sign(devissuer.Claims{Subject: "copilot", Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (ts *testStack) do(t *testing.T, method, path, token string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.IngressURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Cookie", "session=agent-cookie")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// refusal is the gateway's JSON error.
type refusal struct {
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	Rule      string `json:"rule"`
	RequestID string `json:"request_id"`
}

func decodeRefusal(t *testing.T, resp *http.Response, data []byte) refusal {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("refusal Content-Type = %q, want application/json", ct)
	}
	var r refusal
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("refusal is not JSON: %v: %s", err, data)
	}
	if r.RequestID == "" || r.RequestID != resp.Header.Get("X-Airlock-Request-Id") {
		t.Fatalf("refusal request_id %q != header %q", r.RequestID, resp.Header.Get("X-Airlock-Request-Id"))
	}
	if r.Error == "" || r.Reason == "" {
		t.Fatalf("refusal lacks error or reason: %s", data)
	}
	return r
}

var ulidRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

func TestAllowedRequestReachesUpstreamWithServiceCredentialOnly(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	resp, body := ts.do(t, "GET", "/gh/repos/acme/api?per_page=5", ts.token(t, "agents"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	want := `{"full_name":"acme/api","path":"/repos/acme/api","query":"per_page=5"}`
	if string(body) != want {
		t.Fatalf("body = %s, want the upstream's body unchanged: %s", body, want)
	}
	id := resp.Header.Get("X-Airlock-Request-Id")
	if !ulidRE.MatchString(id) {
		t.Fatalf("request id %q is not a ULID", id)
	}
	if n := ts.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
	// The journal: request, verdict, response and audit, each valid.
	ts.events.waitFor(t, id, "request", "verdict", "response", "audit")
	audit := ts.events.get(t, id, "audit")
	if audit["decision"] != "allow" || audit["rule"] != "agents-read" || audit["identity"] != "copilot" {
		t.Fatalf("audit = %v", audit)
	}
	// The shadow rule matched: audited as what it would have done, and the
	// request still allowed.
	if sh, _ := audit["shadow"].([]any); len(sh) != 1 || sh[0].(map[string]any)["rule"] != "trial-freeze-acme-api" {
		t.Fatalf("audit shadow = %v, want the trial rule", audit["shadow"])
	}
	if audit["action"] != "repos.read" || audit["summary"] != "repos.read on acme/api" {
		t.Fatalf("audit action %v summary %v", audit["action"], audit["summary"])
	}
}

func TestDeniedRequestsNeverReachUpstream(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	tests := []struct {
		name, method, path, rule string
		groups                   []string
	}{
		{"deny rule", "DELETE", "/gh/repos/acme/api", "no-deletes", []string{"agents"}},
		{"no rule allows a write", "POST", "/gh/repos/acme/api/issues", "", []string{"agents"}},
		{"reader outside the group", "GET", "/gh/repos/acme/api", "", []string{"humans"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, tt.method, tt.path, ts.token(t, tt.groups...), strings.NewReader(`{"title":"x"}`))
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403: %s", resp.StatusCode, body)
			}
			r := decodeRefusal(t, resp, body)
			if r.Error != "denied" || r.Rule != tt.rule {
				t.Fatalf("refusal = %+v, want denied by %q", r, tt.rule)
			}
			ts.events.waitFor(t, r.RequestID, "request", "verdict", "response", "audit")
		})
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}
}

func TestBadTokensAreRefusedWith401(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	toks, err := oidctest.BadTokens(ts.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	toks = append(toks, oidctest.Token{Name: "missing", Value: ""})
	for _, tt := range toks {
		t.Run(tt.Name, func(t *testing.T) {
			resp, body := ts.do(t, "GET", "/gh/repos/acme/api", tt.Value, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", resp.StatusCode, body)
			}
			if r := decodeRefusal(t, resp, body); r.Error != "unauthenticated" {
				t.Fatalf("error = %q", r.Error)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tt.Value != "" && strings.Contains(string(body), tt.Value) {
				t.Fatal("refusal echoes the token")
			}
		})
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}
}

func TestAgentCredentialSpellingsAllAuthenticate(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	tok := ts.token(t, "agents")
	for _, h := range []string{"Bearer " + tok, "token " + tok, "Basic " + basic("x-access-token", tok)} {
		req, _ := http.NewRequest("GET", ts.IngressURL+"/gh/repos/acme/api", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Authorization %q…: status %d", h[:8], resp.StatusCode)
		}
	}
}

func TestFailClosedWhenPolicyIsDown(t *testing.T) {
	timeout := 400 * time.Millisecond
	ts := startStack(t, timeout)
	ts.StopPolicy()
	start := time.Now()
	resp, body := ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503: %s", resp.StatusCode, body)
	}
	if r := decodeRefusal(t, resp, body); r.Error != "decision_timeout" {
		t.Fatalf("error = %q, want decision_timeout", r.Error)
	}
	if waited := time.Since(start); waited < timeout {
		t.Fatalf("refused after %s, before the decision timeout %s", waited, timeout)
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}
	// The policy service comes back: traffic flows without restarting the
	// ingress. The stale request event gets a verdict nobody waits for, and
	// is still not forwarded.
	if err := ts.StartPolicy(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after restart: status = %d: %s", resp.StatusCode, body)
	}
	time.Sleep(100 * time.Millisecond)
	if n := ts.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1 (only the request made after the restart)", n)
	}
}

func TestRedeliveredRequestEventDoesNotDoubleEffects(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	// The recorder stopped, its consumer keeps the verdicts in the stream
	// (interest retention) for them to be counted.
	ts.StopRecorder()
	resp, _ := ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil)
	id := resp.Header.Get("X-Airlock-Request-Id")
	ts.events.waitFor(t, id, "request", "verdict")

	// Deliver the same request event again, as JetStream does when an ack
	// is lost: a new message id, so the stream's dedup does not catch it.
	nc, js := connect(t, ts.NATSURL)
	defer nc.Close()
	data := ts.events.raw(t, id, "request")
	if _, err := js.Publish(context.Background(), subject.Request("gh", id), data, jetstream.WithMsgID(id+":redelivered")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := countStored(t, js, subject.Verdict(id)); n != 1 {
		t.Fatalf("stored verdicts for %s = %d, want 1", id, n)
	}
	if n := ts.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
}

func TestRoutesByHostWithoutPrefix(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	req, _ := http.NewRequest("GET", ts.IngressURL+"/repos/acme/api", nil)
	req.Host = "GH.airlock.test:443"
	req.Header.Set("Authorization", "Bearer "+ts.token(t, "agents"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"path":"/repos/acme/api"`) {
		t.Fatalf("status %d, body %s: want the upstream to see /repos/acme/api", resp.StatusCode, body)
	}
	if got := ts.up.lastRequest().Host; got == "GH.airlock.test:443" {
		t.Fatalf("upstream got the agent's Host %q, want its own", got)
	}
}

func TestUnknownConnectionIs404JSON(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	for _, p := range []string{"/nope/x", "/", "/GH/repos", "/gh%2Frepos/x", "/%2e%2e/gh/repos"} {
		resp, body := ts.do(t, "GET", p, ts.token(t, "agents"), nil)
		if resp.StatusCode != 404 {
			t.Fatalf("%s: status = %d, want 404: %s", p, resp.StatusCode, body)
		}
		decodeRefusal(t, resp, body)
	}
}

// Bodies of 100 MiB stream through in both directions; the ingress holds
// the inspect limit, not the body.
func TestHugeBodiesStreamThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 200 MiB")
	}
	const size = 100 << 20
	ts := startStack(t, 5*time.Second)
	var upSum string
	ts.up.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil || n != size {
				t.Errorf("upstream read %d bytes, %v", n, err)
			}
			upSum = hex.EncodeToString(h.Sum(nil))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, io.LimitReader(pattern{}, size))
	}
	measure := func(f func()) uint64 {
		var before, after runtimeStats
		before.read()
		f()
		after.read()
		return after.totalAlloc - before.totalAlloc
	}

	src := io.LimitReader(pattern{}, size)
	h := sha256.New()
	alloc := measure(func() {
		req, _ := http.NewRequest("PUT", ts.IngressURL+"/gh/upload/blob", io.TeeReader(src, h))
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+ts.token(t, "agents"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upload status = %d", resp.StatusCode)
		}
	})
	if want := hex.EncodeToString(h.Sum(nil)); upSum != want {
		t.Fatalf("upstream received a different body")
	}
	t.Logf("100 MiB upload: %d MiB allocated in the whole process", alloc>>20)
	if alloc > 48<<20 {
		t.Fatalf("upload allocated %d MiB: the body is being held, not streamed", alloc>>20)
	}

	var n int64
	alloc = measure(func() {
		req, _ := http.NewRequest("GET", ts.IngressURL+"/gh/download/blob", nil)
		req.Header.Set("Authorization", "Bearer "+ts.token(t, "agents"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	if n != size {
		t.Fatalf("downloaded %d bytes, want %d", n, size)
	}
	t.Logf("100 MiB download: %d MiB allocated in the whole process", alloc>>20)
	if alloc > 48<<20 {
		t.Fatalf("download allocated %d MiB: the body is being held, not streamed", alloc>>20)
	}
}

// pattern is an endless, cheap, non-constant byte stream.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return len(p), nil
}

// eventLog collects every event on the bus and validates each against its
// schema as it arrives.
type eventLog struct {
	mu   sync.Mutex
	t    testing.TB
	byID map[string]map[string][]byte
	// approvals keeps every approval event of an id: there may be several.
	approvals map[string][][]byte
	invalid   []string
}

func watchEvents(t testing.TB, url string) *eventLog {
	t.Helper()
	el := &eventLog{t: t, byID: map[string]map[string][]byte{}, approvals: map[string][][]byte{}}
	nc, _ := connect(t, url)
	kinds := map[string]string{
		subject.RequestPrefix: "request", subject.VerdictPrefix: "verdict",
		subject.ResponsePrefix: "response", subject.AuditPrefix: "audit",
		subject.ApprovalPrefix: "approval", subject.DecisionPrefix: "decision",
	}
	// The stream's subject families, not airlock.>: a subscriber to the
	// masker's subject would be a responder that never answers.
	handle := func(m *nats.Msg) {
		for prefix, kind := range kinds {
			if !strings.HasPrefix(m.Subject, prefix) {
				continue
			}
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(m.Data, &head)
			el.mu.Lock()
			if err := schemas.Validate(kind, m.Data); err != nil {
				el.invalid = append(el.invalid, fmt.Sprintf("%s: %v", m.Subject, err))
			}
			if el.byID[head.ID] == nil {
				el.byID[head.ID] = map[string][]byte{}
			}
			el.byID[head.ID][kind] = m.Data
			if kind == "approval" {
				el.approvals[head.ID] = append(el.approvals[head.ID], m.Data)
			}
			el.mu.Unlock()
		}
	}
	for prefix := range kinds {
		if _, err := nc.Subscribe(prefix+">", handle); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		el.mu.Lock()
		defer el.mu.Unlock()
		for _, inv := range el.invalid {
			t.Errorf("event does not match its schema: %s", inv)
		}
	})
	return el
}

func (el *eventLog) waitFor(t *testing.T, id string, kinds ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		el.mu.Lock()
		missing := []string{}
		for _, k := range kinds {
			if el.byID[id][k] == nil {
				missing = append(missing, k)
			}
		}
		el.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %s: no %v event", id, missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (el *eventLog) raw(t *testing.T, id, kind string) []byte {
	t.Helper()
	el.mu.Lock()
	defer el.mu.Unlock()
	data := el.byID[id][kind]
	if data == nil {
		t.Fatalf("no %s event for %s", kind, id)
	}
	return data
}

// all is every event seen so far, concatenated: what a test greps for
// what must never be on the bus.
func (el *eventLog) all() []byte {
	el.mu.Lock()
	defer el.mu.Unlock()
	var b bytes.Buffer
	for _, kinds := range el.byID {
		for _, data := range kinds {
			b.Write(data)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func (el *eventLog) get(t *testing.T, id, kind string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(el.raw(t, id, kind), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := bus.Connect(url, nil, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// countStored counts the messages the AIRLOCK stream holds on subj.
func countStored(t *testing.T, js jetstream.JetStream, subj string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Subjects[subj])
}

func basic(user, pw string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pw)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestStartFailureReturnsAnError: when a service cannot start (here the
// admin listener's port is taken), Start stops what it had started and
// returns the error; it used to close a nil stack and panic.
func TestStartFailureReturnsAnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
nats: {embedded: {listen: none}}
identity: {dev_issuer: {enabled: true, listen: "127.0.0.1:0"}}
ingress: {listen: "127.0.0.1:0"}
admin: {listen: %q}
connections:
  - {name: gh, type: github, upstream: "http://127.0.0.1:9", credential: {value: x}}
policies: [policy.yaml]
`, taken.Addr().String())), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Start(context.Background(), cfg, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err == nil || st != nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("Start with the admin port taken: %v, %v; want an admin listener error", st, err)
	}
}

// TestAirlockHeadersAndProxyCredentialsDoNotCross: the agent cannot send
// the upstream Airlock's own headers or a proxy credential, and the
// upstream cannot set Airlock's headers in the agent's answer (a forged
// request id, a claim of approval).
func TestAirlockHeadersAndProxyCredentialsDoNotCross(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 2 * time.Second, handle: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Airlock-Request-Id", "forged")
		w.Header().Set("X-Airlock-Approved", "yes")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}})
	req, _ := http.NewRequest("GET", ts.IngressURL+"/gh/repos/acme/api", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token(t, "agents"))
	req.Header.Set("Proxy-Authorization", "Basic YWdlbnQ6c2VjcmV0")
	req.Header.Set("X-Airlock-Decision", "allow")
	req.Header.Set("X-Airlock-Session", "work-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	up := ts.up.lastRequest()
	for k := range up.Header {
		if k == "Proxy-Authorization" || strings.HasPrefix(k, "X-Airlock-") {
			t.Errorf("the upstream got %s", k)
		}
	}
	if id := resp.Header.Get("X-Airlock-Request-Id"); !ulidRE.MatchString(id) {
		t.Errorf("the agent got request id %q: the upstream's forgery went through", id)
	}
	if v := resp.Header.Get("X-Airlock-Approved"); v != "" {
		t.Errorf("the agent got X-Airlock-Approved: %s from the upstream", v)
	}
}

// TestConnectionWithoutCredentialIsRefused: a connection whose credential
// is not set answers 503 connection_not_configured and forwards nothing,
// rather than calling the upstream with no credential (or the agent's).
func TestConnectionWithoutCredentialIsRefused(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 2 * time.Second, connections: `  - name: nocred
    type: http
    upstream: ${TEST_UPSTREAM}
    credential: {env: AIRLOCK_TEST_CREDENTIAL_NEVER_SET}
`})
	resp, body := ts.do(t, "GET", "/nocred/anything", ts.token(t, "agents"), nil)
	if r := decodeRefusal(t, resp, body); resp.StatusCode != http.StatusServiceUnavailable || r.Error != "connection_not_configured" {
		t.Fatalf("%d %+v, want 503 connection_not_configured", resp.StatusCode, r)
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls %d, want 0", n)
	}
}

// TestNoCredentialInTheLogs runs allowed, denied, unauthenticated and
// failing requests with every service logging at debug level, and wants
// neither the agent's token nor the service credential in any log line.
func TestNoCredentialInTheLogs(t *testing.T) {
	logs := &logtest.Buffer{}
	ts := startStackWith(t, stackOptions{decisionTimeout: 2 * time.Second, logTo: logs, connections: slowConnection})
	tok := ts.token(t, "agents")
	forged := tok[:len(tok)-4] + "AAAA"
	for _, r := range []struct{ method, path, token string }{
		{"GET", "/gh/repos/acme/api", tok},
		{"DELETE", "/gh/repos/acme/api", tok},
		{"GET", "/gh/repos/acme/api", forged},
		{"GET", "/gh/repos/acme/api", ""},
		{"GET", "/slow/nowhere", tok},
	} {
		resp, _ := ts.do(t, r.method, r.path, r.token, nil)
		if resp.StatusCode == 0 {
			t.Fatalf("%s %s: no answer", r.method, r.path)
		}
	}
	time.Sleep(200 * time.Millisecond)
	out := logs.String()
	if !strings.Contains(out, "refused") {
		t.Fatalf("the services logged nothing of the refusals: the test would prove nothing\n%s", out)
	}
	for name, secret := range map[string]string{"the agent's token": tok, "a forged token": forged, "the service credential": serviceCredential} {
		if strings.Contains(out, secret) || strings.Contains(out, secret[:min(len(secret), 40)]) {
			t.Errorf("%s is in the logs", name)
		}
	}
}
