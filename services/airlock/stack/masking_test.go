package stack

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/gittest"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/services/masker/corpus"
)

// maskPolicy is testPolicy with the default pack's push protection.
const maskPolicy = testPolicy + `  - name: deny-outgoing-secrets
    effect: deny
    when: size(request.secrets) > 0
    reason: the request carries a secret
`

// secretBodies are the corpus's documents joined into one body of each
// kind, and every secret value they hold.
type secretBodies struct {
	json, text []byte
	// texts are the text and source documents, one by one.
	texts  [][]byte
	values []string
}

func newSecretBodies(t *testing.T) secretBodies {
	t.Helper()
	var b secretBodies
	var docs []json.RawMessage
	seen := map[string]bool{}
	for _, d := range corpus.Documents() {
		switch {
		case d.Kind == "json" && json.Valid(d.Data):
			docs = append(docs, d.Data)
		case d.Kind != "json":
			b.text = append(append(b.text, d.Data...), "\n\n"...)
			b.texts = append(b.texts, d.Data)
		default:
			continue
		}
		for _, s := range d.Secrets {
			if !seen[s.Value] {
				seen[s.Value] = true
				b.values = append(b.values, s.Value)
			}
		}
	}
	var err error
	if b.json, err = json.Marshal(docs); err != nil {
		t.Fatal(err)
	}
	if len(b.values) < 30 {
		t.Fatalf("the corpus has %d secrets, want 30 or more", len(b.values))
	}
	return b
}

// leaked returns the secrets found in data.
func (b secretBodies) leaked(data []byte) []string {
	var out []string
	for _, v := range b.values {
		if bytes.Contains(data, []byte(v)) {
			out = append(out, v[:min(12, len(v))]+"…")
		}
	}
	return out
}

// contentsAPI is a GitHub contents API answer for a file holding text.
func contentsAPI(text []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(text)
	var lines []string
	for len(enc) > 60 {
		lines, enc = append(lines, enc[:60]), enc[60:]
	}
	lines = append(lines, enc)
	doc, _ := json.Marshal(map[string]any{
		"type": "file", "encoding": "base64", "size": len(text), "name": "settings.env",
		"path": "deploy/settings.env", "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
		"content": strings.Join(lines, "\n") + "\n",
	})
	return doc
}

