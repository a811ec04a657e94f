package detect

import (
	"fmt"
	"math"
)

// keywordDFA finds every occurrence of every keyword, overlapping ones
// included, ASCII case-insensitively: the Aho–Corasick automaton of the
// lower-cased keywords, made deterministic (every state has a transition on
// every byte class) so that each input byte costs one table load.
//
// gitleaks' own prefilter, github.com/BobuSumisu/aho-corasick, follows
// failure links at run time and needs the input lower-cased first; on a
// megabyte of JSON it alone ran at about 200 MB/s, the whole budget. This
// one reports the same occurrences (keywords_test.go compares the two) with
// case folding built into its byte classes.
type keywordDFA struct {
	// class maps a byte to its column; upper-case ASCII letters share
	// their lower-case letter's column. Column 0 is every byte that occurs
	// in no keyword.
	class  [256]uint8
	nclass int
	// trans holds, for each state's row and column, the next state's row
	// offset (state × nclass). Rows of states that end a keyword come
	// last, from firstOut on, so one comparison tells whether to report.
	trans    []uint32
	firstOut uint32
	// outs lists, for each reporting row (by (offset-firstOut)/nclass),
	// the keywords that end there: the state's own and its suffixes'.
	outs    [][]int32
	lens    []int
	longest int
}

// newKeywordDFA builds the automaton; keywords must be lower-case, distinct
// and non-empty.
func newKeywordDFA(keywords []string) (*keywordDFA, error) {
	k := &keywordDFA{nclass: 1, lens: make([]int, len(keywords))}
	for i, w := range keywords {
		if w == "" {
			return nil, fmt.Errorf("keyword %d is empty", i)
		}
		k.lens[i] = len(w)
		k.longest = max(k.longest, len(w))
		for j := 0; j < len(w); j++ {
			c := w[j]
			if 'A' <= c && c <= 'Z' {
				return nil, fmt.Errorf("keyword %q is not lower-case", w)
			}
			if k.class[c] == 0 {
				if k.nclass == math.MaxUint8 {
					return nil, fmt.Errorf("keywords use more than %d distinct bytes", math.MaxUint8-1)
				}
				k.class[c] = uint8(k.nclass)
				if 'a' <= c && c <= 'z' {
					k.class[c-'a'+'A'] = uint8(k.nclass)
				}
				k.nclass++
			}
		}
	}
	nc := k.nclass

	// The trie, on columns.
	type node struct {
		next []int32 // by column, -1 when absent
		out  []int32
		fail int32
	}
	newNode := func() node {
		n := node{next: make([]int32, nc)}
		for i := range n.next {
			n.next[i] = -1
		}
		return n
	}
	nodes := []node{newNode()}
	for i, w := range keywords {
		s := int32(0)
		for j := 0; j < len(w); j++ {
			c := k.class[w[j]]
			if nodes[s].next[c] < 0 {
				nodes = append(nodes, newNode())
				nodes[s].next[c] = int32(len(nodes) - 1)
			}
			s = nodes[s].next[c]
		}
		nodes[s].out = append(nodes[s].out, int32(i))
	}

	// Breadth first: failure links, inherited outputs, and the missing
	// transitions filled in from the failure state's.
	order := []int32{0}
	for c := range nc {
		if t := nodes[0].next[c]; t >= 0 {
			nodes[t].fail = 0
			order = append(order, t)
		} else {
			nodes[0].next[c] = 0
		}
	}
	for qi := 1; qi < len(order); qi++ {
		s := order[qi]
		nodes[s].out = append(nodes[s].out, nodes[nodes[s].fail].out...)
		for c := range nc {
			t := nodes[s].next[c]
			if t < 0 {
				nodes[s].next[c] = nodes[nodes[s].fail].next[c]
				continue
			}
			nodes[t].fail = nodes[nodes[s].fail].next[c]
			order = append(order, t)
		}
	}

	// Renumber: silent states first, reporting states last.
	rank := make([]int, len(nodes))
	next := 0
	for pass := range 2 {
		for s := range nodes {
			if (len(nodes[s].out) > 0) == (pass == 1) {
				rank[s] = next
				next++
			}
		}
		if pass == 0 {
			k.firstOut = uint32(next * nc)
		}
	}
	if uint64(len(nodes))*uint64(nc) > math.MaxUint32 {
		return nil, fmt.Errorf("keyword automaton too large: %d states", len(nodes))
	}
	k.trans = make([]uint32, len(nodes)*nc)
	k.outs = make([][]int32, len(nodes)-int(k.firstOut)/nc)
	for s := range nodes {
		row := rank[s] * nc
		for c := range nc {
			k.trans[row+c] = uint32(rank[nodes[s].next[c]] * nc)
		}
		if len(nodes[s].out) > 0 {
			k.outs[(uint32(row)-k.firstOut)/uint32(nc)] = nodes[s].out
		}
	}
	return k, nil
}

