package corpus_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/airlockhq/airlock/services/masker/corpus"
	"github.com/airlockhq/airlock/services/masker/detect"
)

var (
	airlockOnce sync.Once
	airlock     *detect.Detector
	airlockErr  error

	gitleaksOnce sync.Once
	gitleaks     *gldetect.Detector
	docs         []corpus.Doc
	glFound      [][]report.Finding // gitleaks' findings, for each of docs
	gitleaksErr  error
)

// setup builds Airlock's detector on the default catalogue, once.
func setup(t *testing.T) {
	t.Helper()
	airlockOnce.Do(func() { airlock, airlockErr = detect.New(detect.Options{}) })
	if airlockErr != nil {
		t.Fatalf("detect.New: %v", airlockErr)
	}
}

// setupGitleaks builds gitleaks' own detector (its default catalogue, read
// by gitleaks' code into a private viper instance, as its library users get
// it), generates the documents and runs gitleaks over them, once: gitleaks
// is slow, and two tests need its findings.
func setupGitleaks(t *testing.T) {
	t.Helper()
	setup(t)
	gitleaksOnce.Do(func() {
		v := viper.New()
		v.SetConfigType("toml")
		if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
			gitleaksErr = fmt.Errorf("reading the gitleaks default config: %w", err)
			return
		}
		var vc config.ViperConfig
		if err := v.Unmarshal(&vc); err != nil {
			gitleaksErr = fmt.Errorf("decoding the gitleaks default config: %w", err)
			return
		}
		cfg, err := vc.Translate()
		if err != nil {
			gitleaksErr = fmt.Errorf("translating the gitleaks default config: %w", err)
			return
		}
		gitleaks = gldetect.NewDetector(cfg)
		docs = corpus.Documents()
		for _, d := range docs {
			glFound = append(glFound, gitleaks.DetectBytes(d.Data))
		}
	})
	if gitleaksErr != nil {
		t.Fatal(gitleaksErr)
	}
}

// covers reports whether some finding of rule spans an occurrence of secret
// in data.
func covers(data []byte, fs []detect.Finding, rule, secret string) bool {
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(secret))
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(secret)
		for _, f := range fs {
			if f.RuleID == rule && f.Start <= start && end <= f.End {
				return true
			}
		}
		off = start + 1
	}
}

func describe(data []byte, fs []detect.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %.40q", f.RuleID, data[f.Start:f.End]))
	}
	return out
}

// TestDifferential checks that every secret gitleaks' own detector finds
// in the documents is masked by Airlock, and that Airlock finds it with the
// same rule.
func TestDifferential(t *testing.T) {
	setupGitleaks(t)
	disagree := map[string][]string{} // rule → what went wrong, where
	perRule := map[string]int{}
	total, agreed := 0, 0
	for i, d := range docs {
		masked, _ := airlock.Mask(d.Data, nil)
		found := airlock.Find(d.Data)
		for _, f := range glFound[i] {
			total++
			perRule[f.RuleID]++
			ok := true
			if bytes.Contains(masked, []byte(f.Secret)) {
				ok = false
				disagree[f.RuleID] = append(disagree[f.RuleID], fmt.Sprintf("%s: %.40q survives masking", d.Name, f.Secret))
			}
			if !covers(d.Data, found, f.RuleID, f.Secret) {
				ok = false
				disagree[f.RuleID] = append(disagree[f.RuleID], fmt.Sprintf("%s: %.40q is not a finding of the same rule; Airlock finds %v", d.Name, f.Secret, describe(d.Data, found)))
			}
			if ok {
				agreed++
			}
		}
	}
	for _, rule := range slices.Sorted(maps.Keys(disagree)) {
		t.Errorf("%s: %d of %d gitleaks findings disagree:\n\t%s", rule, len(disagree[rule]), perRule[rule], strings.Join(disagree[rule], "\n\t"))
	}
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.Kind]++
	}
	t.Logf("%d documents (%d JSON, %d text, %d source), %d gitleaks findings of %d rules; Airlock agrees on %d (%.1f %%)",
		len(docs), kinds[corpus.KindJSON], kinds[corpus.KindText], kinds[corpus.KindSource],
		total, len(perRule), agreed, 100*float64(agreed)/float64(max(total, 1)))
	if len(perRule) < 30 {
		t.Errorf("gitleaks finds secrets of only %d rules: %v", len(perRule), slices.Sorted(maps.Keys(perRule)))
	}
}

