package stack

import (
	"net/http"
	"testing"
	"time"
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
		handle: func(w http.ResponseWriter, r *http.Request) {
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
		},
	})
	tok := ts.token(t, "agents")
	tests := []struct {
		path   string
		status int
		code   string
	}{
		{"/slow/hang", http.StatusGatewayTimeout, "upstream_timeout"},
		{"/slow/reset", http.StatusBadGateway, "upstream_error"},
		{"/slow/garbage", http.StatusBadGateway, "upstream_error"},
	}
	for _, tt := range tests {
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
