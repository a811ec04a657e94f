package detect

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unbounded is maxLen's answer for an expression with * or + or {n,}.
const unbounded = -1

// maxLen returns the most bytes re can match, or unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeBytes(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0
		}
		return utf8.RuneLen(min(re.Rune[len(re.Rune)-1], unicode.MaxRune))
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax
	case syntax.OpCapture:
		return maxLen(re.Sub[0])
	case syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return unbounded
	case syntax.OpRepeat:
		m := maxLen(re.Sub[0])
		if re.Max < 0 || m == unbounded {
			return unbounded
		}
		return m * re.Max
	case syntax.OpConcat:
		return seqMaxLen(re.Sub)
	case syntax.OpAlternate:
		best := 0
		for _, s := range re.Sub {
			m := maxLen(s)
			if m == unbounded {
				return unbounded
			}
			best = max(best, m)
		}
		return best
	}
	return unbounded
}

func seqMaxLen(seq []*syntax.Regexp) int {
	total := 0
	for _, s := range seq {
		m := maxLen(s)
		if m == unbounded {
			return unbounded
		}
		total += m
	}
	return total
}

// runeBytes is the longest UTF-8 encoding of r, or of any rune it folds to.
func runeBytes(r rune, fold bool) int {
	n := utf8.RuneLen(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			n = max(n, utf8.RuneLen(f))
		}
	}
	return max(n, 1)
}

// flatten returns re as a sequence: the elements of a concatenation, with
// capture groups around concatenations opened up and literals split into
// single runes, so that the keyword inside `\b(ghp_[0-9a-zA-Z]{36})` or
// `\.webhook\.office\.com` starts an element of its own. Captures do not
// change what an expression matches, only what it reports.
func flatten(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture:
		if re.Sub[0].Op == syntax.OpConcat || re.Sub[0].Op == syntax.OpLiteral {
			return flatten(re.Sub[0])
		}
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			out = append(out, flatten(s)...)
		}
		return out
	case syntax.OpLiteral:
		out := make([]*syntax.Regexp, len(re.Rune))
		for i, r := range re.Rune {
			out[i] = &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: []rune{r}}
		}
		return out
	}
	return []*syntax.Regexp{re}
}

// anchor is how a rule's regex relates to its keywords, when the regex
// allows the relation to be shown: re = before · from, where every match of
// from that contains a keyword at all begins with one (ASCII
// case-insensitively) and before matches at most beforeLen bytes. A match
// of re then starts at most beforeLen bytes before a keyword occurrence,
// and from, anchored at the occurrence, decides whether a match can use it.
type anchor struct {
	beforeLen int // unbounded when before has unbounded repetition
	before    *syntax.Regexp
	// from is the rest of the regex, starting at the keyword.
	from *syntax.Regexp
	// check is from cut short at its first unbounded repetition (see
	// prefixOf): a match of from always begins with a match of check, and
	// check is cheap to test. complete is set when check is from itself.
	check    *syntax.Regexp
	complete bool
	// fromLen and checkLen are the most bytes each can match; fromLen may
	// be unbounded.
	fromLen, checkLen int
}

// maxLits bounds the literal sets that findAnchors builds.
const maxLits = 512

// findAnchors returns anchors covering every match of re: one, or one per
// branch of an alternation that no single anchor covers (openai-api-key's
// two token formats). ok is false when some branch has none.
func findAnchors(re *syntax.Regexp, keywords []string) ([]anchor, bool) {
	if len(keywords) == 0 {
		return nil, false
	}
	return seqAnchors(flatten(re), keywords, 0)
}

func seqAnchors(seq []*syntax.Regexp, keywords []string, depth int) ([]anchor, bool) {
	if a, ok := seqAnchor(seq, keywords); ok {
		return []anchor{a}, true
	}
	if depth >= 2 {
		return nil, false
	}
	for i, el := range seq {
		alt := el
		for alt.Op == syntax.OpCapture {
			alt = alt.Sub[0]
		}
		if alt.Op != syntax.OpAlternate || len(alt.Sub) > 8 {
			continue
		}
		var all []anchor
		for _, branch := range alt.Sub {
			sub := slices.Concat(seq[:i], flatten(branch), seq[i+1:])
			as, ok := seqAnchors(sub, keywords, depth+1)
			if !ok {
				return nil, false
			}
			all = append(all, as...)
		}
		return all, true
	}
	return nil, false
}