// largeText is about size bytes of log-like text with the corpus's text
// documents (secrets in their context) spread through it, one every 100
// KiB or so, so that some fall across the pieces the ingress sends.
func largeText(docs [][]byte, size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "2026-11-23T10:%02d:%02d level=info msg=\"request served\" n=%d\n", i/60%60, i%60, i)
		if i%1999 == 0 {
			b.Write(docs[(i/1999)%len(docs)])
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// TestSecretsInResponsesNeverReachTheAgent serves the corpus's secrets
// from the upstream in every shape the masker must see through — JSON,
// gzip, brotli and deflate, GitHub's base64 contents, a 6 MiB stream in
// small writes, server-sent events — and checks that none reaches the
// agent, the bus or a log line, and that the response events say what was
// masked.
func TestSecretsInResponsesNeverReachTheAgent(t *testing.T) {
	b := newSecretBodies(t)
	big := largeText(b.texts, 6<<20)
	logs := &logtest.Buffer{}
	write := func(w http.ResponseWriter, ct, enc string, data []byte) {
		w.Header().Set("Content-Type", ct)
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		_, _ = w.Write(data)
	}
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		policy:          maskPolicy,
		logTo:           logs,
		handle: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/json":
				write(w, "application/json; charset=utf-8", "", b.json)
			case "/gzip":
				write(w, "application/json", "gzip", compress(gzip.NewWriter, b.json))
			case "/br":
				write(w, "text/plain", "br", compress(func(w io.Writer) *brotli.Writer { return brotli.NewWriter(w) }, b.text))
			case "/deflate":
				write(w, "text/plain", "deflate", compress(zlib.NewWriter, b.text))
			case "/contents":
				write(w, "application/json", "", contentsAPI(b.text))
			case "/big":
				w.Header().Set("Content-Type", "text/plain")
				for rest := big; len(rest) > 0; {
					n := min(len(rest), 1500)
					_, _ = w.Write(rest[:n])
					w.(http.Flusher).Flush()
					rest = rest[n:]
				}
			case "/sse":
				w.Header().Set("Content-Type", "text/event-stream")
				for i, v := range b.values[:10] {
					fmt.Fprintf(w, "id: %d\nevent: log\ndata: {\"token\": %q}\n\n", i, v)
					w.(http.Flusher).Flush()
				}
			case "/zstd":
				write(w, "application/json", "zstd", []byte("(zstd frames)"))
			}
		},
	})
	tok := ts.token(t, "agents")

	for _, tc := range []struct {
		path string
		// decode returns what the agent sees as text.
		decode func(t *testing.T, body []byte) []byte
	}{
		{"/json", mustJSON},
		{"/gzip", mustJSON},
		{"/br", nil},
		{"/deflate", nil},
		{"/contents", decodeContents},
		{"/big", nil},
		{"/sse", nil},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			resp, body := ts.do(t, http.MethodGet, "/gh"+tc.path, tok, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %.300s", resp.StatusCode, body)
			}
			if enc := resp.Header.Get("Content-Encoding"); enc != "" {
				t.Errorf("Content-Encoding %q reached the agent: the body is sent decoded", enc)
			}
			text := body
			if tc.decode != nil {
				text = tc.decode(t, body)
			}
			if l := b.leaked(text); len(l) > 0 {
				t.Errorf("%d secrets reached the agent: %v", len(l), l)
			}
			if !bytes.Contains(text, []byte("[MASKED:")) {
				t.Errorf("no placeholder in what the agent got: %.300s", text)
			}
			id := resp.Header.Get("X-Airlock-Request-Id")
			ts.events.waitFor(t, id, "response", "audit")
			var re event.Response
			if err := json.Unmarshal(ts.events.raw(t, id, "response"), &re); err != nil {
				t.Fatal(err)
			}
			if !re.Masked || len(re.Findings) == 0 {
				t.Fatalf("response event: masked %v, %d findings", re.Masked, len(re.Findings))
			}
			for _, f := range re.Findings {
				if f.Rule == "" || f.Location == "" || len(f.Fingerprint) != 64 {
					t.Errorf("finding %+v lacks rule, location or fingerprint", f)
				}
			}
			var au event.Audit
			if err := json.Unmarshal(ts.events.raw(t, id, "audit"), &au); err != nil {
				t.Fatal(err)
			}
			if au.Findings != len(re.Findings) {
				t.Errorf("audit counts %d findings, the response event %d", au.Findings, len(re.Findings))
			}
			t.Logf("%s: %d bytes to the agent, %d findings", tc.path, len(body), len(re.Findings))
		})
	}

	t.Run("unknown encoding is refused", func(t *testing.T) {
		resp, body := ts.do(t, http.MethodGet, "/gh/zstd", tok, nil)
		if r := decodeRefusal(t, resp, body); resp.StatusCode != http.StatusBadGateway || r.Error != "uninspectable_body" {
			t.Errorf("zstd body: %d %+v, want 502 uninspectable_body", resp.StatusCode, r)
		}
	})

	if l := b.leaked(ts.events.all()); len(l) > 0 {
		t.Errorf("%d secrets are on the bus: %v", len(l), l)
	}
	if l := b.leaked([]byte(logs.String())); len(l) > 0 {
		t.Errorf("%d secrets are in the logs: %v", len(l), l)
	}
}

// compress encodes data with the writer newWriter makes.
func compress[W io.WriteCloser](newWriter func(io.Writer) W, data []byte) []byte {
	var b bytes.Buffer
	w := newWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

func mustJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("the masked JSON is not valid: %.300s", body)
	}
	return body
}

// decodeContents returns the file the contents API answer holds.
func decodeContents(t *testing.T, body []byte) []byte {
	t.Helper()
	var doc struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("the masked contents answer is not JSON: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(doc.Content, "\n", ""))
	if err != nil {
		t.Fatalf("the masked content is not base64: %v", err)
	}
	return append(raw, body...)
}

// TestMaskerDownWithholdsBodies stops the masker: a response that must be
// masked is refused with 503, not passed raw, and so is a request body
// that must be scanned; with the masker back, both pass.
func TestMaskerDownWithholdsBodies(t *testing.T) {
	b := newSecretBodies(t)
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		policy:          maskPolicy,
		handle: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b.json)
		},
	})
	tok := ts.token(t, "agents")
	ts.StopMasker()

	resp, body := ts.do(t, http.MethodGet, "/gh/repos/acme/api", tok, nil)
	if r := decodeRefusal(t, resp, body); resp.StatusCode != http.StatusServiceUnavailable || r.Error != "masker_unavailable" {
		t.Errorf("masker down, GET: %d %+v, want 503 masker_unavailable", resp.StatusCode, r)
	}
	if l := b.leaked(body); len(l) > 0 {
		t.Errorf("secrets passed while the masker was down: %v", l)
	}
	calls := ts.up.calls.Load()
	resp, body = ts.do(t, http.MethodPut, "/gh/upload/notes.txt", tok, strings.NewReader("just notes"))
	if r := decodeRefusal(t, resp, body); resp.StatusCode != http.StatusServiceUnavailable || r.Error != "masker_unavailable" {
		t.Errorf("masker down, PUT: %d %+v, want 503 masker_unavailable", resp.StatusCode, r)
	}
	if ts.up.calls.Load() != calls {
		t.Error("a request body the masker could not scan was forwarded")
	}

	if err := ts.StartMasker(); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, http.MethodGet, "/gh/repos/acme/api", tok, nil)
	if resp.StatusCode != http.StatusOK || len(b.leaked(body)) > 0 || !bytes.Contains(body, []byte("[MASKED:")) {
		t.Errorf("masker back: %d, %d leaked", resp.StatusCode, len(b.leaked(body)))
	}
}

