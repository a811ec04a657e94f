package detect

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/config"
)

// DefaultMaxSecretLen is the default for Options.MaxSecretLen: long enough
// for a PEM-encoded 8192-bit RSA private key or a large JWT.
const DefaultMaxSecretLen = 16 << 10

// lineReach is how far either side of a match the "line" reaches that an
// allowlist with regexTarget "line" is tested against.
const lineReach = 1 << 10

// snapReach is how far a window start may move back to sit just after a
// non-word byte, where `\b` at the window start means what it means in the
// whole input.
const snapReach = 32

// contextReach is how far from a keyword occurrence a match of a rule whose
// regex need not contain its keyword may lie (airtable-personnal-access-token
// looks for `pat…` tokens in text that mentions Airtable).
const contextReach = 64

// Options configures a Detector.
type Options struct {
	// Extra is a TOML document in gitleaks' configuration format whose rules
	// and allowlists are merged into the gitleaks default catalogue, the way
	// gitleaks merges a configuration that extends the default: a rule with
	// a new id is added; a rule with a catalogue id overrides its regex,
	// secretGroup, entropy and description when set and adds its keywords
	// and allowlists; [[allowlists]] are added (targetRules may name
	// catalogue rules); [extend] disabledRules removes catalogue rules.
	// Empty means the catalogue alone.
	Extra string
	// MaxSecretLen is the longest match, in bytes, that a rule whose regex
	// has unbounded repetition (`+`, `*`, `{n,}`) is sure to find: the
	// engine looks no further than this from a keyword. A longer match
	// (a private key of more than 16 KiB with the default) is not found.
	// It also sets how much a MaskingWriter holds back (see Reach). Zero
	// means DefaultMaxSecretLen.
	MaxSecretLen int
}

// Finding is one secret found in an input.
type Finding struct {
	// RuleID names the catalogue rule that found the secret.
	RuleID string
	// Start and End are the byte offsets of the secret in the input: the
	// rule's secret group when it has one, else the whole match. End is
	// exclusive.
	Start, End int
}

// Detector finds and masks secrets. It is safe for concurrent use.
type Detector struct {
	rules    []rule
	global   []*config.Allowlist
	keywords *keywordDFA
	// keywordText is each keyword, by index.
	keywordText []string
	kwRules     [][]int // keyword index → rules with that keyword
	kwLen       []int
	always      []int // rules without keywords
	maxSecret   int
	// reach bounds how far from a position the engine looks to decide
	// about that position: a MaskingWriter holds back and keeps this much.
	reach int
	bufs  sync.Pool // *scratch
}

type rule struct {
	id          string
	re          *regexp.Regexp
	secretGroup int
	entropy     float64
	allowlists  []*config.Allowlist
	generic     bool
	// inWindow is re for a window that starts inside the input (bit 0)
	// and/or ends inside it (bit 1); see cut.
	inWindow [4]*regexp.Regexp
	// at is `^(?:re)`, to match at a given start; ctx is `^(?s:.)(?:re)`,
	// to match at a given start with the byte before it as context, so
	// that `\b` and `^` there read as in the whole input. Index 1 is for a
	// slice that ends inside the input (end of text cut, see cut).
	at, ctx [2]*regexp.Regexp
	// wordBoundary is set when re tests `\b` or `\B`: window edges then
	// move to sit next to a non-word byte, where those read as in the
	// whole input.
	wordBoundary bool
	// anchors, when set, cover every match (see anchor); otherwise span is
	// how far either side of a keyword occurrence a match may reach.
	anchors []ruleAnchor
	span    int
}

type ruleAnchor struct {
	sieve *sieve // a cheaper, looser check
	// back is a sieve of the part before the keyword, reversed: run on the
	// bytes before the occurrence, read backwards, it tells how far back a
	// match may start.
	back *sieve
	// check and from are the anchor's parts as `^(?:…)`.
	check, from *regexp.Regexp
	complete    bool // check is from
	beforeLen   int  // bytes a match may start before its keyword, at most maxSecret
	checkLen    int  // bytes check may match
	afterLen    int  // bytes from may match, at most maxSecret
}

type scratch struct {
	hits  []hit
	cands []candidate
}

type hit struct {
	pos, kw int
}

type candidate struct {
	rule       int
	start, end int
}

