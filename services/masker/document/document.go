// Package document masks what a JSON document holds beyond what text
// patterns see: the values of fields named by a rule (`password`,
// `*.private_key`), whatever their shape, and the base64 `content` of
// GitHub's contents and blobs APIs, decoded, masked and encoded again.
//
// Edits are made in place on the document's bytes: everything not masked
// keeps its spelling, order and whitespace, and the result is valid JSON.
package document

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/airlockhq/airlock/services/masker/detect"
)

// Finding is a secret masked in a document.
type Finding struct {
	Rule string
	// Location is a JSON path, with an offset into decoded content.
	Location string
	// Value is what was masked, for a fingerprint; never published.
	Value []byte
}

// MaskFunc masks secrets in text and says which it found, with byte
// offsets in text.
type MaskFunc func(text []byte) (masked []byte, findings []TextFinding)

// TextFinding is a secret found in text.
type TextFinding struct {
	Rule       string
	Start, End int
}

// Masker masks JSON documents.
type Masker struct {
	fields []fieldRule
	// lastKeys holds foldHash of every rule's last key: most keys of a
	// document are no rule's, and one hash tells.
	lastKeys map[uint64]bool
	// applies finds `\"`, `"content"` or a rule's quoted last key, ASCII
	// case-insensitively, in one pass: the cheap test before parsing.
	applies     *detect.Keywords
	placeholder func(rule string) string
}

type fieldRule struct {
	pattern  string
	segments []string // lower case; "*" matches any one key
	anchored bool     // "$." prefix: from the root
}

// New returns a Masker for the field rules. A rule is a key name
// (`password`: that key at any depth), a path ending in one
// (`credentials.password`, `*.private_key`: `*` matches any one key), or a
// path from the root (`$.data.token`). Keys match without regard to case;
// array indices are not part of a path. placeholder names what replaces a
// value, given "field:<rule>".
func New(fields []string, placeholder func(rule string) string) (*Masker, error) {
	m := &Masker{placeholder: placeholder, lastKeys: map[uint64]bool{}}
	words := []string{`\"`, `"content"`}
	for _, f := range fields {
		r := fieldRule{pattern: f}
		p := f
		if rest, ok := strings.CutPrefix(p, "$."); ok {
			r.anchored, p = true, rest
		}
		r.segments = strings.Split(strings.ToLower(p), ".")
		if slices.Contains(r.segments, "") {
			return nil, fmt.Errorf("field rule %q: empty key", f)
		}
		last := r.segments[len(r.segments)-1]
		if last == "*" {
			return nil, fmt.Errorf("field rule %q: the last key must be a name", f)
		}
		m.fields = append(m.fields, r)
		words = append(words, strconv.Quote(last))
		m.lastKeys[foldHash(last)] = true
	}
	slices.Sort(words)
	var err error
	if m.applies, err = detect.NewKeywords(slices.Compact(words)); err != nil {
		return nil, fmt.Errorf("field rules: %w", err)
	}
	return m, nil
}

// match returns the rule that names the path, if any.
func (m *Masker) match(path []elem) (string, bool) {
	last := path[len(path)-1].key
	if !m.lastKeys[foldHash(last)] {
		return "", false
	}
	for _, r := range m.fields {
		// Most keys are not the rule's last: no need to read the path.
		if !strings.EqualFold(r.segments[len(r.segments)-1], last) {
			continue
		}
		keys := make([]string, 0, len(path))
		for _, e := range path {
			if e.index < 0 {
				keys = append(keys, e.key)
			}
		}
		n := len(r.segments)
		if len(keys) < n || (r.anchored && len(keys) != n) {
			continue
		}
		tail := keys[len(keys)-n:]
		ok := true
		for i, s := range r.segments {
			if s != "*" && !strings.EqualFold(s, tail[i]) {
				ok = false
				break
			}
		}
		if ok {
			return r.pattern, true
		}
	}
	return "", false
}

// foldHash is FNV-1a of s with ASCII letters in lower case.
func foldHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// Applies says whether doc may hold something only Mask finds: a key a
// field rule names, a "content" key, or an escaped quote. It is a cheap test on the bytes,
// so that most documents are not parsed.
func (m *Masker) Applies(doc []byte) bool {
	return m.applies.Any(doc)
}

// ErrNotJSON is returned for a document that does not parse.
var ErrNotJSON = errors.New("not a JSON document")