// TestOutgoingSecretsAreRefused sends a secret in a request body: policy
// refuses it on the masker's findings, naming the rule and the place, the
// upstream never sees it, and the request event carries the body masked.
// TestBinaryRequestBodiesAreNotJournaled: a body the agent labels binary
// is not scanned (masking.scan_binary is off), so it is not journaled
// either: the request event says how many bytes it omits, and no event
// holds the secret in it.
func TestBinaryRequestBodiesAreNotJournaled(t *testing.T) {
	secret := corpus.Secrets()[0]
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, policy: maskPolicy})
	body := []byte("\x00\x01binary\x00GITHUB_TOKEN=" + secret.Value + "\x00")
	req, _ := http.NewRequest(http.MethodPut, ts.IngressURL+"/gh/upload/blob.bin", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ts.token(t, "agents"))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("binary PUT: %d", resp.StatusCode)
	}
	id := resp.Header.Get("X-Airlock-Request-Id")
	ts.events.waitFor(t, id, "request", "verdict", "response", "audit")
	var ev event.Request
	if err := json.Unmarshal(ts.events.raw(t, id, "request"), &ev); err != nil {
		t.Fatal(err)
	}
	if b := ev.Body; b == nil || b.Inline != nil || b.Object != "" || b.Omitted != int64(len(body)) || b.Size != int64(len(body)) {
		t.Errorf("request event body %+v: want none of the %d bytes carried, all omitted", b, len(body))
	}
	if bytes.Contains(ts.events.all(), []byte(secret.Value)) {
		t.Error("the secret in a binary body is on the bus")
	}
}

func TestOutgoingSecretsAreRefused(t *testing.T) {
	secret := corpus.Secrets()[0]
	ts := startStackWith(t, stackOptions{decisionTimeout: 5 * time.Second, policy: maskPolicy})
	tok := ts.token(t, "agents")
	calls := ts.up.calls.Load()

	body := "deploy notes\nGITHUB_TOKEN=" + secret.Value + "\n"
	resp, data := ts.do(t, http.MethodPut, "/gh/upload/notes.txt", tok, strings.NewReader(body))
	r := decodeRefusal(t, resp, data)
	if resp.StatusCode != http.StatusForbidden || r.Rule != "deny-outgoing-secrets" || !strings.Contains(r.Reason, secret.Rule) {
		t.Fatalf("secret in a PUT: %d %+v, want 403 by deny-outgoing-secrets naming %s", resp.StatusCode, r, secret.Rule)
	}
	if strings.Contains(string(data), secret.Value) {
		t.Error("the refusal echoes the secret")
	}
	if ts.up.calls.Load() != calls {
		t.Error("the request carrying a secret was forwarded")
	}
	id := resp.Header.Get("X-Airlock-Request-Id")
	ts.events.waitFor(t, id, "request", "verdict")
	var req event.Request
	if err := json.Unmarshal(ts.events.raw(t, id, "request"), &req); err != nil {
		t.Fatal(err)
	}
	if req.Body == nil || !req.Body.Masked || bytes.Contains(req.Body.Inline, []byte(secret.Value)) || len(req.Findings) == 0 {
		t.Errorf("request event: body %+v, findings %+v: want it masked, with findings", req.Body, req.Findings)
	}

	// A compressed body cannot be inspected: refused, not forwarded.
	zreq, _ := http.NewRequest(http.MethodPut, ts.IngressURL+"/gh/upload/notes.txt", bytes.NewReader(compress(gzip.NewWriter, []byte(body))))
	zreq.Header.Set("Authorization", "Bearer "+tok)
	zreq.Header.Set("Content-Encoding", "gzip")
	gz, err := http.DefaultClient.Do(zreq)
	if err != nil {
		t.Fatal(err)
	}
	gzBody, _ := io.ReadAll(gz.Body)
	gz.Body.Close()
	if r := decodeRefusal(t, gz, gzBody); gz.StatusCode != http.StatusUnsupportedMediaType || r.Error != "uninspectable_body" {
		t.Errorf("gzip request body: %d %+v, want 415 uninspectable_body", gz.StatusCode, r)
	}
	if ts.up.calls.Load() != calls {
		t.Error("a compressed request body was forwarded uninspected")
	}

	// The same request without the secret passes.
	resp, data = ts.do(t, http.MethodPut, "/gh/upload/notes.txt", tok, strings.NewReader("deploy notes\n"))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("clean PUT: %d %s", resp.StatusCode, data)
	}
}