// New loads the catalogue, merges opts.Extra and compiles the engine.
func New(opts Options) (*Detector, error) {
	if opts.MaxSecretLen < 0 {
		return nil, fmt.Errorf("max secret length %d is negative", opts.MaxSecretLen)
	}
	cfg, err := loadConfig(opts.Extra)
	if err != nil {
		return nil, fmt.Errorf("loading rules: %w", err)
	}
	d := &Detector{
		global:    cfg.Allowlists,
		maxSecret: cmp.Or(opts.MaxSecretLen, DefaultMaxSecretLen),
	}
	kwIndex := map[string]int{}
	var keywords []string
	for _, id := range cfg.OrderedRules {
		cr, ok := cfg.Rules[id]
		if !ok || cr.Regex == nil || cr.Path != nil || cr.SkipReport {
			// Path-only and path-scoped rules need a file name; a rule that
			// only reports as part of a composite never reports alone.
			continue
		}
		if len(cr.RequiredRules) > 0 {
			return nil, fmt.Errorf("rule %q: composite rules are not supported", id)
		}
		r, err := d.compile(cr)
		if err != nil {
			return nil, fmt.Errorf("compiling rule %q: %w", id, err)
		}
		ri := len(d.rules)
		d.rules = append(d.rules, r)
		if len(cr.Keywords) == 0 {
			d.always = append(d.always, ri)
			continue
		}
		for _, k := range cr.Keywords {
			k = strings.ToLower(k)
			ki, ok := kwIndex[k]
			if !ok {
				ki = len(keywords)
				kwIndex[k] = ki
				keywords = append(keywords, k)
				d.kwRules = append(d.kwRules, nil)
				d.kwLen = append(d.kwLen, len(k))
			}
			if !slices.Contains(d.kwRules[ki], ri) {
				d.kwRules[ki] = append(d.kwRules[ki], ri)
			}
		}
	}
	if len(d.rules) == 0 {
		return nil, fmt.Errorf("loading rules: no rule applies to bodies")
	}
	d.keywordText = keywords
	if d.keywords, err = newKeywordDFA(keywords); err != nil {
		return nil, fmt.Errorf("building the keyword automaton: %w", err)
	}
	longestKw := 0
	for _, n := range d.kwLen {
		longestKw = max(longestKw, n)
	}
	for _, r := range d.rules {
		ext := 2*(r.span+contextReach) + longestKw
		for _, a := range r.anchors {
			ext = max(ext, a.beforeLen+a.afterLen)
		}
		d.reach = max(d.reach, ext+2*snapReach+2)
	}
	// The sieves read up to 64 bytes either side of a keyword; an
	// allowlist may read the line up to lineReach either side of a match.
	d.reach += 64 + lineReach
	d.bufs.New = func() any { return new(scratch) }
	return d, nil
}

