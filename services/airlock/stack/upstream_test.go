package stack

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// slowConnection routes /slow/ to the test upstream with a short upstream
// timeout.
const slowConnection = `  - name: slow
    type: http
    upstream: ${TEST_UPSTREAM}
    upstream_timeout: 300ms
    credential: {env: TEST_SERVICE_CREDENTIAL}
`

const readAllPolicy = `rules:
  - {name: reads, effect: allow, when: '!operation.write'}
`

// failingUpstream hangs (until release is closed or the request is
// cancelled), resets the connection or answers garbage, by path.
func failingUpstream(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/reset":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		case "/garbage":
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_, _ = buf.WriteString("HTTP/1.1 abc nonsense\r\n\r\n")
				_ = buf.Flush()
				conn.Close()
			}
		}
	}
}

// upstreamFailures are failingUpstream's failures through the slow
// connection, and what the agent gets for each.
var upstreamFailures = []struct {
	path   string
	status int
	code   string
}{
	{"/slow/hang", http.StatusGatewayTimeout, "upstream_timeout"},
	{"/slow/reset", http.StatusBadGateway, "upstream_error"},
	{"/slow/garbage", http.StatusBadGateway, "upstream_error"},
}

// TestUpstreamFailuresAreClearAndBounded: an upstream that hangs, resets
// the connection or answers garbage gets the agent a JSON 504 or 502 within
// the connection's timeout, never a hang or an HTML page.
func TestUpstreamFailuresAreClearAndBounded(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 2 * time.Second,
		connections:     slowConnection,
		policy:          readAllPolicy,
		handle:          failingUpstream(release),
	})
	tok := ts.token(t, "agents")
	for _, tt := range upstreamFailures {
		t.Run(tt.path, func(t *testing.T) {
			start := time.Now()
			resp, body := ts.do(t, "GET", tt.path, tok, nil)
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("answered after %s: the upstream timeout is 300ms", took)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if r := decodeRefusal(t, resp, body); r.Error != tt.code {
				t.Fatalf("error = %q, want %q", r.Error, tt.code)
			}
		})
	}
}

// TestUpstreamFailuresLeakNoGoroutines sends each upstream failure 50
// times, concurrently, to a stack that is up and warm: once the agent's
// idle connections are closed, every goroutine started meanwhile has
// ended — none is left waiting on an upstream that hung, a connection that
// was reset, or a body nobody will read.
func TestUpstreamFailuresLeakNoGoroutines(t *testing.T) {
	const rounds = 50
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     slowConnection,
		policy:          readAllPolicy,
		handle:          failingUpstream(release),
	})
	tok := ts.token(t, "agents")
	// The agent's own client, so that its idle connections can be closed
	// before counting.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: rounds}}
	get := func(path string) (int, error) {
		req, _ := http.NewRequest(http.MethodGet, ts.IngressURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	// Warm: every failure once, and a request that succeeds, so that
	// what lives as long as the stack (bus subscriptions, the masker's
	// and the policy's workers, the connection pools) exists before the
	// snapshot.
	for _, tt := range upstreamFailures {
		if status, err := get(tt.path); err != nil || status != tt.status {
			t.Fatalf("warming %s: %d %v", tt.path, status, err)
		}
	}
	ts.up.handle = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		failingUpstream(release)(w, r)
	}
	if status, err := get("/slow/ok"); err != nil || status != http.StatusOK {
		t.Fatalf("warming /slow/ok: %d %v", status, err)
	}
	client.CloseIdleConnections()
	// The recorder is not what is under test, and its own goroutines
	// would be counted: it chains the audit stream with an ordered
	// consumer that nats.go creates anew for each fetch (goroutines that
	// come and go every second, in the embedded server and the client),
	// and nats.go v1.55.0's ObjectStore.Put leaves, in about one put in a
	// few hundred, a goroutine blocked on a nil channel
	// (jetStream.resetPendingAcksOnReconnect: cleanupReplySub clears the
	// channel before the goroutine it started reads it). Its events wait
	// in the streams.
	ts.StopRecorder()
	before := goleak.IgnoreCurrent()

	var wg sync.WaitGroup
	errs := make(chan error, rounds*len(upstreamFailures))
	for range rounds {
		for _, tt := range upstreamFailures {
			wg.Go(func() {
				// 150 at once on a loaded machine: an upstream may not
				// fail within the 300 ms upstream timeout, and that is a
				// 504 instead of a 502. Either is a clean failure.
				if status, err := get(tt.path); err != nil || (status != tt.status && status != http.StatusGatewayTimeout) {
					errs <- fmt.Errorf("%s: %d %v, want %d", tt.path, status, err, tt.status)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	client.CloseIdleConnections()

	// Some goroutines end a little after the answers: the events of the
	// last requests are published, and their acks awaited, off the request
	// path, and the servers' connection goroutines see the closes. Give
	// them a few seconds (VerifyNone alone waits half a second). No
	// goroutine is ignored but those that were running before: the
	// failures' upstream connections are closed, not pooled, and the
	// agent's pooled ones were closed above.
	for deadline := time.Now().Add(5 * time.Second); goleak.Find(before) != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	goleak.VerifyNone(t, before)
}