// TestPushProtection pushes, with real git, a commit adding a private key:
// the gateway reads the packfile, refuses the push naming the file and the
// rule, and the upstream does not move. The same push without the key
// passes.
// pushStack is a git connection through the gateway, under a policy that
// refuses outgoing secrets, and an agent's clone of acme/api made through
// it.
type pushStack struct {
	ts              *testStack
	token           string
	local, agent    gittest.Git
	tmp, work, bare string
	// before is the upstream's main when the clone was made.
	before string
}

func startPushStack(t *testing.T) *pushStack {
	t.Helper()
	tmp, local, root, bare := seedRepo(t)
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     gitConnection,
		policy:          gitPolicy + maskPolicy[len("rules:\n"):],
		handle:          local.Backend(t, root, nil),
	})
	ps := &pushStack{ts: ts, token: ts.token(t, "agents"), local: local, tmp: tmp, work: filepath.Join(tmp, "work"), bare: bare}
	ps.agent = local.WithHeader("Authorization: Bearer " + ps.token)
	ps.agent.Run(t, tmp, "clone", ts.IngressURL+"/git/acme/api.git", ps.work)
	ps.before = ps.upstreamMain(t)
	return ps
}

// upstreamMain is where the upstream's main is.
func (ps *pushStack) upstreamMain(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(ps.local.Run(t, ps.tmp, "--git-dir", ps.bare, "rev-parse", "main"))
}

// privateKey is the corpus's private key.
func privateKey(t *testing.T) corpus.Secret {
	t.Helper()
	for _, s := range corpus.Secrets() {
		if s.Rule == "private-key" {
			return s
		}
	}
	t.Fatal("the corpus has no private-key secret")
	return corpus.Secret{}
}

func TestPushProtection(t *testing.T) {
	ps := startPushStack(t)
	ts, agent, work, before := ps.ts, ps.agent, ps.work, ps.before
	key := privateKey(t)
	writeFile(t, filepath.Join(work, "deploy", "prod.pem"), key.Value+"\n")
	agent.Run(t, work, "add", "deploy/prod.pem")
	agent.Run(t, work, "commit", "-m", "add the deploy key")
	mark := event.NewID()
	out, err := agent.Try(work, "push", "origin", "main")
	if err == nil {
		t.Fatalf("the push adding a private key succeeded:\n%s", out)
	}
	if got := ps.upstreamMain(t); got != before {
		t.Errorf("upstream main moved to %s despite the refusal", got)
	}
	rpc := checkPush(t, "secret", ts.events.exchanges(t, mark, event.NewID()), event.EffectDeny, "deny-outgoing-secrets", "refs/heads/main", "update refs/heads/main")
	if rpc != nil {
		if !strings.Contains(rpc.audit.Reason, "private-key at push:deploy/prod.pem") {
			t.Errorf("the refusal does not name the rule and the file: %q", rpc.audit.Reason)
		}
		if rpc.response.Forwarded {
			t.Error("the refused push was forwarded")
		}
		// The event carries the commands and the pack header, not the
		// pack's objects, where the key is.
		if b := rpc.request.Body; b == nil || b.Omitted == 0 || int64(len(b.Inline))+b.Omitted != b.Size ||
			!bytes.Contains(b.Inline, []byte("refs/heads/main")) || !bytes.Equal(b.Inline[len(b.Inline)-12:len(b.Inline)-8], []byte("PACK")) {
			t.Errorf("the refused push's request event body: %+v", b)
		}
	}

	// Take the key out again: the push passes.
	agent.Run(t, work, "reset", "--hard", "HEAD~1")
	writeFile(t, filepath.Join(work, "deploy", "README"), "keys live in the vault\n")
	agent.Run(t, work, "add", "deploy/README")
	agent.Run(t, work, "commit", "-m", "deploy notes")
	agent.Run(t, work, "push", "origin", "main")
	if got, want := ps.upstreamMain(t), strings.TrimSpace(agent.Run(t, work, "rev-parse", "HEAD")); got != want {
		t.Errorf("upstream main = %s after the clean push, want %s", got, want)
	}
}