// TestEverySecretFound checks the corpus: each document's secrets are what
// gitleaks finds in it, no more and no less, with the same rules, and
// Airlock finds the same and masks exactly them. A secret gitleaks does not
// find is a badly made sample.
func TestEverySecretFound(t *testing.T) {
	setupGitleaks(t)
	kinds := map[corpus.Secret]map[string]bool{}
	for i, d := range docs {
		for _, s := range d.Secrets {
			if !slices.ContainsFunc(glFound[i], func(f report.Finding) bool { return f.RuleID == s.Rule && f.Secret == s.Value }) {
				t.Errorf("%s: gitleaks does not find the %s secret %.40q", d.Name, s.Rule, s.Value)
			}
		}
		for _, f := range glFound[i] {
			if !slices.Contains(d.Secrets, corpus.Secret{Rule: f.RuleID, Value: f.Secret}) {
				t.Errorf("%s: gitleaks finds an undeclared %s secret %q", d.Name, f.RuleID, f.Secret)
			}
		}
		// Airlock finds exactly the declared secrets, in order.
		found := airlock.Find(d.Data)
		var got []corpus.Secret
		for _, f := range found {
			got = append(got, corpus.Secret{Rule: f.RuleID, Value: string(d.Data[f.Start:f.End])})
		}
		if !slices.Equal(got, d.Secrets) {
			t.Errorf("%s: Airlock finds %v, want %d secrets: %v", d.Name, describe(d.Data, found), len(d.Secrets), d.Secrets)
		}
		want := string(d.Data)
		for _, s := range d.Secrets {
			want = strings.Replace(want, s.Value, detect.DefaultPlaceholder(s.Rule), 1)
		}
		if masked, _ := airlock.Mask(d.Data, nil); string(masked) != want {
			t.Errorf("%s: Mask differs from the document with its secrets replaced", d.Name)
		}
	}
	// Every secret of Secrets is in documents of all three kinds.
	for _, d := range docs {
		for _, s := range d.Secrets {
			for _, raw := range corpus.Secrets() {
				if raw.Rule == s.Rule && appearsAs(raw.Value, s.Value) {
					if kinds[raw] == nil {
						kinds[raw] = map[string]bool{}
					}
					kinds[raw][d.Kind] = true
				}
			}
		}
	}
	rules := map[string]bool{}
	for _, s := range corpus.Secrets() {
		rules[s.Rule] = true
		if len(kinds[s]) < 3 {
			t.Errorf("%s secret %.20q is in documents of kinds %v, want json, text and source", s.Rule, s.Value, slices.Sorted(maps.Keys(kinds[s])))
		}
	}
	if len(rules) < 40 {
		t.Errorf("Secrets covers %d rules, want at least 40", len(rules))
	}
	t.Logf("%d secrets of %d rules in %d documents", len(corpus.Secrets()), len(rules), len(docs))
}

// TestBenign checks that Airlock leaves fewer than 1 % of benign documents
// altered.
func TestBenign(t *testing.T) {
	setup(t)
	benign := corpus.Benign(500)
	altered := 0
	fired := map[string][]string{}
	for _, d := range benign {
		masked, fs := airlock.Mask(d.Data, nil)
		if bytes.Equal(masked, d.Data) {
			continue
		}
		altered++
		for _, f := range fs {
			fired[f.RuleID] = append(fired[f.RuleID], fmt.Sprintf("%s %.40q", d.Name, d.Data[f.Start:f.End]))
		}
	}
	for _, rule := range slices.Sorted(maps.Keys(fired)) {
		t.Logf("%s fired %d times: %s", rule, len(fired[rule]), strings.Join(fired[rule], "; "))
	}
	t.Logf("%d of %d benign documents altered (%.1f %%)", altered, len(benign), 100*float64(altered)/float64(len(benign)))
	if altered*100 >= len(benign) {
		t.Errorf("%d of %d benign documents altered, want fewer than 1 %%", altered, len(benign))
	}
}