func (d *Detector) compile(cr config.Rule) (rule, error) {
	r := rule{
		id:          cr.RuleID,
		re:          cr.Regex,
		secretGroup: cr.SecretGroup,
		entropy:     cr.Entropy,
		allowlists:  cr.Allowlists,
		generic:     strings.Contains(strings.ToLower(cr.RuleID), "generic"),
	}
	if !ruleIDPattern.MatchString(r.id) {
		return rule{}, fmt.Errorf("id must match %s", ruleIDPattern)
	}
	tree, err := syntax.Parse(cr.Regex.String(), syntax.Perl)
	if err != nil {
		return rule{}, fmt.Errorf("parsing regex: %w", err)
	}
	r.wordBoundary = has(tree, syntax.OpWordBoundary, syntax.OpNoWordBoundary)
	// compile compiles re with start and/or end of text cut (see cut),
	// behind prefix. Printing a syntax tree is slow (Go's printer checks
	// every rune of a class for case folding), and most regexes have
	// nothing to cut: those reuse the text they came from, and each text
	// is printed and compiled once.
	type variant struct {
		re         *syntax.Regexp
		start, end bool
	}
	texts := map[variant]string{{tree, false, false}: cr.Regex.String()}
	compiled := map[string]*regexp.Regexp{}
	compile := func(what string, re *syntax.Regexp, start, end bool, prefix string) (*regexp.Regexp, error) {
		v := variant{re, start && has(re, syntax.OpBeginText), end && has(re, syntax.OpEndText)}
		expr, ok := texts[v]
		if !ok {
			expr = cut(re, v.start, v.end).String()
			texts[v] = expr
		}
		if prefix != "" {
			expr = prefix + `(?:` + expr + `)`
		}
		if c, ok := compiled[expr]; ok {
			return c, nil
		}
		c, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("compiling %s %q: %w", what, expr, err)
		}
		compiled[expr] = c
		return c, nil
	}
	for v := range r.inWindow {
		if r.inWindow[v], err = compile("window regex", tree, v&1 != 0, v&2 != 0, ""); err != nil {
			return rule{}, err
		}
	}
	for v := range 2 {
		if r.at[v], err = compile("anchored regex", tree, false, v == 1, "^"); err != nil {
			return rule{}, err
		}
		if r.ctx[v], err = compile("anchored regex", tree, true, v == 1, `^(?s:.)`); err != nil {
			return rule{}, err
		}
	}
	keywords := make([]string, len(cr.Keywords))
	for i, k := range cr.Keywords {
		keywords[i] = strings.ToLower(k)
	}
	anchors, ok := findAnchors(tree, keywords)
	for _, a := range anchors {
		if !ok {
			break
		}
		ra := ruleAnchor{
			beforeLen: capLen(a.beforeLen, d.maxSecret),
			checkLen:  capLen(a.checkLen, d.maxSecret),
			afterLen:  capLen(a.fromLen, d.maxSecret),
			complete:  a.complete,
			sieve:     newSieve(a.check),
			back:      reversedSieve(a.before),
		}
		// The checks only bound the search; the full regex decides, with
		// the end of text cut where the window cuts it. So `$` in a check
		// may hold spuriously where a slice ends early: the check says
		// "maybe" a little more often, never "no" wrongly.
		if ra.check, err = compile("keyword check", a.check, false, false, "^"); err != nil {
			return rule{}, err
		}
		ra.from = ra.check
		if !a.complete {
			if ra.from, err = compile("keyword anchor", a.from, false, false, "^"); err != nil {
				return rule{}, err
			}
		}
		r.anchors = append(r.anchors, ra)
	}
	r.span = capLen(maxLen(tree), d.maxSecret)
	return r, nil
}

// capLen is n, or limit when n is unbounded or larger.
func capLen(n, limit int) int {
	if n == unbounded || n > limit {
		return limit
	}
	return n
}

// Rules returns the ids of the loaded rules, in catalogue order.
func (d *Detector) Rules() []string {
	ids := make([]string, len(d.rules))
	for i, r := range d.rules {
		ids[i] = r.id
	}
	return ids
}

// Find returns the secrets in data, sorted by Start, none overlapping.
func (d *Detector) Find(data []byte) []Finding {
	s := d.bufs.Get().(*scratch)
	defer d.bufs.Put(s)
	d.candidates(data, s)
	return d.resolve(s.cands)
}

// Mask returns a copy of data with every secret replaced by placeholder(rule
// id), or by "[MASKED:<rule-id>]" when placeholder is nil, and the findings.
// The replaced span is the finding's, widened where needed to whole
// backslash escapes (`\"`, `\n`, `\u00e9`) so that a JSON string stays a
// valid JSON string; the default placeholder holds no quote or backslash.
//
// Masking can bring a secret to light: in "gho_…npm_…" the npm token has no
// word boundary before it, and gets one once the GitHub token before it is
// a placeholder. Mask therefore masks its own output again until nothing
// more is found, so that masking what Mask returns finds nothing; findings
// such rounds add are reported at their place in data. Find reports what
// data itself holds.
func (d *Detector) Mask(data []byte, placeholder func(ruleID string) string) ([]byte, []Finding) {
	findings := d.findMasked(data, placeholder)
	if len(findings) == 0 {
		return bytes.Clone(data), findings
	}
	return maskSpans(data, findings, placeholder, 0, len(data)), findings
}

// maxMaskRounds bounds how many times findMasked masks and looks again: a
// chain of secrets glued together each behind the last.
const maxMaskRounds = 8

