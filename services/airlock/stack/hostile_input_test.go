package stack

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

// Short read timeouts, so that the slowloris tests take seconds.
const (
	testHeaderTimeout = time.Second
	testBodyTimeout   = time.Second
)

// dribble writes data to conn one byte every interval until it is all
// written, a write fails or stop is closed.
func dribble(conn net.Conn, data string, interval time.Duration, stop <-chan struct{}) {
	for i := range len(data) {
		if _, err := conn.Write([]byte{data[i]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
	}
}

// TestSlowlorisIsCutOff: an agent that sends its headers, or the inspected
// part of its body, a byte every 500 ms is cut off by the ingress's read
// timeouts — headers: the connection closed, after at most a plain 400
// from Go's server; body: a JSON 408, then the connection closed — within
// the configured timeout and a second, and the upstream gets nothing. A
// body larger than the inspect limit still streams on after the verdict,
// however long its rest takes.
func TestSlowlorisIsCutOff(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 2 * time.Second,
		ingress: fmt.Sprintf("  read_header_timeout: %s\n  body_timeout: %s\n  inspect_limit: 64KiB\n", testHeaderTimeout, testBodyTimeout)})
	tok := ts.token(t, "agents")
	host := strings.TrimPrefix(ts.IngressURL, "http://")
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		conn, err := net.DialTimeout("tcp", host, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	const slack = time.Second

	t.Run("headers", func(t *testing.T) {
		conn := dial(t)
		stop := make(chan struct{})
		defer close(stop)
		start := time.Now()
		go dribble(conn, "GET /gh/repos/acme/api HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer "+tok+"\r\n\r\n", 500*time.Millisecond, stop)
		_ = conn.SetReadDeadline(start.Add(testHeaderTimeout + 5*time.Second))
		got, err := io.ReadAll(conn)
		took := time.Since(start)
		if isTimeout(err) {
			t.Fatalf("the connection is still open after %s: the header timeout is %s", took, testHeaderTimeout)
		}
		// Go's server answers a request line cut off by the timeout with
		// a plain 400 and closes; a 408 or nothing would do as well.
		if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 400 ") && !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
			t.Fatalf("a slow header got an answer other than a refusal: %q", got)
		}
		if took < testHeaderTimeout-100*time.Millisecond || took > testHeaderTimeout+slack {
			t.Fatalf("the connection was closed after %s, want about the header timeout %s", took, testHeaderTimeout)
		}
	})

	for _, framing := range []string{"Content-Length: 100", "Transfer-Encoding: chunked"} {
		t.Run("body "+framing, func(t *testing.T) {
			conn := dial(t)
			head := "PUT /gh/upload/slow HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + tok + "\r\n" + framing + "\r\n\r\n"
			if _, err := conn.Write([]byte(head)); err != nil {
				t.Fatal(err)
			}
			body := strings.Repeat("x", 100)
			if strings.HasPrefix(framing, "Transfer") {
				body = "64\r\n" + body + "\r\n0\r\n\r\n"
			}
			stop := make(chan struct{})
			defer close(stop)
			start := time.Now()
			go dribble(conn, body, 500*time.Millisecond, stop)
			_ = conn.SetReadDeadline(start.Add(testBodyTimeout + 5*time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the answer after %s: %v", time.Since(start), err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408: %s", resp.StatusCode, data)
			}
			if r := decodeRefusal(t, resp, data); r.Error != "request_timeout" {
				t.Fatalf("refusal %+v, want request_timeout", r)
			}
			if took < testBodyTimeout-100*time.Millisecond || took > testBodyTimeout+slack {
				t.Fatalf("answered after %s, want about the body timeout %s", took, testBodyTimeout)
			}
			// The connection is closed at once, not kept while the rest
			// of the body trickles in.
			_ = conn.SetReadDeadline(time.Now().Add(slack))
			if n, err := br.Read(make([]byte, 1)); n > 0 || err == nil || isTimeout(err) {
				t.Fatalf("the connection stayed open after the 408 (read %d, %v)", n, err)
			}
			ts.events.waitFor(t, resp.Header.Get("X-Airlock-Request-Id"), "audit")
		})
	}
	if n := ts.up.calls.Load(); n != 0 {
		t.Fatalf("upstream calls = %d, want 0", n)
	}

	// The deadline covers the inspected part only: the rest of a larger
	// body may take longer than the body timeout.
	t.Run("rest of a large body streams on", func(t *testing.T) {
		const inspect, size = 64 << 10, 200 << 10
		got := make(chan int64, 1)
		ts.up.handle = func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			got <- n
		}
		conn := dial(t)
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		head := fmt.Sprintf("PUT /gh/upload/large HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", tok, size)
		if _, err := conn.Write([]byte(head + strings.Repeat("a", inspect+1))); err != nil {
			t.Fatal(err)
		}
		// The rest in three parts over 1.5 s, the last after the body
		// timeout would have expired had it still been set.
		rest := size - inspect - 1
		for i := range 3 {
			time.Sleep(500 * time.Millisecond)
			n := rest / 3
			if i == 2 {
				n = rest - 2*(rest/3)
			}
			if _, err := conn.Write([]byte(strings.Repeat("b", n))); err != nil {
				t.Fatalf("writing part %d: %v", i, err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		if n := <-got; n != size {
			t.Fatalf("upstream read %d bytes, want %d", n, size)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// llmConnection is an http connection whose POSTs a mask_secrets rule
// allows: the upstream is to get the body with its secrets masked.
const llmConnection = `  - name: llm
    type: http
    upstream: ${TEST_UPSTREAM}
    credential: {env: TEST_SERVICE_CREDENTIAL}
`

// graphQLReadsPolicy allows GraphQL reads and, on the llm connection,
// POSTs with their secrets masked; nothing else. A request misclassified as
// a GraphQL read would be forwarded, and show.
const graphQLReadsPolicy = `rules:
  - name: graphql-reads
    effect: allow
    when: request.path == "/graphql" && operation.action == "graphql.query" && !operation.write
  - name: prompts-masked
    effect: allow
    mask_secrets: true
    when: connection.name == "llm" && request.method == "POST"
`

// TestBodiesPastTheInspectLimit: where a limit applies to a body, one
// larger than the inspect limit is refused with JSON and never forwarded —
// a mask_secrets allow (413 body_too_large, whether or not the inspected
// part holds a secret: the rest, unseen, may), and a GraphQL request
// (403: it cannot be classified whole), whether framed by Content-Length
// or chunked. Bodies that stream through unlimited are
// TestHugeBodiesStreamThrough's.
func TestBodiesPastTheInspectLimit(t *testing.T) {
	const inspect = 64 << 10
	secret := corpus.Of("github-pat").Value
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     llmConnection,
		policy:          graphQLReadsPolicy,
		ingress:         fmt.Sprintf("  inspect_limit: %d\n", inspect),
	})
	tok := ts.token(t, "agents")
	pad := strings.Repeat("lorem ipsum ", 2*inspect/12)
	tests := []struct {
		name, path, body, code string
		status                 int
	}{
		{"mask_secrets, secret past the inspected part", "/llm/v1/messages",
			`{"prompt":"` + pad + ` GITHUB_TOKEN=` + secret + `"}`, "body_too_large", http.StatusRequestEntityTooLarge},
		{"mask_secrets, secret in the inspected part", "/llm/v1/messages",
			`{"prompt":"GITHUB_TOKEN=` + secret + ` ` + pad + `"}`, "body_too_large", http.StatusRequestEntityTooLarge},
		{"mask_secrets, no secret anywhere", "/llm/v1/messages",
			`{"prompt":"` + pad + `"}`, "body_too_large", http.StatusRequestEntityTooLarge},
		{"graphql query", "/gh/graphql",
			`{"query":"query { viewer { login } }","variables":{"pad":"` + pad + `"}}`, "denied", http.StatusForbidden},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s chunked=%v", tt.name, chunked), func(t *testing.T) {
				calls := ts.up.calls.Load()
				var body io.Reader = strings.NewReader(tt.body)
				if chunked {
					body = io.MultiReader(body) // no length: sent chunked
				}
				resp, data := ts.do(t, http.MethodPost, tt.path, tok, body)
				if ts.up.calls.Load() != calls {
					t.Fatalf("a body past the inspect limit was forwarded: %d %.200s", resp.StatusCode, data)
				}
				r := decodeRefusal(t, resp, data)
				if resp.StatusCode != tt.status || r.Error != tt.code {
					t.Fatalf("%d %+v, want %d %s", resp.StatusCode, r, tt.status, tt.code)
				}
				if strings.Contains(string(data), secret) {
					t.Fatal("the refusal echoes the secret")
				}
			})
		}
	}

	// Within the limit the same prompt passes, masked.
	var got []byte
	ts.up.handle = func(w http.ResponseWriter, r *http.Request) { got, _ = io.ReadAll(r.Body) }
	resp, data := ts.do(t, http.MethodPost, "/llm/v1/messages", tok, strings.NewReader(`{"prompt":"GITHUB_TOKEN=`+secret+`"}`))
	if resp.StatusCode != http.StatusOK || strings.Contains(string(got), secret) || !strings.Contains(string(got), "[MASKED:github-pat]") {
		t.Fatalf("small prompt: %d %s; upstream got %s", resp.StatusCode, data, got)
	}
}

// contentsOffMainPolicy is graphQLReadsPolicy and contents writes to a
// branch named, other than main.
const contentsOffMainPolicy = graphQLReadsPolicy + `  - name: contents-off-main
    effect: allow
    when: github.action == "contents.write" && github.branch != "" && github.branch != "main"
`

// TestMalformedJSONAndGraphQLAreRefused sends POST /graphql bodies that
// are broken or hide a mutation, JSON nested far past any parser's limit,
// and contents API writes whose body names main in a way a lax reader
// would miss (a second "branch", a "BRANCH", an escape), under a policy
// that allows GraphQL reads and contents writes off main only: each is
// refused with JSON within 2 s, nothing reaches the upstream (a request
// misclassified would), and the gateway still serves afterwards.
func TestMalformedJSONAndGraphQLAreRefused(t *testing.T) {
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, policy: contentsOffMainPolicy})
	tok := ts.token(t, "agents")
	const deleteRepo = `mutation { deleteRepository(input: {repositoryId: \"R_1\"}) { clientMutationId } }`
	deepQuery := `{"query":"query ` + strings.Repeat("{ a ", 10000) + strings.Repeat("} ", 10000) + `"}`
	deepJSON := strings.Repeat("[", 100000) + `"x"` + strings.Repeat("]", 100000)
	tests := []struct {
		name, method, path, body string
		// rule is the refusal's rule: "airlock.malformed-request" where
		// classification failed, "" where no rule allows.
		rule string
	}{
		{"graphql: broken JSON", "POST", "/gh/graphql", `{"query": "query { viewer { login } }"`, "airlock.malformed-request"},
		{"graphql: not JSON", "POST", "/gh/graphql", `query { viewer { login } }`, "airlock.malformed-request"},
		{"graphql: query is not a string", "POST", "/gh/graphql", `{"query": {"a": 1}}`, "airlock.malformed-request"},
		{"graphql: invalid query", "POST", "/gh/graphql", `{"query": "query { viewer { login }"}`, "airlock.malformed-request"},
		{"graphql: mutation after a read, unclosed", "POST", "/gh/graphql",
			`{"query": "query { viewer { login } } ` + strings.TrimSuffix(deleteRepo, " }") + `"}`, "airlock.malformed-request"},
		{"graphql: a read and a mutation under one key twice", "POST", "/gh/graphql",
			`{"query": "query { viewer { login } }", "query": "` + deleteRepo + `"}`, "airlock.malformed-request"},
		{"graphql: a mutation beside the read", "POST", "/gh/graphql",
			`{"query": "query Q { viewer { login } } ` + deleteRepo + `", "operationName": "Q"}`, ""},
		{"graphql: query nested 10,000 levels", "POST", "/gh/graphql", deepQuery, "airlock.malformed-request"},
		{"graphql: body nested 100,000 levels", "POST", "/gh/graphql", deepJSON, "airlock.malformed-request"},
		{"graphql: variables nested 100,000 levels", "POST", "/gh/graphql",
			`{"query": "query { viewer { login } }", "variables": {"v": ` + deepJSON + `}}`, "airlock.malformed-request"},
		{"contents: body nested 100,000 levels", "PUT", "/gh/repos/acme/api/contents/a.txt", deepJSON, ""},
		{"contents: branch nested 100,000 levels down", "PUT", "/gh/repos/acme/api/contents/a.txt",
			`{"message": "m", "content": "eA==", "branch": "main", "x": ` + deepJSON + `}`, ""},
		{"contents: broken JSON", "PUT", "/gh/repos/acme/api/contents/a.txt", `{"message": "m", "branch": "feature"`, ""},
		{"contents: branch given twice", "PUT", "/gh/repos/acme/api/contents/a.txt",
			`{"message": "m", "content": "eA==", "branch": "main", "branch": "feature"}`, "airlock.malformed-request"},
		{"contents: branch spelled in capitals too", "PUT", "/gh/repos/acme/api/contents/a.txt",
			`{"message": "m", "content": "eA==", "branch": "main", "BRANCH": "feature"}`, ""},
		{"contents: branch escaped", "PUT", "/gh/repos/acme/api/contents/a.txt",
			`{"message": "m", "content": "eA==", "br\u0061nch": "main"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := ts.up.calls.Load()
			start := time.Now()
			resp, data := ts.do(t, tt.method, tt.path, tok, strings.NewReader(tt.body))
			took := time.Since(start)
			if ts.up.calls.Load() != calls {
				t.Fatalf("forwarded (%d %.200s)", resp.StatusCode, data)
			}
			r := decodeRefusal(t, resp, data)
			if resp.StatusCode != http.StatusForbidden || r.Error != "denied" || r.Rule != tt.rule {
				t.Fatalf("%d %+v, want 403 denied by %q", resp.StatusCode, r, tt.rule)
			}
			if took > 2*time.Second {
				t.Fatalf("refused after %s", took)
			}
		})
	}

	// What is well formed still passes: a read, and a write off main.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/gh/graphql", `{"query": "query { viewer { login } }"}`},
		{"PUT", "/gh/repos/acme/api/contents/a.txt", `{"message": "m", "content": "eA==", "branch": "feature"}`},
	} {
		if resp, data := ts.do(t, tc.method, tc.path, tok, strings.NewReader(tc.body)); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, data)
		}
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// heapPeak samples the heap in use until stop is called, and returns the
// highest sample above the first.
func heapPeak() (stop func() uint64) {
	var base, peak uint64
	read := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	runtime.GC()
	base = read()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return max(peak, base) - base
	}
}

// TestDecompressionBombIsStreamedNotBuffered: the upstream answers a
// masked connection with 10 GiB of zeros gzipped (about 10 MiB), made as
// it is sent. The ingress decodes gzip to mask, and a streamed body has no
// size limit, so what bounds the bomb is that decoding follows the agent's
// reading: the agent reads 8 MiB, masked and decoded, in bounded time,
// the heap stays far below what the bomb expands to, and once the agent
// hangs up the ingress stops reading and the upstream is cut off long
// before it has sent the whole bomb.
func TestDecompressionBombIsStreamedNotBuffered(t *testing.T) {
	const bomb, read = 10 << 30, 8 << 20
	var produced atomic.Int64
	finished := make(chan struct{})
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		// The recorder's copy of the masked body (up to the inspect
		// limit) then rides inline in the response event: fetching a
		// larger one from the object store can hold up the stack's Close
		// by seconds, which is not what this test measures.
		ingress: "  inspect_limit: 64KiB\n",
		handle: func(w http.ResponseWriter, r *http.Request) {
			defer close(finished)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			n, _ := io.CopyN(zw, countReader{zeros{}, &produced}, bomb)
			if n == bomb {
				_ = zw.Close()
			}
		},
	})
	tok := ts.token(t, "agents")

	stop := heapPeak()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, ts.IngressURL+"/gh/bomb", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept-Encoding", "gzip")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" {
		resp.Body.Close()
		t.Fatalf("status %d, Content-Encoding %q: want 200, decoded", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	buf := make([]byte, 64<<10)
	var got int64
	for got < read {
		n, err := resp.Body.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				t.Fatalf("byte %d of the decoded bomb is %#x, want 0", got, b)
			}
		}
		got += int64(n)
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
	}
	resp.Body.Close()
	took := time.Since(start)

	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatalf("the upstream is still sending 5 s after the agent hung up (%d MiB decoded so far)", produced.Load()>>20)
	}
	peak := stop()
	t.Logf("read %d MiB in %s; upstream cut off %s later, having made %d MiB of the bomb; heap peak +%d MiB",
		got>>20, took.Round(time.Millisecond), (time.Since(start) - took).Round(time.Millisecond), produced.Load()>>20, peak>>20)
	if took > 8*time.Second {
		t.Errorf("reading %d MiB of the bomb took %s", got>>20, took)
	}
	if peak > 256<<20 {
		t.Errorf("the heap grew by %d MiB while %d MiB were read: the bomb is being buffered", peak>>20, got>>20)
	}
	if p := produced.Load(); p > 2<<30 {
		t.Errorf("the upstream made %d MiB of the bomb for %d MiB read: the ingress kept reading after the agent left", p>>20, got>>20)
	}
	ts.events.waitFor(t, resp.Header.Get("X-Airlock-Request-Id"), "response", "audit")
}

// countReader counts what is read through it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestInvalidUTF8 puts bytes that are not UTF-8 in the path (escaped and
// raw), in header values, in a JSON request body and in JSON and text
// response bodies on a masked connection: nothing crashes, every answer
// Airlock makes itself is valid JSON in valid UTF-8, every event still
// matches its schema, a method override spelled with invalid bytes is
// refused rather than forwarded, and a GitHub token after the invalid
// bytes is still masked (response) or found (request).
func TestInvalidUTF8(t *testing.T) {
	secret := corpus.Of("github-pat").Value
	bad := "\xff\xfe\xc3\x28\xed\xa0\x80" // invalid bytes, a bad sequence, an encoded surrogate
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		policy:          maskPolicy,
		handle: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/json":
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"note":"`+bad+`","token":"`+bad+secret+`"}`)
			case "/text":
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, "log "+bad+" GITHUB_TOKEN="+secret+"\n")
			case "/stream":
				// Larger than one piece: masked as a stream, the token
				// in the middle of invalid bytes.
				w.Header().Set("Content-Type", "text/plain")
				junk := strings.Repeat(bad, (3<<20)/len(bad))
				_, _ = io.WriteString(w, junk+" GITHUB_TOKEN="+secret+" "+junk)
			default:
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true}`)
			}
		},
	})
	tok := ts.token(t, "agents")
	host := strings.TrimPrefix(ts.IngressURL, "http://")
	// ownJSON checks an answer Airlock made itself.
	ownJSON := func(t *testing.T, resp *http.Response, data []byte) refusal {
		t.Helper()
		if !utf8.Valid(data) {
			t.Fatalf("Airlock's answer is not UTF-8: %q", data)
		}
		return decodeRefusal(t, resp, data)
	}
	// raw sends a request on a connection of its own, bytes as they are,
	// with the agent's token unless headers carry an Authorization.
	raw := func(t *testing.T, reqLine, headers string) (*http.Response, []byte) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", host, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if !strings.Contains(headers, "Authorization:") {
			headers += "Authorization: Bearer " + tok + "\r\n"
		}
		if _, err := io.WriteString(conn, reqLine+"\r\nHost: h\r\n"+headers+"Connection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}

	t.Run("path", func(t *testing.T) {
		for _, line := range []string{"GET /gh/repos/acme/%ff%fe HTTP/1.1", "GET /gh/repos/acme/\xff\xfe HTTP/1.1", "GET /gh%ff/repos HTTP/1.1"} {
			resp, data := raw(t, line, "")
			switch {
			case resp.StatusCode == http.StatusOK:
				// Forwarded as policy judged it: escaped, as received.
				if got := ts.up.lastRequest().URL.EscapedPath(); !strings.Contains(strings.ToLower(got), "%ff%fe") {
					t.Errorf("%q: the upstream got path %q", line, got)
				}
			case resp.StatusCode == http.StatusBadRequest && resp.Header.Get("X-Airlock-Request-Id") == "":
				// Go's server refused the request line.
			default:
				ownJSON(t, resp, data)
			}
			t.Logf("%q: %d", line, resp.StatusCode)
		}
	})

	t.Run("headers", func(t *testing.T) {
		calls := ts.up.calls.Load()
		resp, data := raw(t, "GET /gh/repos/acme/api HTTP/1.1", "X-Note: a"+bad+"b\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("invalid bytes in an ordinary header: %d %s", resp.StatusCode, data)
		}
		if got := ts.up.lastRequest().Header.Get("X-Note"); got != "a"+bad+"b" {
			t.Errorf("the upstream got X-Note %q, want the agent's bytes", got)
		}
		ts.events.waitFor(t, resp.Header.Get("X-Airlock-Request-Id"), "request", "verdict", "response", "audit")
		calls++

		// A method override policy cannot read exactly is refused.
		resp, data = raw(t, "GET /gh/repos/acme/api HTTP/1.1", "X-HTTP-Method-Override: DELETE"+bad+"\r\n")
		if r := ownJSON(t, resp, data); resp.StatusCode != http.StatusForbidden || r.Rule != "airlock.canonical-form" {
			t.Errorf("override with invalid bytes: %d %+v, want 403 airlock.canonical-form", resp.StatusCode, r)
		}
		// A token that is not UTF-8 is refused with JSON that is.
		resp, data = raw(t, "GET /gh/repos/acme/api HTTP/1.1", "Authorization: Bearer "+bad+"\r\n")
		if r := ownJSON(t, resp, data); resp.StatusCode != http.StatusUnauthorized || r.Error != "unauthenticated" {
			t.Errorf("token with invalid bytes: %d %+v, want 401", resp.StatusCode, r)
		}
		if n := ts.up.calls.Load(); n != calls {
			t.Errorf("upstream calls = %d, want %d", n, calls)
		}
	})

	t.Run("request body", func(t *testing.T) {
		calls := ts.up.calls.Load()
		body := `{"message":"` + bad + `","content":"` + bad + `GITHUB_TOKEN=` + secret + `"}`
		resp, data := ts.do(t, http.MethodPut, "/gh/upload/notes.json", tok, strings.NewReader(body))
		r := ownJSON(t, resp, data)
		if resp.StatusCode != http.StatusForbidden || r.Rule != "deny-outgoing-secrets" {
			t.Fatalf("%d %+v, want 403 by deny-outgoing-secrets", resp.StatusCode, r)
		}
		if strings.Contains(string(data), secret) {
			t.Error("the refusal echoes the secret")
		}
		if ts.up.calls.Load() != calls {
			t.Error("the body carrying a secret was forwarded")
		}
		id := resp.Header.Get("X-Airlock-Request-Id")
		ts.events.waitFor(t, id, "request", "verdict", "audit")
		if strings.Contains(string(ts.events.raw(t, id, "request")), secret) {
			t.Error("the request event carries the secret")
		}
		// Without the secret, the same bytes pass, unchanged.
		var got []byte
		serve := ts.up.handle
		ts.up.handle = func(w http.ResponseWriter, r *http.Request) { got, _ = io.ReadAll(r.Body) }
		defer func() { ts.up.handle = serve }()
		clean := `{"message":"` + bad + `"}`
		if resp, data := ts.do(t, http.MethodPut, "/gh/upload/notes.json", tok, strings.NewReader(clean)); resp.StatusCode != http.StatusOK || string(got) != clean {
			t.Errorf("clean body: %d %s; upstream got %q", resp.StatusCode, data, got)
		}
	})

	t.Run("response body", func(t *testing.T) {
		for _, path := range []string{"/gh/json", "/gh/text", "/gh/stream"} {
			resp, data := ts.do(t, http.MethodGet, path, tok, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
			}
			if strings.Contains(string(data), secret) || !strings.Contains(string(data), "[MASKED:github-pat]") {
				t.Errorf("%s: the token after the invalid bytes is not masked: %.300q", path, data)
			}
			if path == "/gh/json" && !json.Valid(data) {
				t.Errorf("%s: the masked JSON is no longer JSON: %q", path, data)
			}
			ts.events.waitFor(t, resp.Header.Get("X-Airlock-Request-Id"), "response", "audit")
		}
	})
	if l := ts.events.all(); strings.Contains(string(l), secret) {
		t.Error("the secret is on the bus")
	}
}
