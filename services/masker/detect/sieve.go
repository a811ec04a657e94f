package detect

import (
	"math/bits"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// sieve is a cheap first test of an anchored regex at a keyword occurrence:
// it says "no match" only when the regex cannot match there, and otherwise
// "maybe". It reads the regex byte by byte and tracks, as the bits of one
// machine word, how many bytes from the occurrence each way through the
// regex may have consumed so far; a character class costs a table lookup
// per byte, a repetition a shift per step. Most keyword occurrences in real
// text (the "api" in every "https://api.github.com/…") die within a few
// bytes, and the sieve answers those in tens of nanoseconds, where the
// standard library's regexp engine, resetting its state for each call,
// takes microseconds.
//
// It over-approximates: assertions (`\b`, `$`) always hold; a character
// class that holds non-ASCII runes accepts every non-ASCII rune. It gives up
// ("maybe") past 63 bytes.
type sieve struct {
	op       sieveOp
	set      byteSet // opSet: the bytes accepted
	wide     bool    // opSet: accepts non-ASCII runes (any byte from 0x80 starts one)
	min, max int     // opSet, opRepeat: repetition bounds
	subs     []*sieve
	lits     []string // opLits, lower-case
	first    byteSet  // opLits, opAlt: the bytes a match may begin with
	hasFirst bool     // opAlt: first is known (no branch may match empty)
	// bytewise: the sieve reads reversed text, where a multi-byte rune's
	// bytes come last byte first; it then takes each byte as a step, and a
	// class with non-ASCII runes up to four times as many steps.
	bytewise bool
}

type sieveOp uint8

const (
	opPass   sieveOp = iota // consumes nothing
	opFail                  // never matches
	opSet                   // min..max runes each in set
	opConcat                // subs in turn
	opAlt                   // any of subs
	opRepeat                // subs[0], min..max times
	opLits                  // any of lits, ASCII case-insensitively
	opGiveUp                // unknown: say maybe
)

type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// newSieve translates re.
func newSieve(re *syntax.Regexp) *sieve {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return &sieve{op: opPass}
	case syntax.OpNoMatch:
		return &sieve{op: opFail}
	case syntax.OpLiteral, syntax.OpAlternate, syntax.OpConcat:
		// A finite set of ASCII strings (a keyword alternation, an
		// operator list) is compared directly.
		if l, exact, ok := lits(re, 1<<10); ok && exact && len(l) <= 64 {
			return litsSieve(l)
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		c := &sieve{op: opConcat}
		for _, r := range re.Rune {
			c.subs = append(c.subs, runeSieve(r, fold))
		}
		return c
	case syntax.OpCharClass:
		s := &sieve{op: opSet, min: 1, max: 1}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo < utf8.RuneSelf {
				s.set.addRange(byte(lo), byte(min(hi, utf8.RuneSelf-1)))
			}
			if hi >= utf8.RuneSelf {
				s.set.addRange(0x80, 0xff)
				s.wide = true
			}
		}
		return s
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		s := &sieve{op: opSet, min: 1, max: 1, wide: true}
		s.set.addRange(0, 0xff)
		if re.Op == syntax.OpAnyCharNotNL {
			s.set[0] &^= 1 << '\n'
		}
		return s
	case syntax.OpCapture:
		return newSieve(re.Sub[0])
	case syntax.OpConcat:
		c := &sieve{op: opConcat}
		for _, sub := range re.Sub {
			c.subs = append(c.subs, newSieve(sub))
		}
		return c
	case syntax.OpAlternate:
		a := &sieve{op: opAlt, hasFirst: true}
		for _, sub := range re.Sub {
			b := newSieve(sub)
			a.subs = append(a.subs, b)
			a.hasFirst = a.hasFirst && b.firstBytes(&a.first)
		}
		return a
	case syntax.OpQuest:
		return repeatSieve(newSieve(re.Sub[0]), 0, 1)
	case syntax.OpRepeat:
		if re.Max >= 0 {
			return repeatSieve(newSieve(re.Sub[0]), re.Min, re.Max)
		}
	}
	return &sieve{op: opGiveUp}
}

