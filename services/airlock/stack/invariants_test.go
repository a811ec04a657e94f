package stack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/masker/corpus"
)

// The invariants docs/security.md listed as not tested: an unreachable
// issuer fails closed, a decision releases only a request held on an
// approve verdict, and the service credential echoed by the upstream
// reaches the agent masked.

// unsignedToken is a JWT naming iss that no key signed: the ingress can
// only refuse it after reaching the issuer for its keys.
func unsignedToken(t *testing.T, iss string) string {
	t.Helper()
	enc := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(data)
	}
	now := time.Now()
	return enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "unreachable-1"}) + "." +
		enc(map[string]any{"iss": iss, "sub": "copilot", "aud": "airlock", "groups": []string{"agents"},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}) + "." +
		base64.RawURLEncoding.EncodeToString([]byte("not a signature of any key"))
}

// TestUnreachableIssuerIs503AndForwardsNothing: a token of a trusted issuer
// whose discovery document cannot be fetched (nothing listens on its port)
// is refused with 503 issuer_unavailable and a request id, neither 401
// (the token may be good) nor forwarded; again on a second request, which
// meets the remembered discovery failure. A dev issuer token on the same
// stack still passes: the refusal is the issuer's, not a broken stack's.
func TestUnreachableIssuerIs503AndForwardsNothing(t *testing.T) {
	issuerURL := "http://" + freePort(t) // closed: nothing listens there
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second,
		issuers: fmt.Sprintf("    - url: %q\n      audiences: [airlock]", issuerURL)})
	tok := unsignedToken(t, issuerURL)

	for i := range 2 {
		resp, body := ts.do(t, "GET", "/gh/repos/acme/api", tok, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("request %d: status = %d, want 503: %s", i+1, resp.StatusCode, body)
		}
		r := decodeRefusal(t, resp, body)
		if r.Error != "issuer_unavailable" {
			t.Fatalf("request %d: error = %q, want issuer_unavailable: %s", i+1, r.Error, body)
		}
		if !ulidRE.MatchString(r.RequestID) {
			t.Fatalf("request %d: request_id %q is not a ULID", i+1, r.RequestID)
		}
		if strings.Contains(string(body), tok) || strings.Contains(string(body), strings.Split(tok, ".")[1]) {
			t.Fatalf("request %d: the refusal echoes the token", i+1)
		}
		// Audited as unauthenticated with the 503, and never put to policy.
		ts.events.waitFor(t, r.RequestID, "audit")
		audit := ts.events.get(t, r.RequestID, "audit")
		if audit["decision"] != event.DecisionUnauthenticated || audit["status"] != float64(http.StatusServiceUnavailable) {
			t.Fatalf("request %d: audit = %v", i+1, audit)
		}
		ts.events.mu.Lock()
		published := ts.events.byID[r.RequestID]["request"] != nil
		ts.events.mu.Unlock()
		if published {
			t.Fatalf("request %d: a request event was published for a token nobody verified", i+1)
		}
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}

	resp, body := ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dev issuer token: status = %d, want 200: %s", resp.StatusCode, body)
	}
	if n := ts.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1 (the dev issuer's request only)", n)
	}
}