// find appends every keyword occurrence in data to hits, unordered.
//
// Each step of a walk waits for the table load of the step before. On a
// large input four walks over its four quarters run interleaved, so that
// the processor has four independent loads in flight: lane l reports the
// occurrences that end in its quarter, and starts walking longest-1 bytes
// before it, enough to have seen any keyword that ends there.
func (k *keywordDFA) find(data []byte, hits []hit) []hit {
	n := len(data)
	back := k.longest - 1
	if n < 1<<12 || n < 8*back {
		return k.walk(data, hits)
	}
	b1, b2, b3 := n/4, n/2, 3*n/4
	p0, p1, p2, p3 := 0, b1-back, b2-back, b3-back
	steps := min(b1-p0, b2-p1, b3-p2, n-p3)
	trans, class, firstOut := k.trans, &k.class, k.firstOut
	var s0, s1, s2, s3 uint32
	for i := range steps {
		s0 = trans[s0+uint32(class[data[p0+i]])]
		s1 = trans[s1+uint32(class[data[p1+i]])]
		s2 = trans[s2+uint32(class[data[p2+i]])]
		s3 = trans[s3+uint32(class[data[p3+i]])]
		if s0|s1|s2|s3 >= firstOut {
			// Rare: some lane may end a keyword here.
			if s0 >= firstOut {
				hits = k.report(hits, s0, p0+i)
			}
			if s1 >= firstOut && p1+i >= b1 {
				hits = k.report(hits, s1, p1+i)
			}
			if s2 >= firstOut && p2+i >= b2 {
				hits = k.report(hits, s2, p2+i)
			}
			if s3 >= firstOut && p3+i >= b3 {
				hits = k.report(hits, s3, p3+i)
			}
		}
	}
	// Finish each lane where the common stretch ended.
	hits = k.walkRange(data, s0, p0+steps, b1, hits)
	hits = k.walkRange(data, s1, p1+steps, b2, hits)
	hits = k.walkRange(data, s2, p2+steps, b3, hits)
	return k.walkRange(data, s3, p3+steps, n, hits)
}

// walk is find in one lane.
func (k *keywordDFA) walk(data []byte, hits []hit) []hit {
	return k.walkRange(data, 0, 0, len(data), hits)
}

// walkRange goes on from state s at data[from] up to data[to].
func (k *keywordDFA) walkRange(data []byte, s uint32, from, to int, hits []hit) []hit {
	trans, class, firstOut := k.trans, &k.class, k.firstOut
	for i := from; i < to; i++ {
		s = trans[s+uint32(class[data[i]])]
		if s >= firstOut {
			hits = k.report(hits, s, i)
		}
	}
	return hits
}

// report appends the keywords that end at data[i] in state s.
func (k *keywordDFA) report(hits []hit, s uint32, i int) []hit {
	for _, kw := range k.outs[(s-k.firstOut)/uint32(k.nclass)] {
		hits = append(hits, hit{pos: i + 1 - k.lens[kw], kw: int(kw)})
	}
	return hits
}

// Keywords tells whether any of a set of words occurs in a text, ASCII
// case-insensitively, in one pass (the automaton the detector's prefilter
// uses).
type Keywords struct{ dfa *keywordDFA }

// NewKeywords compiles words: lower-case, distinct, non-empty.
func NewKeywords(words []string) (*Keywords, error) {
	dfa, err := newKeywordDFA(words)
	if err != nil {
		return nil, err
	}
	return &Keywords{dfa: dfa}, nil
}

// Any reports whether one of the words occurs in data.
func (k *Keywords) Any(data []byte) bool {
	trans, class, firstOut := k.dfa.trans, &k.dfa.class, k.dfa.firstOut
	var s uint32
	for _, c := range data {
		if s = trans[s+uint32(class[c])]; s >= firstOut {
			return true
		}
	}
	return false
}