// findMasked is Find, then Find again on the masked text until nothing new
// is found, with every finding at its place in data, overlaps merged.
//
// Masking changes what the regexes can see only next to a placeholder:
// `[` and `]` are not word bytes, so a token glued to a masked secret gains
// a word boundary. Only where a finding is glued to a word byte is the
// masked text searched again, around it.
func (d *Detector) findMasked(data []byte, placeholder func(string) string) []Finding {
	found := d.Find(data)
	for range maxMaskRounds {
		var glued []int
		for i, f := range found {
			start, end := escapeSpan(data, f.Start, f.End)
			if start > 0 && isWordByte(data[start-1]) || end < len(data) && isWordByte(data[end]) {
				glued = append(glued, i)
			}
		}
		if len(glued) == 0 {
			return found
		}
		out, segs := maskMap(data, found, placeholder)
		added := false
		for _, i := range glued {
			g := segs[i]
			// Search 2×reach around the placeholder and keep what lies
			// within reach of it, clear of the search's own edges.
			ws, we := max(0, g.outStart-2*d.reach), min(len(out), g.outEnd+2*d.reach)
			for _, f := range d.Find(out[ws:we]) {
				f.Start, f.End = f.Start+ws, f.End+ws
				if f.End < g.outStart-d.reach || f.Start > g.outEnd+d.reach {
					continue
				}
				f.Start, f.End = segs.toInput(f.Start, false), segs.toInput(f.End, true)
				if !slices.ContainsFunc(found, func(k Finding) bool { return k.Start <= f.Start && f.End <= k.End }) {
					found = append(found, f)
					added = true
				}
			}
		}
		if !added {
			return found
		}
		slices.SortStableFunc(found, func(a, b Finding) int { return cmp.Compare(a.Start, b.Start) })
		merged := found[:1]
		for _, f := range found[1:] {
			if k := len(merged) - 1; f.Start < merged[k].End {
				merged[k].End = max(merged[k].End, f.End)
				continue
			}
			merged = append(merged, f)
		}
		found = merged
	}
	return found
}

// segment is a placeholder in masked text: out[outStart:outEnd] replaced
// data[inStart:inEnd].
type segment struct{ outStart, outEnd, inStart, inEnd int }

type segments []segment

// toInput maps an offset in masked text to one in the input: inside a
// placeholder, to the start (or, for an end, the end) of what it replaced.
func (s segments) toInput(p int, end bool) int {
	delta := 0
	for _, g := range s {
		switch {
		case p < g.outStart || (p == g.outStart && !end):
			return p + delta
		case p < g.outEnd || (p == g.outEnd && end):
			if end {
				return g.inEnd
			}
			return g.inStart
		}
		delta = g.inEnd - g.outEnd
	}
	return p + delta
}

// maskMap is maskSpans over all of data, also telling where each
// finding's placeholder went: segs[i] is findings[i]'s.
func maskMap(data []byte, findings []Finding, placeholder func(string) string) ([]byte, segments) {
	if placeholder == nil {
		placeholder = DefaultPlaceholder
	}
	var segs segments
	out := make([]byte, 0, len(data))
	prev := 0
	for _, f := range findings {
		start, end := escapeSpan(data, f.Start, f.End)
		start = max(start, prev)
		if start >= end {
			// Nothing left to replace; an empty segment keeps segs
			// aligned with findings.
			segs = append(segs, segment{len(out), len(out), prev, prev})
			continue
		}
		out = append(out, data[prev:start]...)
		g := segment{outStart: len(out), inStart: start, inEnd: end}
		out = append(out, placeholder(f.RuleID)...)
		g.outEnd = len(out)
		segs = append(segs, g)
		prev = end
	}
	return append(out, data[prev:]...), segs
}

// maskSpans masks data[from:to], where findings lie within.
func maskSpans(data []byte, findings []Finding, placeholder func(string) string, from, to int) []byte {
	if placeholder == nil {
		placeholder = DefaultPlaceholder
	}
	out := make([]byte, 0, to-from)
	prev := from
	for _, f := range findings {
		start, end := escapeSpan(data, f.Start, f.End)
		start, end = max(start, prev, from), min(end, to)
		if start >= end {
			continue
		}
		out = append(out, data[prev:start]...)
		out = append(out, placeholder(f.RuleID)...)
		prev = end
	}
	return append(out, data[prev:to]...)
}

// DefaultPlaceholder is what Mask puts in place of a secret by default.
func DefaultPlaceholder(ruleID string) string { return "[MASKED:" + ruleID + "]" }

