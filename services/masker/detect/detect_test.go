package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

func TestCatalogueLoaded(t *testing.T) {
	d := detector(t)
	ids := d.Rules()
	t.Logf("%d rules loaded from the gitleaks default catalogue", len(ids))
	if len(ids) < 200 {
		t.Fatalf("only %d rules loaded", len(ids))
	}
	for _, id := range []string{
		"github-pat", "github-fine-grained-pat", "github-oauth", "aws-access-token",
		"slack-bot-token", "slack-webhook-url", "stripe-access-token", "gcp-api-key",
		"private-key", "jwt", "generic-api-key", "openai-api-key", "anthropic-api-key",
		"npm-access-token", "gitlab-pat",
	} {
		if !slices.Contains(ids, id) {
			t.Errorf("rule %q not loaded", id)
		}
	}
	// Rules that need a file path are left out, as gitleaks' DetectBytes
	// leaves them out.
	for _, id := range []string{"pkcs12-file", "kubernetes-secret-yaml", "hashicorp-tf-password", "nuget-config-password", "freemius-secret-key"} {
		if slices.Contains(ids, id) {
			t.Errorf("path-scoped rule %q loaded", id)
		}
	}
}

// TestSamples masks the corpus's documents (secrets of more than 60 rules
// in JSON, text and source files): the engine finds exactly their secrets,
// and Mask replaces each with its placeholder.
func TestSamples(t *testing.T) {
	d := detector(t)
	for _, doc := range corpus.Documents() {
		t.Run(doc.Name, func(t *testing.T) {
			got := d.Find(doc.Data)
			if len(got) != len(doc.Secrets) {
				t.Fatalf("%d findings, want %d: %v", len(got), len(doc.Secrets), describe(doc.Data, got))
			}
			want, custom := string(doc.Data), string(doc.Data)
			for i, f := range got {
				s := doc.Secrets[i]
				if f.RuleID != s.Rule || string(doc.Data[f.Start:f.End]) != s.Value {
					t.Fatalf("found %s %q, want %s %q", f.RuleID, doc.Data[f.Start:f.End], s.Rule, s.Value)
				}
				want = strings.Replace(want, s.Value, "[MASKED:"+s.Rule+"]", 1)
				custom = strings.Replace(custom, s.Value, "<"+strings.ToUpper(s.Rule)+">", 1)
			}
			masked, fs := d.Mask(doc.Data, nil)
			if string(masked) != want {
				t.Errorf("Mask = %q, want %q", masked, want)
			}
			if !slices.Equal(fs, got) {
				t.Errorf("Mask findings %v, Find %v", fs, got)
			}
			if got, _ := d.Mask(doc.Data, func(id string) string { return "<" + strings.ToUpper(id) + ">" }); string(got) != custom {
				t.Errorf("custom placeholder not used: %q", got)
			}
		})
	}
}

func describe(data []byte, fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %q", f.RuleID, data[f.Start:f.End]))
	}
	return out
}

// TestExampleKeysAllowlisted checks gitleaks' allowlists as the engine
// applies them: AWS's documentation keys end in EXAMPLE, which the
// aws-access-token rule allows and the generic rule's stopwords cover;
// the global allowlist drops template placeholders; gcp-api-key allows
// keys published in Google's samples. gitleaks agrees on each.
func TestExampleKeysAllowlisted(t *testing.T) {
	d := detector(t)
	gl := gitleaksDetector(t)
	for _, in := range []string{
		"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
		`"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"`,
		"AKIAIOSFODNN7EXAMPLE",
		`password = "${{ secrets.DEPLOY_PASSWORD }}"`,
		`api_key: "{{ .Values.apiKey }}"`,
		`maps("AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ")`,
	} {
		if got := d.Find([]byte(in)); len(got) != 0 {
			t.Errorf("%q: found %v", in, describe([]byte(in), got))
		}
		if got := gl.DetectString(in); len(got) != 0 {
			t.Errorf("%q: gitleaks finds %d; the test's premise is wrong", in, len(got))
		}
	}
	// The same key without the EXAMPLE suffix is found.
	in := []byte("aws_access_key_id = AKIAIOSFODNN7EXAMPLF\n")
	if got := d.Find(in); len(got) != 1 || got[0].RuleID != "aws-access-token" {
		t.Errorf("AKIAIOSFODNN7EXAMPLF: found %v", describe(in, got))
	}
}

