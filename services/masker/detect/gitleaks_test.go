package detect

import (
	"fmt"
	"math/rand/v2"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

var (
	glOnce sync.Once
	glDet  *gldetect.Detector
	glErr  error
)

// gitleaksDetector is gitleaks' own detector on the same catalogue, as its
// library users get it (no decoding, no path).
func gitleaksDetector(t testing.TB) *gldetect.Detector {
	t.Helper()
	glOnce.Do(func() {
		cfg, err := loadConfig("")
		if err != nil {
			glErr = err
			return
		}
		glDet = gldetect.NewDetector(cfg)
	})
	if glErr != nil {
		t.Fatal(glErr)
	}
	return glDet
}

// candidateSecrets returns every candidate the engine accepts in data,
// before overlapping candidates are merged, as "rule-id\x00secret".
func (d *Detector) candidateSecrets(data []byte) []string {
	s := &scratch{}
	d.candidates(data, s)
	var out []string
	for _, c := range s.cands {
		out = append(out, d.rules[c.rule].id+"\x00"+string(data[c.start:c.end]))
	}
	return out
}

// generate returns a random string that re (probably) matches: assertions
// are not honoured, so some strings match nothing, which is fine for a
// differential test.
func generate(re *syntax.Regexp, rng *rand.Rand, b *strings.Builder) {
	fold := re.Flags&syntax.FoldCase != 0
	pickRune := func(r rune) rune {
		if fold && rng.IntN(2) == 0 {
			if f := unicode.SimpleFold(r); f < unicode.MaxASCII {
				return f
			}
		}
		return r
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b.WriteRune(pickRune(r))
		}
	case syntax.OpCharClass:
		// Prefer ASCII members.
		var ascii []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1] && r < unicode.MaxASCII; r++ {
				if r >= ' ' || r == '\n' || r == '\t' {
					ascii = append(ascii, r)
				}
			}
		}
		if len(ascii) > 0 {
			b.WriteRune(ascii[rng.IntN(len(ascii))])
		} else if len(re.Rune) > 0 {
			b.WriteRune(re.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte(corpus.Alnum[rng.IntN(len(corpus.Alnum))])
	case syntax.OpCapture:
		generate(re.Sub[0], rng, b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			generate(s, rng, b)
		}
	case syntax.OpAlternate:
		generate(re.Sub[rng.IntN(len(re.Sub))], rng, b)
	case syntax.OpQuest:
		if rng.IntN(2) == 0 {
			generate(re.Sub[0], rng, b)
		}
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		lo, hi := 0, 5
		switch re.Op {
		case syntax.OpPlus:
			lo, hi = 1, 6
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 {
				hi = lo + 8
			}
		}
		for range lo + rng.IntN(hi-lo+1) {
			generate(re.Sub[0], rng, b)
		}
	}
}

// differentialCorpus builds inputs with, for every catalogue rule, strings
// generated from its regex in a few contexts, plus the corpus's secrets in
// GitHub JSON and in random text. (The corpus's documents, with the same
// secrets in context, have a differential test of their own in package
// corpus.)
func differentialCorpus(t testing.TB, perRule int) [][]byte {
	t.Helper()
	d := detector(t)
	rng := rand.New(rand.NewPCG(11, 13))
	contexts := []string{"%s\n", "token = \"%s\"\n", `{"value": "%s"}`, "x %s y", "\t%s;"}
	var docs [][]byte
	var doc strings.Builder
	for i, r := range d.rules {
		tree, err := syntax.Parse(r.re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		for range perRule {
			var b strings.Builder
			generate(tree, rng, &b)
			fmt.Fprintf(&doc, contexts[rng.IntN(len(contexts))], b.String())
		}
		if i%10 == 9 {
			docs = append(docs, []byte(doc.String()))
			doc.Reset()
		}
	}
	docs = append(docs, []byte(doc.String()))
	var all []string
	for _, s := range corpus.Secrets() {
		all = append(all, s.Value)
	}
	docs = append(docs, corpus.GitHubJSON(64<<10, 5, all))
	for seed := range uint64(4) {
		docs = append(docs, corpus.RandomText(rand.New(rand.NewPCG(seed, 99)), 16<<10, all))
	}
	docs = append(docs, []byte("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"))
	return docs
}

// contextKeywordRules are the catalogue rules whose regex does not contain
// their keyword: gitleaks runs them over a whole input that mentions the
// keyword anywhere (so sourcegraph-access-token flags every 40-hex-digit
// git sha in a document that says "sourcegraph" once), the engine only
// within the regex's length of a keyword occurrence. A deliberate
// difference; TestContextKeywordRules shows them found near their keyword.
var contextKeywordRules = []string{"airtable-personnal-access-token", "facebook-access-token", "sourcegraph-access-token"}

// TestGitleaksDifferential checks that every finding of gitleaks' own
// detector is found by the engine too (same rule id, same secret) and that
// Mask leaves none of those secrets in its output. The engine may find
// more: see the package documentation for where it differs on purpose.
func TestGitleaksDifferential(t *testing.T) {
	d := detector(t)
	gl := gitleaksDetector(t)
	found := map[string]bool{}
	extra := 0
	for i, doc := range differentialCorpus(t, 3) {
		want := gl.DetectBytes(doc)
		got := d.candidateSecrets(doc)
		masked, _ := d.Mask(doc, nil)
		for _, f := range want {
			found[f.RuleID] = true
			if slices.Contains(contextKeywordRules, f.RuleID) {
				continue
			}
			key := f.RuleID + "\x00" + f.Secret
			if !slices.Contains(got, key) {
				t.Errorf("doc %d: gitleaks finds %s %q, the engine does not", i, f.RuleID, f.Secret)
			}
			if strings.Contains(string(masked), f.Secret) {
				t.Errorf("doc %d: %s secret %q survives masking", i, f.RuleID, f.Secret)
			}
		}
		extra += len(got) - len(want)
	}
	t.Logf("gitleaks reported findings for %d rules; the engine had %d more candidates overall", len(found), extra)
	if len(found) < 100 {
		t.Errorf("the corpus exercises only %d rules", len(found))
	}
}

// TestContextKeywordRules shows the rules of contextKeywordRules finding
// their secrets next to their keyword, and not far from it.
func TestContextKeywordRules(t *testing.T) {
	d := detector(t)
	airtable := "pat" + corpus.Fake("air1", corpus.Alnum, 14) + "." + corpus.Fake("air2", corpus.LowerHex, 64)
	fb := "1234567890123456|" + corpus.Fake("fb", corpus.Alnum, 32)
	sg := corpus.Fake("sg", corpus.LowerHex, 40)
	for _, tc := range []struct{ rule, near, far string }{
		{"airtable-personnal-access-token", "AIRTABLE_PAT " + airtable, "airtable\n" + strings.Repeat("filler ", 20) + airtable},
		{"facebook-access-token", "facebook " + fb, "facebook\n" + strings.Repeat("filler ", 30) + fb},
		{"sourcegraph-access-token", "sourcegraph: " + sg, "sourcegraph\n" + strings.Repeat("filler ", 20) + sg},
	} {
		fs := d.Find([]byte(tc.near))
		if len(fs) != 1 || fs[0].RuleID != tc.rule {
			t.Errorf("%q: %v", tc.near, describe([]byte(tc.near), fs))
		}
		if fs := d.Find([]byte(tc.far)); len(fs) != 0 {
			t.Errorf("%q: %v", tc.far, describe([]byte(tc.far), fs))
		}
	}
}