// Fingerprint identifies a secret without revealing it: the hex HMAC-SHA256
// of secret keyed with salt. Findings published on the bus carry this, never
// the value; the same salt across services makes fingerprints comparable.
func Fingerprint(salt, secret []byte) string {
	m := hmac.New(sha256.New, salt)
	m.Write(secret)
	return hex.EncodeToString(m.Sum(nil))
}

// candidates fills s.cands with every secret candidate that passes the
// rules' entropy and allowlists, unsorted and possibly overlapping.
func (d *Detector) candidates(data []byte, s *scratch) {
	s.cands = s.cands[:0]
	s.hits = d.keywords.find(data, s.hits[:0])
	for _, h := range s.hits {
		for _, ri := range d.kwRules[h.kw] {
			d.scanHit(data, ri, h, s)
		}
	}
	for _, ri := range d.always {
		d.scanWindow(data, ri, 0, len(data), -1, -1, s)
	}
}

// scanHit looks for matches of rule ri around the keyword occurrence h.
func (d *Detector) scanHit(data []byte, ri int, h hit, s *scratch) {
	r := &d.rules[ri]
	n := len(data)
	kwEnd := h.pos + d.kwLen[h.kw]
	if r.anchors == nil {
		d.scanWindow(data, ri, h.pos-r.span-contextReach-1, kwEnd+r.span+contextReach+1, -1, -1, s)
		return
	}
	for i := range r.anchors {
		a := &r.anchors[i]
		// Cheap tests first: can the part of the regex from the keyword on
		// match here at all? Most keyword occurrences end here. The sieve
		// also bounds how long the check's match can be.
		checkLen := a.checkLen
		if end, ok := a.sieve.maybe(data[h.pos:]); ok {
			if end < 0 {
				continue
			}
			checkLen = min(checkLen, end)
		}
		limit := min(n, h.pos+checkLen+1)
		loc := a.check.FindIndex(data[h.pos:limit])
		if loc == nil {
			continue
		}
		if !a.complete {
			limit = min(n, h.pos+a.afterLen+1)
			if loc = a.from.FindIndex(data[h.pos:limit]); loc == nil {
				continue
			}
		}
		// A match that uses this occurrence ends where from's match ends,
		// and starts where the part before the keyword can start: the
		// reversed sieve, run on the bytes before the occurrence read
		// backwards, tells where that may be. The regex itself, anchored
		// at each such start from the farthest, decides.
		we := min(n, h.pos+loc[1]+1)
		starts := uint64(1) // bit i: may start i bytes before the keyword
		if a.beforeLen > 0 {
			var buf [64]byte
			rev := buf[:min(len(buf), h.pos)]
			for i := range rev {
				rev[i] = data[h.pos-1-i]
			}
			var ok bool
			if starts, ok = a.back.run(rev, 1); !ok {
				// Too far back for the sieve: search the window.
				d.scanWindow(data, ri, h.pos-a.beforeLen-1, we, h.pos, kwEnd, s)
				continue
			}
		}
		d.matchFrom(data, ri, starts, h.pos, kwEnd, we, s)
	}
}

// matchFrom tries rule ri's regex anchored at each start kwStart-i, for
// each bit i of starts, farthest first, as an unanchored search from the
// farthest would find them; it considers the matches that overlap
// [kwStart, kwEnd) and do not end at we when we cuts the input.
func (d *Detector) matchFrom(data []byte, ri int, starts uint64, kwStart, kwEnd, we int, s *scratch) {
	r := &d.rules[ri]
	n := len(data)
	cut := btoi(we < n)
	for starts != 0 {
		back := 63 - bits.LeadingZeros64(starts)
		starts &^= 1 << back
		ms := kwStart - back
		if ms < 0 {
			continue
		}
		// g: the match and its groups, as offsets from base.
		var g []int
		base := ms
		if ms > 0 {
			base = ms - 1 // the context byte
			if _, w := utf8.DecodeRune(data[base:]); w > 1 {
				continue // ms is inside a rune: no match starts there
			}
			g = r.ctx[cut].FindSubmatchIndex(data[base:we])
		} else {
			g = r.at[cut].FindSubmatchIndex(data[ms:we])
		}
		if g == nil {
			continue
		}
		me := base + g[1]
		if me == we && we < n {
			return // might go on past the window
		}
		if me > kwStart {
			if me > ms {
				d.consider(data, ri, ms, me, g[2:], base, s)
			}
			return
		}
		// This match ends before the keyword: a search would go on after it.
		starts &= (uint64(1) << max(0, kwStart-me+1)) - 1
	}
}