// injectDecisions publishes an approve decision for every request the
// ingress puts on the bus, the moment its request event appears, as a
// compromised or confused approver would; the ids go to the channel once
// the stream has the decision.
func injectDecisions(t *testing.T, ts *testStack) <-chan string {
	t.Helper()
	nc, js := connect(t, ts.NATSURL)
	ids := make(chan string, 16)
	sub, err := nc.Subscribe(subject.RequestPrefix+">", func(m *nats.Msg) {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Data, &head); err != nil || !event.ValidID(head.ID) {
			t.Errorf("request event on %s without an id: %v", m.Subject, err)
			return
		}
		data, err := json.Marshal(event.Decision{V: event.Version, ID: head.ID, Time: time.Now().UTC(),
			Outcome: event.OutcomeApprove, By: "cli:injected"})
		if err != nil {
			t.Error(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := js.Publish(ctx, subject.Decision(head.ID), data, jetstream.WithMsgID(head.ID+":injected-decision")); err != nil {
			t.Errorf("publishing the decision for %s: %v", head.ID, err)
			return
		}
		ids <- head.ID
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestDecisionReleasesOnlyApproveVerdicts: an approve decision published
// for a request before its verdict (the policy service is stopped until
// the decision is on the bus) releases it when the verdict is approve,
// and changes nothing when the verdict is deny, by a deny rule or by no
// rule allowing: 403, and the upstream never called.
func TestDecisionReleasesOnlyApproveVerdicts(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 10 * time.Second, connections: holdConnection, policy: approvalPolicy})
	tok := ts.token(t, "agents")
	injected := injectDecisions(t, ts)

	// through sends a request with the policy service stopped, waits for
	// the injected decision to be on the bus (and, a moment later, at the
	// ingress), then lets the verdict come.
	through := func(t *testing.T, method, path string) answer {
		t.Helper()
		ts.StopPolicy()
		held := ts.send(t, method, path, tok, `{"title":"x"}`)
		var id string
		select {
		case id = <-injected:
		case <-time.After(5 * time.Second):
			t.Fatal("no request event within 5 s")
		}
		ts.events.waitFor(t, id, "request", "decision")
		time.Sleep(200 * time.Millisecond)
		if err := ts.StartPolicy(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := wait(t, held)
		if got.header.Get("X-Airlock-Request-Id") != id {
			t.Fatalf("answer for %s, want %s", got.header.Get("X-Airlock-Request-Id"), id)
		}
		ts.events.waitFor(t, id, "verdict", "audit")
		return got
	}

	// The control: the injected decision does release a request held on
	// an approve verdict, so the refusals below are not a decision lost.
	calls := ts.up.calls.Load()
	if got := through(t, "POST", "/prod/deploy"); got.status != http.StatusOK {
		t.Fatalf("approve verdict with an approve decision: %d %s, want 200", got.status, got.body)
	}
	if n := ts.up.calls.Load(); n != calls+1 {
		t.Fatalf("upstream calls = %d, want %d", n, calls+1)
	}

	for _, tt := range []struct{ name, method, path, rule string }{
		{"deny rule", "DELETE", "/gh/repos/acme/api", "no-deletes"},
		{"no rule allows", "POST", "/gh/repos/acme/api/issues", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := ts.up.calls.Load()
			got := through(t, tt.method, tt.path)
			if got.status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403: %s", got.status, got.body)
			}
			var r refusal
			if err := json.Unmarshal(got.body, &r); err != nil || r.Error != "denied" || r.Rule != tt.rule {
				t.Fatalf("refusal %s, want denied by %q", got.body, tt.rule)
			}
			if by := r.Reason; strings.Contains(by, "injected") {
				t.Fatalf("the refusal names the injected decision: %s", by)
			}
			time.Sleep(200 * time.Millisecond)
			if n := ts.up.calls.Load(); n != calls {
				t.Fatalf("upstream calls = %d, want %d: a denied request was forwarded", n, calls)
			}
			var au event.Audit
			if err := json.Unmarshal(ts.events.raw(t, r.RequestID, "audit"), &au); err != nil {
				t.Fatal(err)
			}
			if au.Decision != event.EffectDeny || au.Status != http.StatusForbidden || au.Approver != "" {
				t.Fatalf("audit %+v, want deny, 403, no approver", au)
			}
		})
	}
}

// TestEchoedServiceCredentialIsMasked: an upstream that echoes the
// credential Airlock injected (a GitHub personal access token, which the
// masker's catalogue knows) in its answer, as JSON and as text, does not
// hand it to the agent: the agent sees the mask placeholder, never the
// token, and neither does the bus.
func TestEchoedServiceCredentialIsMasked(t *testing.T) {
	pat := "ghp_" + corpus.Fake("invariants-echoed-credential", corpus.Alnum, 36)
	echo, calls, got := echoUpstream(t)
	t.Setenv("INVARIANTS_ECHO_UPSTREAM", echo)
	t.Setenv("INVARIANTS_ECHO_CREDENTIAL", pat)
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: `  - name: echo
    type: http
    upstream: ${INVARIANTS_ECHO_UPSTREAM}
    credential: {env: INVARIANTS_ECHO_CREDENTIAL}
`})
	tok := ts.token(t, "agents")

	for _, path := range []string{"/echo/whoami/json", "/echo/whoami/text"} {
		before := calls.Load()
		resp, body := ts.do(t, "GET", path, tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status = %d: %s", path, resp.StatusCode, body)
		}
		if calls.Load() != before+1 || got.Load() != "Bearer "+pat {
			t.Fatalf("%s: the upstream got Authorization %v: the credential was not injected, the test proves nothing", path, got.Load())
		}
		if strings.Contains(string(body), pat[4:]) {
			t.Fatalf("%s: the agent got the service credential: %s", path, body)
		}
		if !strings.Contains(string(body), "[MASKED:github-pat]") {
			t.Fatalf("%s: body %s, want the credential masked as [MASKED:github-pat]", path, body)
		}
		if strings.HasSuffix(path, "/json") {
			var doc map[string]string
			if err := json.Unmarshal(body, &doc); err != nil || doc["echoed"] != "Bearer [MASKED:github-pat]" {
				t.Fatalf("%s: masked JSON %s (%v), want echoed = Bearer [MASKED:github-pat]", path, body, err)
			}
		}
		id := resp.Header.Get("X-Airlock-Request-Id")
		ts.events.waitFor(t, id, "request", "verdict", "response", "audit")
	}
	if bytesOnBus := ts.events.all(); strings.Contains(string(bytesOnBus), pat[4:]) {
		t.Fatal("the service credential is on the bus")
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("the gh upstream was called %d times", n)
	}
}

