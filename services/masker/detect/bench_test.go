package detect

import (
	"sync"
	"testing"

	gldetect "github.com/zricethezav/gitleaks/v8/detect"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

var (
	benchOnce  sync.Once
	benchInput []byte
)

// benchJSON is 1 MiB of GitHub-API-like JSON with a few secrets in it.
func benchJSON() []byte {
	benchOnce.Do(func() {
		var secrets []string
		for _, rule := range []string{"github-pat", "github-fine-grained-pat", "github-oauth", "github-app-token", "aws-access-token", "slack-bot-token"} {
			secrets = append(secrets, corpus.Of(rule).Value)
		}
		benchInput = corpus.GitHubJSON(1<<20, 1, secrets)
	})
	return benchInput
}

func BenchmarkMask1MiBGitHubJSON(b *testing.B) {
	d := detector(b)
	data := benchJSON()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, fs := d.Mask(data, nil); len(fs) == 0 {
			b.Fatal("no findings")
		}
	}
}

func BenchmarkGitleaks1MiBGitHubJSON(b *testing.B) {
	cfg, err := loadConfig("")
	if err != nil {
		b.Fatal(err)
	}
	gl := gldetect.NewDetector(cfg)
	data := benchJSON()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if fs := gl.DetectBytes(data); len(fs) == 0 {
			b.Fatal("no findings")
		}
	}
}

// BenchmarkMask1MiBKeywordlessRule measures what a rule without keywords
// costs: it runs over the whole input. Two such rules come from Extra: one
// whose regex starts with a literal (the regexp package then skips to each
// occurrence of it) and one that does not.
func BenchmarkMask1MiBKeywordlessRule(b *testing.B) {
	for _, tc := range []struct{ name, regex string }{
		{"literal-prefix", `acme_[0-9a-f]{40}`},
		{"no-literal", `\b[0-9A-Z]{24}\b`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := New(Options{Extra: "[[rules]]\nid = \"no-keywords\"\nregex = '''" + tc.regex + "'''\n"})
			if err != nil {
				b.Fatal(err)
			}
			data := benchJSON()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				d.Mask(data, nil)
			}
		})
	}
}
