package detect

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// fake returns n characters from alphabet, the same for the same label: a
// made-up secret that looks random enough to pass a rule's entropy check.
func fake(label string, alphabet string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(label))
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	word     = alnum + "_"
	b64      = alnum + "+/"
	upper27  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerHex = "0123456789abcdef"
)

// sample is a made-up secret for a catalogue rule, in a realistic context:
// text holds the secret where it says {S}.
type sample struct {
	rule   string
	text   string
	secret string
}

func (s sample) input() string { return strings.ReplaceAll(s.text, "{S}", s.secret) }

// pemKey is a made-up PEM private key body.
func pemKey(label string, lines int) string {
	var b strings.Builder
	b.WriteString("-----BEGIN RSA PRIVATE KEY-----\n")
	for i := range lines {
		b.WriteString(fake(label+string(rune('a'+i)), b64, 64))
		b.WriteByte('\n')
	}
	b.WriteString("-----END RSA PRIVATE KEY-----")
	return b.String()
}

// samples has at least one made-up secret for each commonly leaked kind,
// each shaped to the catalogue rule's regex.
var samples = []sample{
	{"github-pat", "export GITHUB_TOKEN={S}\n", "ghp_" + fake("ghp", alnum, 36)},
	{"github-pat", `{"token": "{S}", "expires_at": null}`, "ghp_" + fake("ghp2", alnum, 36)},
	{"github-fine-grained-pat", "git clone https://x-access-token:{S}@github.com/acme/api.git", "github_pat_" + fake("gfg", word, 82)},
	{"github-oauth", `Authorization: token {S}`, "gho_" + fake("gho", alnum, 36)},
	{"github-app-token", `{"token":"{S}","expires_at":"2024-05-01T00:00:00Z"}`, "ghs_" + fake("ghs", alnum, 36)},
	{"aws-access-token", "[default]\naws_access_key_id = {S}\n", "AKIA" + fake("akia", upper27, 16)},
	{"aws-access-token", `"AccessKeyId": "{S}",`, "ASIA" + fake("asia", upper27, 16)},
	{"slack-bot-token", `SLACK_BOT={S}`, "xoxb-" + fake("xb1", "0123456789", 12) + "-" + fake("xb2", "0123456789", 13) + "-" + fake("xb3", alnum, 24)},
	{"slack-webhook-url", `curl -X POST -d '{"text":"hi"}' {S}`, "https://hooks.slack.com/services/T" + fake("sw1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8) + "/B" + fake("sw2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8) + "/" + fake("sw3", alnum, 24)},
	{"stripe-access-token", `stripe.api_key = "{S}"`, "sk_live_" + fake("stripe", alnum, 24)},
	{"gcp-api-key", `<script src="https://maps.googleapis.com/maps/api/js?key={S}"></script>`, "AIza" + fake("gcp", word+"-", 35)},
	{"private-key", "key: |\n{S}\n", pemKey("pem", 12)},
	{"private-key", `{"private_key": "{S}"}`, strings.ReplaceAll(pemKey("pemjson", 8), "\n", `\n`)},
	{"jwt", `Authorization: Bearer {S}`, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
	{"generic-api-key", `API_KEY = "{S}"`, fake("generic", alnum, 32)},
	{"generic-api-key", `{"client_secret": "{S}", "client_id": "42"}`, fake("generic2", alnum, 40)},
	{"openai-api-key", `OPENAI_API_KEY={S}`, "sk-proj-" + fake("oai1", word+"-", 74) + "T3BlbkFJ" + fake("oai2", word+"-", 74)},
	{"anthropic-api-key", `ANTHROPIC_API_KEY={S}`, "sk-ant-api03-" + fake("ant", word+"-", 93) + "AA"},
	{"npm-access-token", "//registry.npmjs.org/:_authToken={S}\n", "npm_" + fake("npm", "abcdefghijklmnopqrstuvwxyz0123456789", 36)},
	{"gitlab-pat", `PRIVATE-TOKEN: {S}`, "glpat-" + fake("glpat", word+"-", 20)},
	{"sendgrid-api-token", `SENDGRID={S}`, "SG." + fake("sg1", word+"-", 22) + "." + fake("sg2", word+"-", 43)},
	{"twilio-api-key", `twilio: {S}`, "SK" + fake("twilio", lowerHex, 32)},
	{"digitalocean-pat", `DO={S}`, "dop_v1_" + fake("do", lowerHex, 64)},
	{"heroku-api-key-v2", `HEROKU={S}`, "HRKU-AA" + fake("heroku", word+"-", 58)},
}

var (
	sharedOnce sync.Once
	sharedDet  *Detector
	sharedErr  error
)

// detector returns a Detector on the default catalogue, built once: New
// compiles a few hundred regular expressions.
func detector(t testing.TB) *Detector {
	t.Helper()
	sharedOnce.Do(func() { sharedDet, sharedErr = New(Options{}) })
	if sharedErr != nil {
		t.Fatalf("New: %v", sharedErr)
	}
	return sharedDet
}