func litsSieve(l []string) *sieve {
	s := &sieve{op: opLits, lits: l}
	for _, x := range l {
		if x == "" {
			return &sieve{op: opGiveUp} // rare: keep run simple
		}
		s.first.add(x[0])
		s.first.add(upperASCII(x[0]))
	}
	return s
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// runeSieve matches one rune of a literal.
func runeSieve(r rune, fold bool) *sieve {
	s := &sieve{op: opSet, min: 1, max: 1}
	for f := r; ; {
		if f < utf8.RuneSelf {
			s.set.add(byte(f))
		} else {
			s.set.addRange(0x80, 0xff)
			s.wide = true
		}
		if !fold {
			break
		}
		if f = unicode.SimpleFold(f); f == r {
			break
		}
	}
	return s
}

// repeatSieve is sub repeated min..max times; a repeated set becomes one
// set with the product bounds.
func repeatSieve(sub *sieve, lo, hi int) *sieve {
	if sub.op == opSet {
		return &sieve{op: opSet, set: sub.set, wide: sub.wide, min: sub.min * lo, max: sub.max * hi}
	}
	return &sieve{op: opRepeat, min: lo, max: hi, subs: []*sieve{sub}}
}

// maybe tells whether the regex may match at the start of data: when ok,
// end is the longest match it may have, or -1 for none; when not ok, the
// sieve cannot say.
func (s *sieve) maybe(data []byte) (end int, ok bool) {
	if len(data) > 64 {
		data = data[:64]
	}
	ends, ok := s.run(data, 1)
	return 63 - bits.LeadingZeros64(ends), ok
}

// run advances the positions in cur (bit i: i bytes consumed) through s.
// ok is false when s gave up or a position passed 63.
func (s *sieve) run(data []byte, cur uint64) (next uint64, ok bool) {
	if cur == 0 {
		return 0, true
	}
	switch s.op {
	case opPass:
		return cur, true
	case opFail:
		return 0, true
	case opSet:
		// in: positions whose byte is in the set; wide: those that start
		// a multi-byte rune, which takes more than one step of one byte.
		// Classified lazily: most runs end within a few bytes.
		var in, wide uint64
		done := bits.TrailingZeros64(cur)
		steps := s.max
		if s.bytewise && s.wide {
			steps *= utf8.UTFMax
		}
		limit := min(64, len(data))
		classify := func(upto int) {
			for ; done < upto && done < limit; done++ {
				if c := data[done]; s.set.has(c) {
					in |= 1 << done
					if c >= utf8.RuneSelf && !s.bytewise {
						wide |= 1 << done
					}
				}
			}
		}
		var acc uint64
		if s.min == 0 {
			acc = cur
		}
		for k := 1; k <= steps && cur != 0; k++ {
			classify(64 - bits.LeadingZeros64(cur))
			step := cur & in
			if step>>63 != 0 {
				return 0, false
			}
			next := (step &^ wide) << 1
			for w := step & wide; w != 0; w &= w - 1 {
				p := bits.TrailingZeros64(w) + runeWidth(data[bits.TrailingZeros64(w)])
				if p > 63 {
					return 0, false
				}
				if p <= len(data) { // a rune cut short by the end is no match
					next |= 1 << p
				}
			}
			cur = next
			if k >= s.min {
				acc |= cur
			}
		}
		return acc, true
	case opConcat:
		for _, sub := range s.subs {
			if cur, ok = sub.run(data, cur); !ok || cur == 0 {
				return cur, ok
			}
		}
		return cur, true
	case opAlt:
		// Only positions whose byte may begin some branch go on.
		if s.hasFirst {
			keep := uint64(0)
			for rest := cur; rest != 0; rest &= rest - 1 {
				if p := bits.TrailingZeros64(rest); p < len(data) && s.first.has(data[p]) {
					keep |= 1 << p
				}
			}
			if cur = keep; cur == 0 {
				return 0, true
			}
		}
		var acc uint64
		for _, sub := range s.subs {
			n, ok := sub.run(data, cur)
			if !ok {
				return 0, false
			}
			acc |= n
		}
		return acc, true
	case opLits:
		var acc uint64
		for rest := cur; rest != 0; rest &= rest - 1 {
			p := bits.TrailingZeros64(rest)
			if p >= len(data) || !s.first.has(data[p]) {
				continue
			}
			for _, l := range s.lits {
				if p+len(l) < 64 && hasFoldPrefix(data[p:], l) {
					acc |= 1 << (p + len(l))
				} else if p+len(l) >= 64 && hasFoldPrefix(data[p:], l) {
					return 0, false
				}
			}
		}
		return acc, true
	case opRepeat:
		var acc uint64
		if s.min == 0 {
			acc = cur
		}
		for k := 1; k <= s.max && cur != 0; k++ {
			if cur, ok = s.subs[0].run(data, cur); !ok {
				return 0, false
			}
			if k >= s.min {
				acc |= cur
			}
		}
		return acc, true
	}
	return 0, false
}

// hasFoldPrefix reports whether b begins with the lower-case ASCII string
// l, ASCII case-insensitively.
func hasFoldPrefix(b []byte, l string) bool {
	if len(b) < len(l) {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != l[i] {
			return false
		}
	}
	return true
}

// runeWidth is how many bytes the rune starting with c takes, as Go's
// regexp decodes it: an invalid byte counts as a one-byte rune.
func runeWidth(c byte) int {
	switch {
	case c >= 0xf0 && c < 0xf8:
		return 4
	case c >= 0xe0:
		if c >= 0xf8 {
			return 1
		}
		return 3
	case c >= 0xc0:
		return 2
	}
	return 1
}

// firstBytes adds to set the bytes a non-empty match of s may begin with,
// and reports false when s may match the empty string or it cannot say.
func (s *sieve) firstBytes(set *byteSet) bool {
	switch s.op {
	case opSet:
		for i := range set {
			set[i] |= s.set[i]
		}
		return s.min > 0
	case opLits:
		for i := range set {
			set[i] |= s.first[i]
		}
		return true
	case opFail:
		return true
	case opConcat:
		for _, sub := range s.subs {
			if sub.op == opPass {
				continue
			}
			return sub.firstBytes(set)
		}
	case opAlt:
		for _, sub := range s.subs {
			if !sub.firstBytes(set) {
				return false
			}
		}
		return true
	case opRepeat:
		return s.min > 0 && s.subs[0].firstBytes(set)
	}
	return false
}

// reversedSieve is a sieve of re reversed (see reversed), to run over text
// read backwards.
func reversedSieve(re *syntax.Regexp) *sieve {
	s := newSieve(reversed(re))
	s.setBytewise()
	return s
}

func (s *sieve) setBytewise() {
	s.bytewise = true
	for _, sub := range s.subs {
		sub.setBytewise()
	}
}
