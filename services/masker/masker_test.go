package masker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/services/masker/corpus"
	"github.com/airlockhq/airlock/services/masker/detect"
	"github.com/airlockhq/airlock/services/masker/document"
)

var (
	sharedOnce sync.Once
	shared     *Masker
	sharedErr  error
)

// newMasker returns a masker configured by m. The detector, slow to build
// under the race detector, is built once and shared: m may change the
// salt and the field rules.
func newMasker(t testing.TB, m config.Masking) *Masker {
	t.Helper()
	sharedOnce.Do(func() {
		cfg := &config.Config{}
		cfg.ApplyDefaults()
		shared, sharedErr = New(cfg, slog.New(slog.DiscardHandler), nil)
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	mk := *shared
	if m.Salt != "" {
		mk.salt = []byte(m.Salt)
	}
	if m.Fields != nil {
		doc, err := document.New(m.Fields, mk.placeholder)
		if err != nil {
			t.Fatal(err)
		}
		mk.doc = doc
	}
	return &mk
}

// pat is a made-up GitHub token, different for each seed.
func pat(seed int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 9))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("ghp_")
	for range 36 {
		b = append(b, alnum[rng.IntN(len(alnum))])
	}
	return string(b)
}

func whole(direction, ct string, data []byte) maskstream.Piece {
	return maskstream.Piece{RequestID: "01JCZ7Z0K8Q0A4M6W2B8C9D0EF", Direction: direction, ContentType: ct, Final: true, Data: data}
}

func TestJSONFieldRulesKeepTheDocument(t *testing.T) {
	m := newMasker(t, config.Masking{Fields: []string{"password", "*.private_key", "$.db.dsn", "api_key"}})
	doc := []byte(`{
  "name": "ok",
  "user": {"Password": {"nested": [1, 2]}, "private_key": 42},
  "private_key": "top-level stays: the rule wants a parent",
  "db": {"dsn": "postgres://u:p@h/db", "port": 5432},
  "other": {"db": {"dsn": "not from the root"}},
  "list": [{"api_key": "k1"}, {"api_key": null}]
}`)
	ans, err := m.Handle(whole(maskstream.Response, "application/json", doc))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "name": "ok",
  "user": {"Password": "[MASKED:field:password]", "private_key": "[MASKED:field:*.private_key]"},
  "private_key": "top-level stays: the rule wants a parent",
  "db": {"dsn": "[MASKED:field:$.db.dsn]", "port": 5432},
  "other": {"db": {"dsn": "not from the root"}},
  "list": [{"api_key": "[MASKED:field:api_key]"}, {"api_key": "[MASKED:field:api_key]"}]
}`
	if string(ans.Data) != want {
		t.Errorf("masked:\n%s\nwant:\n%s", ans.Data, want)
	}
	var locs []string
	for _, f := range ans.Findings {
		locs = append(locs, f.Rule+"="+f.Location)
		if len(f.Fingerprint) != 64 {
			t.Errorf("finding %+v has no fingerprint", f)
		}
	}
	if got := strings.Join(locs, " "); got != "field:password=$.user.Password field:*.private_key=$.user.private_key field:$.db.dsn=$.db.dsn field:api_key=$.list[0].api_key field:api_key=$.list[1].api_key" {
		t.Errorf("findings: %s", got)
	}
}

func TestBase64ContentIsDecodedMaskedAndEncoded(t *testing.T) {
	m := newMasker(t, config.Masking{})
	secret := pat(1)
	file := "# settings\nGITHUB_TOKEN=" + secret + "\nregion=eu-west-1\n"
	enc := base64.StdEncoding.EncodeToString([]byte(file))
	doc, _ := json.Marshal(map[string]any{"type": "file", "encoding": "base64", "path": "settings.env",
		"content": enc[:60] + "\n" + enc[60:] + "\n"})
	ans, err := m.Handle(whole(maskstream.Response, "application/vnd.github+json", doc))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Content, Path string }
	if err := json.Unmarshal(ans.Data, &out); err != nil {
		t.Fatalf("masked answer is not JSON: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(out.Content, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(file, secret, "[MASKED:github-pat]", 1); string(raw) != want {
		t.Errorf("content = %q, want %q", raw, want)
	}
	if out.Path != "settings.env" || bytes.Contains(ans.Data, []byte(secret)) {
		t.Errorf("answer %s", ans.Data)
	}
	if len(ans.Findings) != 1 || ans.Findings[0].Rule != "github-pat" || ans.Findings[0].Location != "$.content (base64)@24" {
		t.Errorf("findings %+v", ans.Findings)
	}
}

func TestBrokenJSONIsMaskedAsText(t *testing.T) {
	m := newMasker(t, config.Masking{})
	secret := pat(2)
	doc := []byte(`{"content": "x", "token": "` + secret + `", oops`)
	ans, err := m.Handle(whole(maskstream.Response, "application/json", doc))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ans.Data, []byte(secret)) || !bytes.Contains(ans.Data, []byte("[MASKED:github-pat]")) {
		t.Errorf("broken JSON: %s", ans.Data)
	}
}

func TestFingerprintsAreSaltedAndStable(t *testing.T) {
	secret := pat(3)
	body := []byte("token " + secret + "\n")
	a := newMasker(t, config.Masking{Salt: "one"})
	b := newMasker(t, config.Masking{Salt: "two"})
	fa, _ := a.Handle(whole(maskstream.Request, "text/plain", body))
	fa2, _ := a.Handle(whole(maskstream.Request, "text/plain", body))
	fb, _ := b.Handle(whole(maskstream.Request, "text/plain", body))
	if len(fa.Findings) != 1 || len(fb.Findings) != 1 {
		t.Fatalf("findings %+v %+v", fa.Findings, fb.Findings)
	}
	if fa.Findings[0].Fingerprint != fa2.Findings[0].Fingerprint {
		t.Error("the same secret under the same salt has two fingerprints")
	}
	if fa.Findings[0].Fingerprint == fb.Findings[0].Fingerprint {
		t.Error("two salts give the same fingerprint")
	}
	if fa.Findings[0].Fingerprint != detect.Fingerprint([]byte("one"), []byte(secret)) {
		t.Error("the fingerprint is not the HMAC of the secret")
	}
	if fa.Findings[0].Location != "body@6" {
		t.Errorf("location %q", fa.Findings[0].Location)
	}
}

// TestLargeBodiesOverTheBus masks a body far larger than a piece through
// the real wire: secrets at every distance from the pieces' edges are
// masked, and the result is what masking the whole at once gives.
func TestLargeBodiesOverTheBus(t *testing.T) {
	m := newMasker(t, config.Masking{})
	c := overTheBus(t, m)
	c.Chunk, c.WholeLimit = 64<<10, 64<<10

	var b bytes.Buffer
	var secrets []string
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "line %d of an ordinary log, nothing to see\n", i)
		if i%(700+i%13) == 0 {
			secrets = append(secrets, pat(i))
			fmt.Fprintf(&b, "leaked: %s\n", secrets[len(secrets)-1])
		}
	}
	want, found := m.d.Mask(b.Bytes(), m.placeholder)
	r := c.NewReader(context.Background(), "demo", "id", "text/plain", io.NopCloser(bytes.NewReader(b.Bytes())))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("piecewise masking differs from whole masking (%d vs %d bytes)", len(got), len(want))
	}
	for _, s := range secrets {
		if bytes.Contains(got, []byte(s)) {
			t.Fatalf("secret %s… passed", s[:8])
		}
	}
	if len(r.Findings()) != len(found) || len(found) < len(secrets) {
		t.Errorf("%d findings over the bus, %d whole, %d secrets", len(r.Findings()), len(found), len(secrets))
	}
	for i, f := range r.Findings() {
		if want := fmt.Sprintf("body@%d", found[i].Start); f.Location != want {
			t.Fatalf("finding %d at %s, want %s", i, f.Location, want)
		}
	}
}

func TestContentsWrittenByAnAgentAreScanned(t *testing.T) {
	m := newMasker(t, config.Masking{})
	secret := pat(4)
	// What an agent writes through the contents API: base64, and no
	// "encoding" member saying so.
	ans, err := m.Handle(whole(maskstream.Request, "application/json", []byte(`{"message":"add","content":"`+base64.StdEncoding.EncodeToString([]byte("key="+secret))+`"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Findings) != 1 || ans.Findings[0].Rule != "github-pat" {
		t.Errorf("findings %+v", ans.Findings)
	}
}