// TestMaskKeepsJSONValid masks secrets inside JSON strings, including ones
// next to escapes, and checks the result is valid JSON holding the
// placeholders.
func TestMaskKeepsJSONValid(t *testing.T) {
	d := detector(t)
	secret := func(rule string) string { return corpus.Of(rule).Value }
	secrets := []string{secret("github-pat"), secret("slack-webhook-url"), secret("github-oauth"), secret("npm-access-token"), secret("gitlab-pat"), secret("openai-api-key"), secret("anthropic-api-key")}
	doc := map[string]any{
		"repo":   "acme/api",
		"token":  secrets[0],
		"nested": map[string]any{"private_key": corpus.PEMKey("json", 10), "webhook": secrets[1]},
		"list":   []any{"x\"" + secrets[2] + "\\", "\u00e9 " + secrets[3] + "\n", `\` + secrets[4]},
		"env":    "OPENAI_API_KEY=" + secrets[5] + "\nANTHROPIC_API_KEY=" + secrets[6],
	}
	for _, indent := range []bool{false, true} {
		var in []byte
		var err error
		if indent {
			in, err = json.MarshalIndent(doc, "", "  ")
		} else {
			in, err = json.Marshal(doc)
		}
		if err != nil {
			t.Fatal(err)
		}
		masked, fs := d.Mask(in, nil)
		if len(fs) < 7 {
			t.Errorf("only %d findings: %v", len(fs), describe(in, fs))
		}
		if !json.Valid(masked) {
			t.Fatalf("masked JSON is invalid: %s", masked)
		}
		for _, s := range secrets {
			if bytes.Contains(masked, []byte(s)) {
				t.Errorf("secret %q survives", s)
			}
		}
		if bytes.Contains(masked, []byte("PRIVATE KEY-----\\n")) {
			t.Errorf("private key survives: %s", masked)
		}
		var back map[string]any
		if err := json.Unmarshal(masked, &back); err != nil {
			t.Fatal(err)
		}
		if back["token"] != "[MASKED:github-pat]" {
			t.Errorf("token = %v", back["token"])
		}
	}
}

func TestEscapeSpan(t *testing.T) {
	for _, tc := range []struct {
		data       string
		start, end int
		want       string
	}{
		{`"abc"`, 1, 4, "abc"},
		{`"ab\"c"`, 1, 4, `ab\"`}, // ends on a backslash: take the escaped quote
		{`"ab\"c"`, 4, 6, `\"c`},  // starts on the escaped byte: take the backslash
		{`"ab\\"`, 1, 4, `ab\\`},  // ends on an escaped backslash
		{`"a\u00e9b"`, 1, 5, `a\u00e9`},
		{`"a\u00e9b"`, 5, 9, `\u00e9b`},
		{`"a\\\"b"`, 5, 7, `\"b`}, // \\ then \": the quote's backslash is the third
		{`"a\\b"`, 4, 5, `b`},     // after an escaped backslash: nothing to widen
	} {
		s, e := escapeSpan([]byte(tc.data), tc.start, tc.end)
		if got := tc.data[s:e]; got != tc.want {
			t.Errorf("escapeSpan(%s, %d, %d) = %s, want %s", tc.data, tc.start, tc.end, got, tc.want)
		}
	}
}

// TestNoFindingsOnGitHubJSON runs the engine over generated GitHub API
// responses: repositories with every *_url, commits with shas, PGP
// signatures and signed payloads, issues with markdown bodies, users. None
// of it is a secret, and nothing is found.
func TestNoFindingsOnGitHubJSON(t *testing.T) {
	d := detector(t)
	for seed := range uint64(3) {
		data := corpus.GitHubJSON(256<<10, 100+seed, nil)
		if fs := d.Find(data); len(fs) != 0 {
			t.Errorf("seed %d: %d findings: %v", seed, len(fs), describe(data, fs[:min(len(fs), 10)]))
		}
	}
}

// TestSecretsNearWindowEdges moves secrets through every offset around the
// edges of the engine's windows: after a prefix that makes the generic
// rule's identifier 0..50 characters long (its before part is at most 50),
// with values 10..150 characters long (its secret's bounds), and at the
// very start and end of the input. gitleaks finds exactly what the engine
// finds.
func TestSecretsNearWindowEdges(t *testing.T) {
	d := detector(t)
	gl := gitleaksDetector(t)
	check := func(in string) {
		t.Helper()
		want := gl.DetectString(in)
		got := d.candidateSecrets([]byte(in))
		for _, f := range want {
			if !slices.Contains(got, f.RuleID+"\x00"+f.Secret) {
				t.Errorf("%q: gitleaks finds %s %q, the engine does not (it has %q)", in, f.RuleID, f.Secret, got)
			}
		}
		if len(want) == 0 && len(got) != 0 {
			t.Errorf("%q: the engine finds %q, gitleaks nothing", in, got)
		}
	}
	value := corpus.Fake("edge", corpus.Alnum, 151)
	for _, ident := range []int{0, 1, 2, 30, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 60} {
		for _, vlen := range []int{9, 10, 11, 12, 100, 149, 150, 151} {
			name := strings.Repeat("x", max(0, ident-6)) + "_token"
			if ident < 6 {
				name = "token"[:min(5, ident)]
			}
			check(fmt.Sprintf("%s = '%s'\n", name, value[:vlen]))
			check(fmt.Sprintf("  %s: %s", name, value[:vlen]))
		}
	}
	for _, s := range corpus.Secrets() {
		for pad := range 3 {
			// The secret alone, at the very start and end, and with one or
			// two bytes around it.
			check(strings.Repeat(" ", pad) + s.Value + strings.Repeat("\n", pad))
			check(strings.Repeat("a", pad) + s.Value + strings.Repeat("b", pad))
		}
	}
}

// TestMaxSecretLen checks the documented bound: a match of an unbounded
// rule up to MaxSecretLen bytes is found, a longer one is not.
func TestMaxSecretLen(t *testing.T) {
	d, err := New(Options{MaxSecretLen: 600})
	if err != nil {
		t.Fatal(err)
	}
	short, long := corpus.PEMKey("short", 6), corpus.PEMKey("long", 12)
	if len(short) > 600 || len(long) <= 600 {
		t.Fatalf("lengths %d, %d", len(short), len(long))
	}
	if fs := d.Find([]byte("x\n" + short + "\n")); len(fs) != 1 {
		t.Errorf("%d-byte key: %v", len(short), fs)
	}
	if fs := d.Find([]byte("x\n" + long + "\n")); len(fs) != 0 {
		t.Errorf("%d-byte key with MaxSecretLen 600: %v", len(long), fs)
	}
	if fs := detector(t).Find([]byte("x\n" + long + "\n")); len(fs) != 1 {
		t.Errorf("%d-byte key with the default: %v", len(long), fs)
	}
}

// TestExtraRulesAndAllowlists loads testdata/extra.toml: a rule of
// Airlock's own, a targeted allowlist on a catalogue rule, a stopword added
// to a catalogue rule, and a disabled catalogue rule.
func TestExtraRulesAndAllowlists(t *testing.T) {
	extra, err := os.ReadFile("testdata/extra.toml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Extra: string(extra)})
	if err != nil {
		t.Fatal(err)
	}
	internal := "alk_live_" + corpus.Fake("alk", corpus.LowerAlnum, 32)
	fixture := "ghp_" + strings.Repeat("0", 4) + corpus.Fake("fixture", corpus.Alnum, 32)
	pat := corpus.Of("github-pat").Value
	twilio := "twilio: " + corpus.Of("twilio-api-key").Value
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"AIRLOCK_TOKEN=" + internal + "\n", []string{"airlock-internal-token " + internal}},
		{"token=" + pat + "\n", []string{"github-pat " + pat}},
		{"GH=" + fixture + "\n", nil},                   // the targeted allowlist
		{"STRIPE=sk_live_testfixture0000000000\n", nil}, // the added stopword
		{twilio, nil}, // twilio-api-key is disabled
	} {
		var got []string
		for _, f := range d.Find([]byte(tc.in)) {
			got = append(got, f.RuleID+" "+tc.in[f.Start:f.End])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	// The default catalogue finds what the extra config allows.
	base := detector(t)
	for _, in := range []string{"GH=" + fixture + "\n", twilio} {
		if len(base.Find([]byte(in))) != 1 {
			t.Errorf("%q: the default catalogue does not find it", in)
		}
	}
	if slices.Contains(d.Rules(), "twilio-api-key") || !slices.Contains(d.Rules(), "airlock-internal-token") {
		t.Error("rules not disabled or added as configured")
	}
}

func TestExtraErrors(t *testing.T) {
	for _, tc := range []struct{ name, extra, want string }{
		{"bad regex", "[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\nkeywords = [\"x\"]\n", "missing closing )"},
		{"bad allowlist regex", "[[allowlists]]\nregexes = ['''[z-a]''']\n", "invalid character class range"},
		{"bad id", "[[rules]]\nid = 'say \"hi\"'\nregex = '''hi'''\n", "id must match"},
		{"extend path", "[extend]\npath = \"/etc/gitleaks.toml\"\n", "not supported"},
		{"composite", "[[rules]]\nid = \"a\"\nregex = '''a'''\n[[rules.required]]\nid = \"github-pat\"\n", "composite"},
		{"not toml", "[[rules]\n", "parsing toml"},
		{"unknown target", "[[allowlists]]\ntargetRules = [\"no-such-rule\"]\nregexes = ['''x''']\n", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Extra: tc.extra})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(Options{MaxSecretLen: -1}); err == nil {
		t.Error("negative MaxSecretLen accepted")
	}
}

// TestOverlaps checks how overlapping candidates resolve: a specific rule
// wins over the generic one on the same span, and a finding is widened to
// cover every candidate it overlaps.
func TestOverlaps(t *testing.T) {
	d := detector(t)
	pat := corpus.Of("github-pat").Value
	// generic-api-key and github-pat both match the same secret.
	in := []byte("GITHUB_API_KEY=" + pat + "\n")
	if fs := d.Find(in); len(fs) != 1 || fs[0].RuleID != "github-pat" || string(in[fs[0].Start:fs[0].End]) != pat {
		t.Errorf("same span: %v", describe(in, fs))
	}
	// The generic secret runs on past the token: one finding, the token's
	// rule, covering both.
	in = []byte("api_key = " + pat + ".x9Q2\n")
	fs := d.Find(in)
	if len(fs) != 1 || fs[0].RuleID != "github-pat" || string(in[fs[0].Start:fs[0].End]) != pat+".x9Q2" {
		t.Errorf("overlap: %v", describe(in, fs))
	}
	// resolve directly: earliest first, then specific, then longest.
	gen := slices.Index(d.Rules(), "generic-api-key")
	gh := slices.Index(d.Rules(), "github-pat")
	aws := slices.Index(d.Rules(), "aws-access-token")
	got := d.resolve([]candidate{{gen, 10, 30}, {gh, 10, 20}, {aws, 25, 40}, {gh, 50, 60}, {gen, 45, 55}})
	want := []Finding{{"github-pat", 10, 40}, {"generic-api-key", 45, 60}}
	if !slices.Equal(got, want) {
		t.Errorf("resolve = %v, want %v", got, want)
	}
}

func TestFingerprint(t *testing.T) {
	pat, other := corpus.Of("github-pat").Value, corpus.Of("github-oauth").Value
	a := Fingerprint([]byte("salt"), []byte(pat))
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("fingerprint %q is not 64 hex digits", a)
	}
	if a != Fingerprint([]byte("salt"), []byte(pat)) {
		t.Error("not deterministic")
	}
	if a == Fingerprint([]byte("pepper"), []byte(pat)) {
		t.Error("salt ignored")
	}
	if a == Fingerprint([]byte("salt"), []byte(other)) {
		t.Error("secret ignored")
	}
}

// TestShannonEntropy checks the engine's entropy against gitleaks'
// formula (rune frequencies over the length in bytes).
func TestShannonEntropy(t *testing.T) {
	ref := func(s string) float64 {
		counts := map[rune]int{}
		for _, r := range s {
			counts[r]++
		}
		e := 0.0
		for _, c := range counts {
			f := float64(c) / float64(len(s))
			e -= f * math.Log2(f)
		}
		return e
	}
	for _, s := range []string{"", "a", "aaaa", "ab", "abcd", corpus.Of("github-pat").Value, "héllo wörld", "\xff\xfe\xff", "日本語のテキスト"} {
		if got, want := shannonEntropy([]byte(s)), ref(s); math.Abs(got-want) > 1e-12 {
			t.Errorf("entropy(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	d := detector(t)
	data := corpus.GitHubJSON(64<<10, 9, []string{corpus.Of("github-pat").Value, corpus.Of("aws-access-token").Value})
	want := d.Find(data)
	done := make(chan []Finding)
	for range 4 {
		go func() { done <- d.Find(data) }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, want) {
			t.Error("concurrent Find differs")
		}
	}
}
