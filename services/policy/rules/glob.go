package rules

// Glob reports whether path matches pattern. Both are split into segments
// at "/". In the pattern, a segment that is exactly "**" matches zero or
// more whole segments, and "*" anywhere else matches any run of characters
// within one segment (never a "/"). Every other character matches itself;
// there is no escape and no "?" or character class.
//
// So "/repos/*/issues" matches "/repos/acme/issues" but not
// "/repos/acme/x/issues"; "/repos/**" matches "/repos", "/repos/acme" and
// "/repos/acme/x/issues"; "/repos/**/hooks" matches "/repos/hooks" and
// "/repos/acme/x/hooks".
//
// Matching takes time proportional to len(path) × len(pattern) at worst and
// never allocates.
func Glob(path, pattern string) bool {
	// p and n index the start of the current segment of pattern and path;
	// a string of k slashes has k+1 segments, and an index past the end
	// means no segment is left.
	p, n := 0, 0
	// After a "**", starP is the pattern segment following it and starN the
	// path segment it was last tried against; -1 when there is none yet.
	starP, starN := -1, -1
	for n <= len(path) {
		if p <= len(pattern) {
			ps, pnext := segment(pattern, p)
			if ps == "**" {
				p = pnext
				starP, starN = p, n
				continue
			}
			ns, nnext := segment(path, n)
			if matchSegment(ps, ns) {
				p, n = pnext, nnext
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last "**" absorb one more path segment and retry.
		_, starN = segment(path, starN)
		p, n = starP, starN
	}
	// The path is used up: what is left of the pattern must match nothing.
	for p <= len(pattern) {
		ps, pnext := segment(pattern, p)
		if ps != "**" {
			return false
		}
		p = pnext
	}
	return true
}

// segment returns the segment of s that starts at i and the index where the
// next one starts.
func segment(s string, i int) (string, int) {
	for j := i; j < len(s); j++ {
		if s[j] == '/' {
			return s[i:j], j + 1
		}
	}
	return s[i:], len(s) + 1
}

// matchSegment matches one segment against a pattern segment in which "*"
// matches any run of characters.
func matchSegment(pattern, s string) bool {
	p, n := 0, 0
	starP, starN := -1, -1
	for n < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			p++
			starP, starN = p, n
		case p < len(pattern) && pattern[p] == s[n]:
			p++
			n++
		case starP >= 0:
			starN++
			p, n = starP, starN
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