// Mask masks the fields the rules name and the secrets in base64 content,
// in place, and returns the edited document. A document that is not JSON
// is returned unchanged with ErrNotJSON; the caller masks it as text.
func (m *Masker) Mask(doc []byte, text MaskFunc) ([]byte, []Finding, error) {
	w := &walker{m: m, data: doc, text: text}
	w.space()
	if err := w.value(); err != nil {
		return doc, nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if w.space(); w.i != len(doc) {
		return doc, nil, fmt.Errorf("%w: data after the document at %d", ErrNotJSON, w.i)
	}
	if len(w.edits) == 0 {
		return doc, w.findings, nil
	}
	// A content edit is made when its object ends, after the edits inside
	// the members that follow it.
	slices.SortFunc(w.edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(doc))
	prev := 0
	for _, e := range w.edits {
		out = append(out, doc[prev:e.start]...)
		out = append(out, e.repl...)
		prev = e.end
	}
	return append(out, doc[prev:]...), w.findings, nil
}

type edit struct {
	start, end int
	repl       []byte
}

// maxDepth bounds nesting: deeper documents are masked as text.
const maxDepth = 1000

// walker reads a JSON document byte by byte, keeping where each value is:
// encoding/json's decoder knows offsets too, but at a tenth of the speed.
type walker struct {
	m        *Masker
	data     []byte
	i        int
	text     MaskFunc
	path     []elem // where the value being read is
	skip     int    // inside a value masked whole: read, nothing more
	edits    []edit
	findings []Finding
}

// elem is a step of a path: an object key, or an array index.
type elem struct {
	key   string
	index int // -1 for a key
}

// loc renders the path as a JSON path: $.a.b[2].c
func (w *walker) loc() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, e := range w.path {
		if e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
		} else {
			b.WriteString("." + e.key)
		}
	}
	return b.String()
}

func (w *walker) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *walker) errorf(format string, args ...any) error {
	return fmt.Errorf("at %d: "+format, append([]any{w.i}, args...)...)
}

// value reads one value at w.i, and the space after it.
func (w *walker) value() error {
	if len(w.path) > maxDepth {
		return w.errorf("nested deeper than %d", maxDepth)
	}
	if w.i >= len(w.data) {
		return w.errorf("unexpected end")
	}
	switch c := w.data[w.i]; {
	case c == '{':
		return w.object()
	case c == '[':
		return w.array()
	case c == '"':
		start := w.i
		escaped, err := w.str()
		if err != nil {
			return err
		}
		if escaped && w.skip == 0 {
			w.escapedString(start, w.i)
		}
	case c == 't':
		return w.literal("true")
	case c == 'f':
		return w.literal("false")
	case c == 'n':
		return w.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return w.number()
	default:
		return w.errorf("unexpected %q", c)
	}
	return nil
}

// str reads a string at w.i and says whether it holds an escaped quote.
// It looks for the closing quote and for backslashes with IndexByte, the
// fast path for the long strings of API documents.
func (w *walker) str() (quoteEscaped bool, err error) {
	w.i++ // the opening quote
	for {
		q := bytes.IndexByte(w.data[w.i:], '"')
		if q < 0 {
			return false, w.errorf("unterminated string")
		}
		b := bytes.IndexByte(w.data[w.i:w.i+q], '\\')
		if b < 0 {
			w.i += q + 1
			return quoteEscaped, nil
		}
		w.i += b
		if w.i+1 >= len(w.data) {
			return false, w.errorf("unterminated escape")
		}
		switch w.data[w.i+1] {
		case '"':
			quoteEscaped = true
		case '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if w.i+6 > len(w.data) {
				return false, w.errorf("short \\u escape")
			}
			var code [2]byte
			if _, err := hex.Decode(code[:], w.data[w.i+2:w.i+6]); err != nil {
				return false, w.errorf("bad \\u escape")
			}
			w.i += 4
		default:
			return false, w.errorf("bad escape")
		}
		w.i += 2
	}
}

func (w *walker) literal(lit string) error {
	if !bytes.HasPrefix(w.data[w.i:], []byte(lit)) {
		return w.errorf("bad literal")
	}
	w.i += len(lit)
	return nil
}

func (w *walker) number() error {
	start := w.i
	for w.i < len(w.data) && strings.IndexByte("+-0123456789.eE", w.data[w.i]) >= 0 {
		w.i++
	}
	// The rare malformed number is caught here, not by the loop above.
	if !json.Valid(w.data[start:w.i]) {
		return w.errorf("bad number")
	}
	return nil
}

func (w *walker) array() error {
	w.i++
	w.space()
	if w.i < len(w.data) && w.data[w.i] == ']' {
		w.i++
		return nil
	}
	for n := 0; ; n++ {
		w.path = append(w.path, elem{index: n})
		err := w.value()
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		w.space()
		if w.i >= len(w.data) {
			return w.errorf("unterminated array")
		}
		switch w.data[w.i] {
		case ',':
			w.i++
			w.space()
		case ']':
			w.i++
			return nil
		default:
			return w.errorf("want , or ]")
		}
	}
}

// span is where a string member's JSON sits.
type span struct {
	start, end int
	ok         bool
}