// TestOutgoingSecretsMaskedWhereARuleSaysSo: a rule may allow a request
// with its secrets masked (a prompt to an LLM API) instead of refusing it:
// the upstream gets the masked body. A body larger than what was inspected
// cannot be masked whole and is refused.
func TestOutgoingSecretsMaskedWhereARuleSaysSo(t *testing.T) {
	secret := corpus.Of("github-pat")
	var got []byte
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections: `  - name: llm
    type: http
    upstream: ${TEST_UPSTREAM}
    credential: {env: TEST_SERVICE_CREDENTIAL}
`,
		policy: `rules:
  - name: prompts-masked
    effect: allow
    mask_secrets: true
    when: connection.name == "llm" && request.method == "POST"
  - name: deny-outgoing-secrets
    effect: deny
    when: connection.name != "llm" && size(request.secrets) > 0
`,
		handle: func(w http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		},
	})
	tok := ts.token(t, "agents")
	prompt := `{"model":"m","messages":[{"role":"user","content":"why does GITHUB_TOKEN=` + secret.Value + ` fail?"}]}`
	resp, data := ts.do(t, http.MethodPost, "/llm/v1/messages", tok, strings.NewReader(prompt))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("prompt: %d %s", resp.StatusCode, data)
	}
	if bytes.Contains(got, []byte(secret.Value)) || !bytes.Contains(got, []byte("GITHUB_TOKEN=[MASKED:github-pat] fail?")) || !json.Valid(got) {
		t.Errorf("the upstream got %s", got)
	}

	// Above the inline limit (64 KiB) the masked copy goes through the
	// object store, and policy checks its digest.
	medium := strings.Replace(prompt, "fail?", "fail? "+strings.Repeat("y", 200<<10), 1)
	resp, data = ts.do(t, http.MethodPost, "/llm/v1/messages", tok, strings.NewReader(medium))
	if resp.StatusCode != http.StatusOK || bytes.Contains(got, []byte(secret.Value)) || len(got) < 200<<10 {
		t.Errorf("200 KiB prompt: %d %.200s; upstream got %d bytes", resp.StatusCode, data, len(got))
	}

	// Past the inspect limit (1 MiB) the body cannot be masked whole.
	calls := ts.up.calls.Load()
	big := strings.Replace(prompt, "fail?", "fail? "+strings.Repeat("x", 2<<20), 1)
	resp, data = ts.do(t, http.MethodPost, "/llm/v1/messages", tok, strings.NewReader(big))
	if r := decodeRefusal(t, resp, data); resp.StatusCode != http.StatusRequestEntityTooLarge || r.Error != "body_too_large" {
		t.Errorf("large prompt: %d %+v, want 413 body_too_large", resp.StatusCode, r)
	}
	if ts.up.calls.Load() != calls {
		t.Error("a body that could not be masked whole was forwarded")
	}
}

// TestMaskerGoneMidStreamCutsTheResponse: the masker stops while a large
// response is streaming; the agent's transfer is cut off (an error, not a
// clean end), and nothing it received after the cut is unmasked.
func TestMaskerGoneMidStreamCutsTheResponse(t *testing.T) {
	b := newSecretBodies(t)
	big := largeText(b.texts, 12<<20)
	proceed := make(chan struct{})
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		// A piece in flight when the masker stops is never answered: the
		// ingress gives up after this.
		maskTimeout: 2 * time.Second,
		policy:      maskPolicy,
		handle: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			// The first 5 MiB, then wait for the masker to be gone.
			_, _ = w.Write(big[:5<<20])
			w.(http.Flusher).Flush()
			<-proceed
			_, _ = w.Write(big[5<<20:])
		},
	})
	tok := ts.token(t, "agents")
	req, _ := http.NewRequest("GET", ts.IngressURL+"/gh/logs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatalf("reading the start: %v", err)
	}
	ts.StopMasker()
	close(proceed)
	rest, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the transfer ended cleanly after the masker stopped (%d more bytes): a cut-off body must look cut off", len(rest))
	}
	if got := append(first, rest...); len(b.leaked(got)) > 0 {
		t.Errorf("secrets passed after the masker stopped: %v", b.leaked(got))
	}
	t.Logf("received %d of %d bytes, then: %v", len(first)+len(rest), len(big), err)
}