// TestStreamSplit masks each JSON and text document through a
// MaskingWriter, with writes split inside each secret (after its first
// byte, in its middle, before its last byte), and checks the output is
// Mask's. A second pass puts StreamChunk bytes of filler before the
// document, less an offset into its first secret, and Reach bytes after,
// so that the writer's first chunk ends inside that secret.
func TestStreamSplit(t *testing.T) {
	setup(t)
	filler := []byte(strings.Repeat("lorem ipsum dolor sit amet\n", (detect.StreamChunk+airlock.Reach())/27+1))
	for _, d := range corpus.Documents() {
		if d.Kind != corpus.KindJSON && d.Kind != corpus.KindText {
			continue
		}
		var cuts []int
		for _, s := range d.Secrets {
			start, n := bytes.Index(d.Data, []byte(s.Value)), len(s.Value)
			cuts = append(cuts, start+1, start+n/2, start+n-1)
		}
		check := func(name string, data []byte, cuts []int) {
			t.Helper()
			want, wantF := airlock.Mask(data, nil)
			var out bytes.Buffer
			w := airlock.NewWriter(&out, nil)
			prev := 0
			for _, c := range append(slices.Sorted(slices.Values(cuts)), len(data)) {
				if c <= prev {
					continue
				}
				if _, err := w.Write(data[prev:c]); err != nil {
					t.Fatalf("%s: Write: %v", name, err)
				}
				prev = c
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%s: Close: %v", name, err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s: stream output differs from Mask", name)
			}
			if !slices.Equal(w.Findings(), wantF) {
				t.Errorf("%s: stream findings %v, Mask %v", name, w.Findings(), wantF)
			}
		}
		check(d.Name, d.Data, cuts)
		if len(d.Secrets) > 0 {
			first := cuts[1] // the middle of the first secret
			lead := detect.StreamChunk - first
			data := slices.Concat(filler[:lead], d.Data, filler[:airlock.Reach()])
			shifted := []int{lead}
			for _, c := range cuts {
				shifted = append(shifted, lead+c)
			}
			check(d.Name+" across a chunk", data, shifted)
		}
	}
}

// TestDeterministic checks that the generators return the same bytes on
// every call.
func TestDeterministic(t *testing.T) {
	a, b := corpus.Documents(), corpus.Documents()
	if !slices.EqualFunc(a, b, func(x, y corpus.Doc) bool {
		return x.Name == y.Name && bytes.Equal(x.Data, y.Data) && slices.Equal(x.Secrets, y.Secrets)
	}) {
		t.Error("Documents differs between calls")
	}
	if !slices.EqualFunc(corpus.Benign(30), corpus.Benign(30), func(x, y corpus.Doc) bool { return bytes.Equal(x.Data, y.Data) }) {
		t.Error("Benign differs between calls")
	}
	for _, ds := range [][]corpus.Doc{a, corpus.Benign(100)} {
		names := map[string]bool{}
		for _, d := range ds {
			if names[d.Name] {
				t.Errorf("name %q repeats", d.Name)
			}
			names[d.Name] = true
		}
	}
}

// appearsAs reports whether app is how raw appears in a document: the
// same, or with its lines escaped, indented or prefixed.
func appearsAs(raw, app string) bool {
	at := 0
	for _, line := range strings.Split(raw, "\n") {
		i := strings.Index(app[at:], line)
		if i < 0 {
			return false
		}
		at += i + len(line)
	}
	return true
}