func (w *walker) object() error {
	w.i++
	w.space()
	if w.i < len(w.data) && w.data[w.i] == '}' {
		w.i++
		return nil
	}
	var content, encoding span
	for {
		if w.i >= len(w.data) || w.data[w.i] != '"' {
			return w.errorf("want a key")
		}
		kstart := w.i
		if _, err := w.str(); err != nil {
			return err
		}
		key, err := unquote(w.data[kstart:w.i])
		if err != nil {
			return w.errorf("bad key: %v", err)
		}
		w.space()
		if w.i >= len(w.data) || w.data[w.i] != ':' {
			return w.errorf("want :")
		}
		w.i++
		w.space()
		w.path = append(w.path, elem{key: key, index: -1})
		if err := w.member(key, &content, &encoding); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		if w.i >= len(w.data) {
			return w.errorf("unterminated object")
		}
		switch w.data[w.i] {
		case ',':
			w.i++
			w.space()
			continue
		case '}':
			w.i++
		default:
			return w.errorf("want , or }")
		}
		break
	}
	if content.ok && w.skip == 0 {
		// GitHub's answers say "encoding": "base64"; what an agent writes
		// through the contents API is base64 without saying so.
		w.path = append(w.path, elem{key: "content", index: -1})
		if encoding.ok && !w.isBase64(encoding) || !w.base64Content(content.start, content.end) {
			w.escapedString(content.start, content.end)
		}
		w.path = w.path[:len(w.path)-1]
	}
	return nil
}

// member reads the value of key, masking it whole when a field rule
// names it, keeping content and encoding for the object's end.
func (w *walker) member(key string, content, encoding *span) error {
	if w.skip > 0 {
		return w.value()
	}
	start := w.i
	if rule, ok := w.m.match(w.path); ok {
		w.skip++
		err := w.value()
		w.skip--
		if err != nil {
			return err
		}
		rule = "field:" + rule
		w.edits = append(w.edits, edit{start, w.i, quote(w.m.placeholder(rule))})
		w.findings = append(w.findings, Finding{Rule: rule, Location: w.loc(), Value: unquoted(w.data[start:w.i])})
		return nil
	}
	if w.i < len(w.data) && w.data[w.i] == '"' && (strings.EqualFold(key, "content") || strings.EqualFold(key, "encoding")) {
		if _, err := w.str(); err != nil {
			return err
		}
		sp := span{start, w.i, true}
		if strings.EqualFold(key, "content") {
			*content = sp // base64 or not: known when the object ends
		} else {
			*encoding = sp
		}
		return nil
	}
	return w.value()
}

func (w *walker) isBase64(encoding span) bool {
	s, err := unquote(w.data[encoding.start:encoding.end])
	return err == nil && strings.EqualFold(s, "base64")
}

// escapedString masks the text a JSON string holds when its escapes hide
// secrets from the text pass: a file in a gist or a patch carries
// `token = \"npm_…\"`, and the detectors' rules want a quote, not a
// backslash, after a secret. Strings without an escaped quote are left to
// the text pass.
func (w *walker) escapedString(start, end int) {
	raw := w.data[start:end]
	if !bytes.Contains(raw, []byte(`\"`)) {
		return
	}
	s, err := unquote(raw)
	if err != nil {
		return
	}
	text := []byte(s)
	masked, found := w.text(text)
	if len(found) == 0 {
		return
	}
	loc := w.loc()
	for _, f := range found {
		w.findings = append(w.findings, Finding{Rule: f.Rule, Location: loc + "@" + strconv.Itoa(f.Start), Value: text[f.Start:f.End]})
	}
	w.edits = append(w.edits, edit{start, end, quote(string(masked))})
}

// unquote is the text of a JSON string.
func unquote(raw []byte) (string, error) {
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// quote is s as a JSON string, without the HTML escapes json.Marshal adds.
func quote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// base64Content masks secrets in decoded content and encodes it again the
// way GitHub does (lines of 60 characters). It says whether the content
// was base64.
func (w *walker) base64Content(start, end int) bool {
	s, err := unquote(w.data[start:end])
	if err != nil {
		return false
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if len(s) < 8 {
		return false // "+1", "ok": words, not encodings
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return false // not base64 after all: the text pass sees it as it is
	}
	masked, found := w.text(raw)
	if len(found) == 0 {
		return true
	}
	loc := w.loc()
	for _, f := range found {
		w.findings = append(w.findings, Finding{
			Rule:     f.Rule,
			Location: loc + " (base64)@" + strconv.Itoa(f.Start),
			Value:    raw[f.Start:f.End],
		})
	}
	enc := base64.StdEncoding.EncodeToString(masked)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	b.WriteString(enc)
	if bytes.HasSuffix(w.data[start:end], []byte(`\n"`)) {
		b.WriteByte('\n')
	}
	w.edits = append(w.edits, edit{start, end, quote(b.String())})
	return true
}

// unquoted is a JSON string's text, or the raw JSON of any other value.
func unquoted(raw []byte) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}
