package detect

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
	"github.com/airlockhq/airlock/services/masker/corpus"
)

// TestKeywordDFAMatchesGitleaksTrie checks that the keyword automaton reports
// exactly the occurrences that gitleaks' own prefilter reports on the
// ASCII-lower-cased input (gitleaks lower-cases Unicode, which moves byte
// offsets; it uses only which keywords occur), on the catalogue's keywords, for inputs long enough to
// take the four-lane path and short ones, with keywords placed across the
// lane boundaries.
func TestKeywordDFAMatchesGitleaksTrie(t *testing.T) {
	d := detector(t)
	keywords := d.keywordText
	trie := ahocorasick.NewTrieBuilder().AddStrings(keywords).Build()

	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{nil, []byte("a"), []byte("GHP_ghp_Ghp_"), corpus.GitHubJSON(40_000, 3, nil)}
	for range 20 {
		n := rng.IntN(20_000)
		b := make([]byte, n)
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				const alphabet = "aAkKeEyYpPiI_-.sStT0123 \n\"="
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		// Plant keywords, some in upper case, some across the quarters.
		for range 1 + n/200 {
			if n == 0 {
				break
			}
			k := []byte(keywords[rng.IntN(len(keywords))])
			if rng.IntN(2) == 0 {
				k = bytes.ToUpper(k)
			}
			at := rng.IntN(n)
			if rng.IntN(3) == 0 {
				at = max(0, n*(1+rng.IntN(3))/4-rng.IntN(len(k)+1))
			}
			copy(b[at:], k)
		}
		inputs = append(inputs, b)
	}
	for i, in := range inputs {
		got := d.keywords.find(in, nil)
		var want []hit
		lower := make([]byte, len(in))
		for i, c := range in {
			lower[i] = lowerASCII(c)
		}
		for _, m := range trie.Match(lower) {
			want = append(want, hit{pos: int(m.Pos()), kw: int(m.Pattern())})
		}
		sortHits(got)
		sortHits(want)
		if !slices.Equal(got, want) {
			t.Errorf("input %d (%d bytes): %d occurrences, gitleaks' trie %d", i, len(in), len(got), len(want))
		}
	}
}

func sortHits(h []hit) {
	slices.SortFunc(h, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.kw, b.kw))
	})
}

func BenchmarkKeywords1MiB(b *testing.B) {
	d := detector(b)
	data := benchJSON()
	b.SetBytes(int64(len(data)))
	var hits []hit
	for b.Loop() {
		hits = d.keywords.find(data, hits[:0])
	}
}

func TestKeywordsAny(t *testing.T) {
	k, err := NewKeywords([]string{`"password"`, `\"`, `"content"`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"user":"ann","PassWord":"x"}`, true},
		{`{"note":"say \"hi\""}`, true},
		{`{"CONTENT":"aGk="}`, true},
		{`{"passwords":"x"}`, false}, // the key is "passwords", not "password"
		{`{"user":"ann"}`, false},
		{`"content`, false},
		{``, false},
	} {
		if got := k.Any([]byte(tc.in)); got != tc.want {
			t.Errorf("Any(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if _, err := NewKeywords([]string{"Upper"}); err == nil {
		t.Error("NewKeywords accepted an upper-case word")
	}
}
