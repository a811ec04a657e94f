package stack

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHostileRequestsAreRefusedBeforeAnythingIsForwarded sends requests
// that smuggling and parser-confusion attacks use, on raw connections, and
// wants each refused by the HTTP layer with nothing reaching the upstream.
func TestHostileRequestsAreRefusedBeforeAnythingIsForwarded(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	tok := ts.token(t, "agents")
	host := strings.TrimPrefix(ts.IngressURL, "http://")
	auth := "Authorization: Bearer " + tok + "\r\n"
	tests := []struct {
		name, raw string
		status    int
	}{
		{"two content-lengths",
			"PUT /gh/upload/x HTTP/1.1\r\nHost: h\r\n" + auth + "Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", 400},
		{"transfer-encoding not chunked",
			"PUT /gh/upload/x HTTP/1.1\r\nHost: h\r\n" + auth + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"space before colon",
			"GET /gh/repos/acme/api HTTP/1.1\r\nHost: h\r\n" + auth + "Transfer-Encoding : chunked\r\n\r\n", 400},
		{"no host",
			"GET /gh/repos/acme/api HTTP/1.1\r\n" + auth + "\r\n", 400},
		{"oversized headers",
			"GET /gh/repos/acme/api HTTP/1.1\r\nHost: h\r\n" + auth + "X-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431},
		{"control character in path",
			"GET /gh/repos/ac\x01me/api HTTP/1.1\r\nHost: h\r\n" + auth + "\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", host, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}
}

// TestSmugglingAttemptsGainNothing: where Go's HTTP server accepts an
// ambiguous message as RFC 9112 allows (Transfer-Encoding over
// Content-Length, obs-fold unfolded), the gateway reads it one way and
// re-frames what it forwards, so a request hidden in a body is parsed as a
// request of its own, and authenticated as one.
func TestSmugglingAttemptsGainNothing(t *testing.T) {
	ts := startStack(t, 2*time.Second)
	tok := ts.token(t, "agents")
	host := strings.TrimPrefix(ts.IngressURL, "http://")
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	// A chunked body of zero length, then a request without a token that
	// a Content-Length-reading peer would take for body bytes.
	raw := "GET /gh/repos/acme/api HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + tok +
		"\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\nX-Folded: a\r\n b\r\n\r\n0\r\n\r\n" +
		"DELETE /gh/repos/acme/api HTTP/1.1\r\nHost: h\r\n\r\n"
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	first, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading first response: %v", err)
	}
	first.Body.Close()
	if first.StatusCode != 200 {
		t.Fatalf("first response = %d, want 200", first.StatusCode)
	}
	if got := ts.up.lastRequest(); got.Header.Get("X-Folded") != "a b" || got.Header.Get("Content-Length") != "" && got.ContentLength == 60 {
		t.Fatalf("upstream got X-Folded %q, Content-Length %d: want the unfolded header and no stale length", got.Header.Get("X-Folded"), got.ContentLength)
	}
	second, err := http.ReadResponse(br, nil)
	if err == nil {
		second.Body.Close()
		if second.StatusCode != http.StatusUnauthorized {
			t.Fatalf("hidden request answered %d, want 401: it carried no token", second.StatusCode)
		}
	}
	if n := ts.up.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
}