// seqAnchor looks for the earliest split of seq that makes an anchor,
// preferring one whose before part is bounded.
func seqAnchor(seq []*syntax.Regexp, keywords []string) (anchor, bool) {
	longest := 0
	for _, k := range keywords {
		longest = max(longest, len(k))
	}
	var unboundedBefore *anchor
	for i := range seq {
		if isEmptyWidth(seq[i]) {
			continue
		}
		lits, ok := seqLits(seq[i:], longest)
		if !ok || !allKeywordLike(lits, keywords) {
			continue
		}
		from := &syntax.Regexp{Op: syntax.OpConcat, Sub: seq[i:]}
		check, complete := prefixOf(from)
		a := anchor{
			before:    &syntax.Regexp{Op: syntax.OpConcat, Sub: seq[:i]},
			beforeLen: seqMaxLen(seq[:i]),
			from:      from,
			check:     check,
			complete:  complete,
			fromLen:   maxLen(from),
			checkLen:  maxLen(check),
		}
		if a.beforeLen != unbounded {
			return a, true
		}
		if unboundedBefore == nil {
			unboundedBefore = &a
		}
	}
	if unboundedBefore != nil {
		return *unboundedBefore, true
	}
	return anchor{}, false
}

func isEmptyWidth(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		return true
	}
	return false
}

// allKeywordLike reports whether each literal begins with a keyword, or is
// itself the beginning of one, at least 4 bytes of it: `hooks.slack.com/` in a regex is "hooks",
// any byte, "slack", …, so its literal prefix is only "hooks". A match of
// such a regex that does not spell its keyword out is not anchored at a
// keyword occurrence, but gitleaks too runs a rule only where its keyword
// occurs.
func allKeywordLike(lits []string, keywords []string) bool {
	if len(lits) == 0 {
		return false
	}
	for _, l := range lits {
		if l == "" {
			return false
		}
		found := false
		for _, k := range keywords {
			if strings.HasPrefix(l, k) || len(l) >= 4 && strings.HasPrefix(k, l) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// seqLits returns a set of ASCII-lower-cased strings such that every match of
// the sequence begins with one of them (ok is false when it cannot say).
// It stops extending once every string is at least enough bytes long.
func seqLits(seq []*syntax.Regexp, enough int) ([]string, bool) {
	cur := []string{""}
	for _, re := range seq {
		if shortest(cur) >= enough {
			break
		}
		l, exact, ok := lits(re, enough)
		if !ok {
			break
		}
		cur = product(cur, l)
		if len(cur) > maxLits {
			return nil, false
		}
		if !exact {
			break
		}
	}
	return cur, true
}

func shortest(s []string) int {
	n := -1
	for _, x := range s {
		if n < 0 || len(x) < n {
			n = len(x)
		}
	}
	return n
}

func product(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	seen := make(map[string]bool, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			if !seen[x+y] {
				seen[x+y] = true
				out = append(out, x+y)
			}
		}
	}
	return out
}

// lits returns the strings re can begin with (lower-cased), whether they are
// exactly re's language (so a following element may extend them), and
// whether anything could be said at all.
func lits(re *syntax.Regexp, enough int) (set []string, exact, ok bool) {
	switch re.Op {
	case syntax.OpEmptyMatch,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true, true
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf {
				return nil, false, false
			}
			b.WriteByte(lowerASCII(byte(r)))
		}
		return []string{b.String()}, true, true
	case syntax.OpCharClass:
		var set []string
		seen := map[byte]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf || hi-lo > 16 {
				return nil, false, false
			}
			for r := lo; r <= hi; r++ {
				c := lowerASCII(byte(r))
				if !seen[c] {
					seen[c] = true
					set = append(set, string(c))
				}
			}
		}
		if len(set) > 16 {
			return nil, false, false
		}
		return set, true, true
	case syntax.OpCapture:
		return lits(re.Sub[0], enough)
	case syntax.OpConcat:
		cur := []string{""}
		for i, s := range re.Sub {
			if shortest(cur) >= enough {
				return cur, false, true
			}
			l, ex, ok := lits(s, enough)
			if !ok {
				if i == 0 {
					return nil, false, false
				}
				return cur, false, true
			}
			cur = product(cur, l)
			if len(cur) > maxLits {
				return nil, false, false
			}
			if !ex {
				return cur, false, true
			}
		}
		return cur, true, true
	case syntax.OpAlternate:
		exact = true
		for _, s := range re.Sub {
			l, ex, ok := lits(s, enough)
			if !ok {
				return nil, false, false
			}
			set = append(set, l...)
			exact = exact && ex
		}
		if len(set) > maxLits {
			return nil, false, false
		}
		return set, exact, true
	case syntax.OpQuest:
		l, ex, ok := lits(re.Sub[0], enough)
		if !ok {
			return nil, false, false
		}
		return append(l, ""), ex, true
	case syntax.OpPlus:
		l, _, ok := lits(re.Sub[0], enough)
		return l, false, ok
	case syntax.OpRepeat:
		if re.Min == 0 {
			return nil, false, false
		}
		l, ex, ok := lits(re.Sub[0], enough)
		return l, ex && re.Min == 1 && re.Max == 1, ok
	}
	return nil, false, false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// prefixOf returns a bounded expression p such that every match of re begins
// with a match of p, and whether p is re itself (complete). Unbounded
// repetitions are cut to their minimum and end the expression there:
// `ab+c` gives `ab`, `x{11,}y` gives `x{11}`.
func prefixOf(re *syntax.Regexp) (*syntax.Regexp, bool) {
	empty := &syntax.Regexp{Op: syntax.OpEmptyMatch}
	switch re.Op {
	case syntax.OpCapture:
		return prefixOf(re.Sub[0])
	case syntax.OpStar:
		return empty, false
	case syntax.OpPlus:
		sub, _ := prefixOf(re.Sub[0])
		return sub, false
	case syntax.OpQuest:
		sub, complete := prefixOf(re.Sub[0])
		if complete {
			return re, true
		}
		return &syntax.Regexp{Op: syntax.OpQuest, Flags: re.Flags, Sub: []*syntax.Regexp{sub}}, false
	case syntax.OpRepeat:
		if re.Min == 0 && re.Max < 0 {
			return empty, false
		}
		sub, complete := prefixOf(re.Sub[0])
		if !complete {
			if re.Min == 0 {
				return &syntax.Regexp{Op: syntax.OpQuest, Flags: re.Flags, Sub: []*syntax.Regexp{sub}}, false
			}
			return sub, false
		}
		if re.Max < 0 {
			return &syntax.Regexp{Op: syntax.OpRepeat, Flags: re.Flags, Min: re.Min, Max: re.Min, Sub: []*syntax.Regexp{sub}}, false
		}
		return re, true
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			p, complete := prefixOf(s)
			out = append(out, p)
			if !complete {
				return &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: out}, false
			}
		}
		return &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: out}, true
	case syntax.OpAlternate:
		all := true
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			p, complete := prefixOf(s)
			out = append(out, p)
			all = all && complete
		}
		return &syntax.Regexp{Op: syntax.OpAlternate, Flags: re.Flags, Sub: out}, all
	}
	return re, true
}