// scanWindow runs rule ri's regex over data[ws:we] and considers each match
// that does not end at a cut (a window end inside data: the text beyond might
// have made it longer). When kwStart >= 0 only matches overlapping
// [kwStart, kwEnd) are considered: the others belong to other keyword
// occurrences, whose own windows find them.
func (d *Detector) scanWindow(data []byte, ri, ws, we, kwStart, kwEnd int, s *scratch) {
	r := &d.rules[ri]
	n := len(data)
	ws, we = max(0, ws), min(n, we)
	if r.wordBoundary {
		ws, we = snap(data, ws, we)
	}
	re := r.inWindow[btoi(ws > 0)|btoi(we < n)<<1]
	for _, loc := range re.FindAllIndex(data[ws:we], -1) {
		ms, me := ws+loc[0], ws+loc[1]
		if me == we && we < n {
			break
		}
		if kwStart >= 0 && (me <= kwStart || ms >= kwEnd) {
			continue
		}
		if me > ms {
			d.consider(data, ri, ms, me, nil, 0, s)
		}
	}
}

// snap moves a window's edges outwards, by at most snapReach bytes each, to
// sit next to a non-word byte, where `\b` and `\B` at the edge read as in
// the whole input.
func snap(data []byte, ws, we int) (int, int) {
	for i := ws; i > 0 && i > ws-snapReach; i-- {
		if !isWordByte(data[i-1]) {
			ws = i
			break
		}
	}
	for i := we; i < len(data) && i < we+snapReach; i++ {
		if !isWordByte(data[i]) {
			we = i
			break
		}
	}
	return ws, we
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// consider applies gitleaks' steps after a regex match at data[ms:me]: the
// secret group, entropy and allowlists. groups, when not nil, are the
// match's capture groups as offsets from base (pairs, group 1 first).
func (d *Detector) consider(data []byte, ri, ms, me int, groups []int, base int, s *scratch) {
	r := &d.rules[ri]
	// gitleaks trims newlines off the match and extracts the secret by
	// matching the regex again against the trimmed match alone. Where
	// nothing was trimmed, the groups of the match in place are those.
	if groups == nil || data[ms] == '\n' || data[me-1] == '\n' {
		for ms < me && data[ms] == '\n' {
			ms++
		}
		for me > ms && data[me-1] == '\n' {
			me--
		}
		if ms == me {
			return
		}
		groups, base = nil, ms
		if g := r.at[0].FindSubmatchIndex(data[ms:me]); g != nil {
			groups = g[2:]
		}
	}
	ss, se := ms, me
	if len(groups) >= 2 {
		if sg := r.secretGroup; sg > 0 {
			if 2*sg > len(groups) {
				return
			}
			if groups[2*sg-2] < 0 {
				return // the group did not take part: an empty secret
			}
			ss, se = base+groups[2*sg-2], base+groups[2*sg-1]
		} else {
			for i := 0; i+1 < len(groups); i += 2 {
				if groups[i] >= 0 && groups[i+1] > groups[i] {
					ss, se = base+groups[i], base+groups[i+1]
					break
				}
			}
		}
	}
	if se <= ss {
		return
	}
	secret := data[ss:se]
	if r.entropy != 0 && shannonEntropy(secret) <= r.entropy {
		return
	}
	c := allowCheck{data: data, secret: string(secret), ms: ms, me: me}
	for _, a := range d.global {
		if c.allowed(a) {
			return
		}
	}
	for _, a := range r.allowlists {
		if c.allowed(a) {
			return
		}
	}
	s.cands = append(s.cands, candidate{rule: ri, start: ss, end: se})
}

type allowCheck struct {
	data   []byte
	secret string
	ms, me int
	match  *string
	line   *string
}

// allowed reports whether allowlist a lets the candidate pass, as gitleaks'
// checkFindingAllowed decides for a fragment without path or commit.
func (c *allowCheck) allowed(a *config.Allowlist) bool {
	regexAllowed := false
	if len(a.Regexes) > 0 {
		target := c.secret
		switch a.RegexTarget {
		case "match":
			target = c.matchText()
		case "line":
			target = c.lineText()
		}
		regexAllowed = a.RegexAllowed(target)
	}
	stop := false
	if len(a.StopWords) > 0 {
		stop, _ = a.ContainsStopWord(c.secret)
	}
	if a.MatchCondition == config.AllowlistMatchAnd {
		// A body has no commit or path: such a condition never holds.
		if len(a.Commits) > 0 || len(a.Paths) > 0 {
			return false
		}
		return (len(a.Regexes) == 0 || regexAllowed) && (len(a.StopWords) == 0 || stop)
	}
	return regexAllowed || stop
}

func (c *allowCheck) matchText() string {
	if c.match == nil {
		m := string(c.data[c.ms:c.me])
		c.match = &m
	}
	return *c.match
}

// lineText is the text gitleaks calls the line: from the newline before the
// match (included) to the newline after it (excluded), cut to lineReach
// bytes either side of the match.
func (c *allowCheck) lineText() string {
	if c.line == nil {
		lo := max(0, c.ms-lineReach)
		start := lo
		if i := bytes.LastIndexByte(c.data[lo:c.ms], '\n'); i >= 0 {
			start = lo + i
		}
		hi := min(len(c.data), c.me+lineReach)
		end := hi
		if i := bytes.IndexByte(c.data[c.me:hi], '\n'); i >= 0 {
			end = c.me + i
		}
		l := string(c.data[start:end])
		c.line = &l
	}
	return *c.line
}

// shannonEntropy is gitleaks' shannonEntropy: rune frequencies over the
// length in bytes, summed here in rune order so that the result is the same
// on every run.
func shannonEntropy(data []byte) float64 {
	if len(data) == 0 {
		return 0
	}
	var ascii [utf8.RuneSelf]int
	var other map[rune]int
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			ascii[c]++
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if other == nil {
			other = map[rune]int{}
		}
		other[r]++
		i += size
	}
	inv := 1.0 / float64(len(data))
	entropy := 0.0
	add := func(count int) {
		freq := float64(count) * inv
		entropy -= freq * math.Log2(freq)
	}
	for _, n := range ascii {
		if n > 0 {
			add(n)
		}
	}
	if other != nil {
		runes := make([]rune, 0, len(other))
		for r := range other {
			runes = append(runes, r)
		}
		slices.Sort(runes)
		for _, r := range runes {
			add(other[r])
		}
	}
	return entropy
}