// TestQuotedSecretsInsideJSONStrings: a gist's file or a commit's patch
// carries `NPM_TOKEN = \"npm_…\"`; the detectors' rules (gitleaks' as
// much as Airlock's, corpus.TestKnownGaps) want a quote after the secret,
// not a backslash, so the text pass misses it. The document pass reads the
// string's text and finds it.
func TestQuotedSecretsInsideJSONStrings(t *testing.T) {
	m := newMasker(t, config.Masking{})
	npm := corpus.Of("npm-access-token").Value
	doc := []byte(`{"files":{"publish.sh":{"filename":"publish.sh","content":"NPM_TOKEN = \"` + npm +
		`\"\nREGISTRY = \"https://registry.npmjs.org\"\n"}},"patches":["- a\n+ token: \"` + npm + `\"\n"]}`)
	ans, err := m.Handle(whole(maskstream.Response, "application/json", doc))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ans.Data, []byte(npm)) || !json.Valid(ans.Data) {
		t.Fatalf("masked: %s", ans.Data)
	}
	var got struct {
		Files   map[string]struct{ Content string }
		Patches []string
	}
	if err := json.Unmarshal(ans.Data, &got); err != nil {
		t.Fatal(err)
	}
	if c := got.Files["publish.sh"].Content; c != "NPM_TOKEN = \"[MASKED:npm-access-token]\"\nREGISTRY = \"https://registry.npmjs.org\"\n" {
		t.Errorf("content = %q", c)
	}
	if len(ans.Findings) != 2 || ans.Findings[0].Location != "$.files.publish.sh.content@13" || ans.Findings[1].Location != "$.patches[0]@14" {
		t.Errorf("findings %+v", ans.Findings)
	}
}

// BenchmarkHandle1MiBGitHubJSON is the masker's whole work on a megabyte
// of GitHub API JSON sent as one document: the document pass's prefilter,
// the document pass where it applies, and the text pass.
func BenchmarkHandle1MiBGitHubJSON(b *testing.B) {
	m := newMasker(b, config.Masking{})
	data := corpus.GitHubJSON(1<<20, 1, nil)
	p := whole(maskstream.Response, "application/json", data)
	b.Logf("document pass applies: %v", m.doc.Applies(data))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Handle(p); err != nil {
			b.Fatal(err)
		}
	}
}

// overTheBus serves m on an embedded NATS server, as the masker service
// does, and returns an ingress's client of it.
func overTheBus(t *testing.T, m *Masker) *maskstream.Client {
	t.Helper()
	s := bustest.Start(t)
	snc, _ := s.Connect(t, "masker")
	srv, err := maskstream.Serve(snc, m.Handle, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Drain() })
	cnc, _ := s.Connect(t, "ingress")
	c := maskstream.NewClient(cnc)
	c.Timeout = 10 * time.Second
	return c
}