// cut returns a copy of re in which start-of-text (when start) and
// end-of-text (when end) can never match. Run on a window that begins or
// ends inside the input, the copy matches exactly what re matches there in
// the whole input: `^`, `\A`, `$` and `\z` cannot hold inside the window.
func cut(re *syntax.Regexp, start, end bool) *syntax.Regexp {
	switch {
	case start && re.Op == syntax.OpBeginText, end && re.Op == syntax.OpEndText:
		return &syntax.Regexp{Op: syntax.OpNoMatch, Flags: re.Flags}
	}
	if len(re.Sub) == 0 {
		return re
	}
	c := *re
	c.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, s := range re.Sub {
		c.Sub[i] = cut(s, start, end)
	}
	c.Sub0 = [1]*syntax.Regexp{}
	return &c
}

// has reports whether re contains any of ops.
func has(re *syntax.Regexp, ops ...syntax.Op) bool {
	if slices.Contains(ops, re.Op) {
		return true
	}
	for _, s := range re.Sub {
		if has(s, ops...) {
			return true
		}
	}
	return false
}

// reversed returns an expression that matches the reverses of the strings
// re matches (assertions aside, which the sieve ignores anyway).
func reversed(re *syntax.Regexp) *syntax.Regexp {
	c := *re
	c.Sub0 = [1]*syntax.Regexp{}
	switch re.Op {
	case syntax.OpLiteral:
		c.Rune = slices.Clone(re.Rune)
		slices.Reverse(c.Rune)
		return &c
	case syntax.OpConcat:
		c.Sub = make([]*syntax.Regexp, len(re.Sub))
		for i, s := range re.Sub {
			c.Sub[len(re.Sub)-1-i] = reversed(s)
		}
		return &c
	}
	if len(re.Sub) > 0 {
		c.Sub = make([]*syntax.Regexp, len(re.Sub))
		for i, s := range re.Sub {
			c.Sub[i] = reversed(s)
		}
	}
	return &c
}