// resolve sorts candidates and merges overlapping ones into findings.
func (d *Detector) resolve(cands []candidate) []Finding {
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		if ga, gb := d.rules[a.rule].generic, d.rules[b.rule].generic; ga != gb {
			if ga {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.end, a.end); c != 0 {
			return c
		}
		return cmp.Compare(a.rule, b.rule)
	})
	var out []Finding
	for _, c := range cands {
		if k := len(out) - 1; k >= 0 && c.start < out[k].End {
			out[k].End = max(out[k].End, c.end)
			continue
		}
		out = append(out, Finding{RuleID: d.rules[c.rule].id, Start: c.start, End: c.end})
	}
	return out
}

// escapeSpan widens [start, end) to whole backslash escapes: if start is the
// escaped byte of an escape, or inside a \uXXXX, the span takes the whole
// escape; if the span ends inside an escape, it takes the rest of it.
func escapeSpan(data []byte, start, end int) (int, int) {
	// Where does the escape that covers start, if any, begin? Look back at
	// most 5 bytes (\uXXXX) for a backslash that is itself not escaped.
	for back := 1; back <= 5 && start-back >= 0; back++ {
		i := start - back
		if data[i] != '\\' || !unescapedAt(data, i) {
			continue
		}
		if back == 1 || (i+1 < len(data) && data[i+1] == 'u' && back <= 5) {
			start = i
		}
		break
	}
	for i := start; i < end; {
		if data[i] != '\\' {
			i++
			continue
		}
		l := 2
		if i+1 < len(data) && data[i+1] == 'u' {
			l = 6
		}
		if i+l > end {
			end = min(len(data), i+l)
		}
		i += l
	}
	return start, end
}

// unescapedAt reports whether the backslash at i starts an escape: an even
// number of backslashes precede it.
func unescapedAt(data []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
		n++
	}
	return n%2 == 0
}