// echoUpstream is an upstream that sends back the Authorization it got:
// in a JSON body, in text under /text, in an octet-stream under /bin, and
// in the X-Echo header always.
func echoUpstream(t *testing.T) (url string, calls *atomic.Int64, got *atomic.Value) {
	t.Helper()
	calls, got = new(atomic.Int64), new(atomic.Value)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		auth := r.Header.Get("Authorization")
		got.Store(auth)
		w.Header().Set("X-Echo", auth)
		switch {
		case strings.HasSuffix(r.URL.Path, "/text"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "you sent Authorization: %s\n", auth)
		case strings.HasSuffix(r.URL.Path, "/bin"):
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(len(auth)+8))
			fmt.Fprintf(w, "\x00\x01\x02\x03%s\xff\xfe\xfd\xfc", auth)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"echoed": auth, "note": "what you sent"})
		}
	}))
	t.Cleanup(echo.Close)
	return echo.URL, calls, got
}

// TestEchoedOpaqueCredentialIsMasked: a credential of a format no
// detection rule knows, echoed by the upstream in a header, in JSON, in
// text and in a binary body, on a connection with masking and on one
// without, never reaches the agent, the bus or a recording: the ingress
// knows its value and replaces it (with as many asterisks in a body, so
// that a Content-Length still holds).
func TestEchoedOpaqueCredentialIsMasked(t *testing.T) {
	cred := "opaque-" + corpus.Fake("invariants-opaque-credential", corpus.Alnum, 40)
	echo, calls, got := echoUpstream(t)
	t.Setenv("INVARIANTS_ECHO_UPSTREAM", echo)
	t.Setenv("INVARIANTS_ECHO_CREDENTIAL", cred)
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, connections: `  - name: echo
    type: http
    upstream: ${INVARIANTS_ECHO_UPSTREAM}
    credential: {env: INVARIANTS_ECHO_CREDENTIAL}
  - name: echoraw
    type: http
    upstream: ${INVARIANTS_ECHO_UPSTREAM}
    credential: {env: INVARIANTS_ECHO_CREDENTIAL}
    masking: false
`})
	tok := ts.token(t, "agents")
	var ids []string
	for _, conn := range []string{"echo", "echoraw"} {
		for _, kind := range []string{"json", "text", "bin"} {
			path := "/" + conn + "/whoami/" + kind
			before := calls.Load()
			resp, body := ts.do(t, "GET", path, tok, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status = %d: %s", path, resp.StatusCode, body)
			}
			if calls.Load() != before+1 || got.Load() != "Bearer "+cred {
				t.Fatalf("%s: the upstream got Authorization %v: the test proves nothing", path, got.Load())
			}
			if strings.Contains(string(body), cred) {
				t.Errorf("%s: the agent got the credential in the body: %q", path, body)
			}
			if !strings.Contains(string(body), strings.Repeat("*", len(cred))) {
				t.Errorf("%s: body %q, want the credential replaced", path, body)
			}
			if h := resp.Header.Get("X-Echo"); strings.Contains(h, cred) || !strings.Contains(h, "[MASKED:airlock-credential]") {
				t.Errorf("%s: X-Echo %q", path, h)
			}
			if kind == "bin" && len(body) != len("Bearer "+cred)+8 {
				t.Errorf("%s: %d bytes, want the body's length kept", path, len(body))
			}
			ids = append(ids, resp.Header.Get("X-Airlock-Request-Id"))
		}
	}
	for _, id := range ids {
		ts.events.waitFor(t, id, "request", "verdict", "response", "audit")
	}
	if strings.Contains(string(ts.events.all()), cred) {
		t.Error("the credential is on the bus")
	}
	awaitRecords(t, ts.Recordings(), len(ids), 30*time.Second)
	if _, all := recordings(t, ts.Recordings()); bytes.Contains(all, []byte(cred)) {
		t.Error("the credential is in a recording")
	}
}
