package rules

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/google/cel-go/cel"
)

// ErrInvalid wraps every problem found in policy files, so that a caller
// can tell a bad policy from a file it could not read.
var ErrInvalid = errors.New("invalid policy")

// DefaultCostLimit is the most CEL cost one rule may spend on one request;
// a rule that goes over fails, which denies the request. Cost units
// roughly count operations; scanning a string costs about one unit per ten
// bytes, so the default leaves room for a few passes over a 1 MiB body.
const DefaultCostLimit = 1_000_000

// maxNameLen bounds a rule name.
const maxNameLen = 128

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Source is the text of one policy file.
type Source struct {
	// Name identifies the file in errors, usually its path.
	Name string
	// Data is the YAML text.
	Data []byte
}

// Option tunes how rules are compiled.
type Option func(*options)

type options struct {
	costLimit uint64
	maxBody   uint64
}

// WithCostLimit sets the CEL cost one rule may spend on one request
// (DefaultCostLimit when unset).
func WithCostLimit(limit uint64) Option {
	return func(o *options) { o.costLimit = limit }
}

// WithMaxBody sets the largest body a rule can see, in bytes: the ingress's
// inspect limit (DefaultMaxBody when unset). It bounds rules' estimated
// costs; see Compile.
func WithMaxBody(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBody = uint64(n)
		}
	}
}

// Load reads and compiles the policy files at paths, in order: file order
// decides which rule a verdict names when several match.
func Load(paths []string, opts ...Option) (*Set, error) {
	srcs := make([]Source, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading policy file: %w", err)
		}
		srcs = append(srcs, Source{Name: p, Data: data})
	}
	return Compile(srcs, opts...)
}

// Parse compiles one policy file's text; name appears in errors.
func Parse(name string, data []byte, opts ...Option) (*Set, error) {
	return Compile([]Source{{Name: name, Data: data}}, opts...)
}

// Compile decodes and compiles policy files into one rule set. Rule names
// must be unique across all of them. Every problem in every file is
// reported at once, each as "file:line:column: rule "name": what is wrong",
// wrapped in ErrInvalid.
//
// Every rule's cost is bounded: at load, CEL estimates its worst case from
// bounds on the input (the body at most WithMaxBody, every other string at
// most 1 MiB, the most an HTTP request line and headers hold). A rule whose
// worst case is within the cost limit runs as it is; any other counts its
// cost as it runs, several times slower, and fails, denying the request,
// when it goes over.
func Compile(srcs []Source, opts ...Option) (*Set, error) {
	o := options{costLimit: DefaultCostLimit, maxBody: DefaultMaxBody}
	for _, opt := range opts {
		opt(&o)
	}
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	c := &compiler{env: env, opts: o, seen: map[string]string{}}
	for _, src := range srcs {
		c.file(src)
	}
	if len(c.problems) > 0 {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalid, errors.Join(c.problems...))
	}
	return &Set{rules: c.rules}, nil
}

// problem is one thing wrong with a policy file.
type problem struct {
	file      string
	line, col int
	rule      string
	msg       string
}

func (p problem) Error() string {
	var b strings.Builder
	b.WriteString(p.file)
	if p.line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.line, p.col)
	}
	b.WriteString(": ")
	if p.rule != "" {
		fmt.Fprintf(&b, "rule %q: ", p.rule)
	}
	b.WriteString(p.msg)
	return b.String()
}

// compiler accumulates rules and problems across files.
type compiler struct {
	env      *cel.Env
	opts     options
	rules    []rule
	problems []error
	// seen maps a rule name to where it was first defined.
	seen map[string]string
}

func (c *compiler) addf(file string, pos *token.Position, rule, format string, args ...any) {
	p := problem{file: file, rule: rule, msg: fmt.Sprintf(format, args...)}
	if pos != nil {
		p.line, p.col = pos.Line, pos.Column
	}
	c.problems = append(c.problems, p)
}

// addYAML records a decoding error, with its position when it has one.
func (c *compiler) addYAML(file, rule string, err error) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		var pos *token.Position
		if tk := ye.GetToken(); tk != nil {
			pos = tk.Position
		}
		c.addf(file, pos, rule, "%s", ye.GetMessage())
		return
	}
	c.addf(file, nil, rule, "%v", err)
}

// parseYAML and decodeNode are the YAML library's calls with a panic
// turned into an error: the library has panicked on malformed input, and a
// bad policy file must not bring the service down, least of all on reload.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parsing YAML: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func decodeNode(n ast.Node, v any, opts ...yaml.DecodeOption) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding YAML: %v", r)
		}
	}()
	return yaml.NodeToValue(n, v, opts...)
}

// nameLine is a rule's name as it is usually written, on a line of its own.
var nameLine = regexp.MustCompile(`^\s*(?:-\s+)?name:\s*["']?([a-zA-Z0-9._-]+)`)

// ruleNear guesses which rule a YAML syntax error is in, from the text,
// since a file that does not parse has no rules to ask: the last name
// written at or above the error's line.
func ruleNear(data []byte, err error) string {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return ""
	}
	lines := strings.Split(string(data), "\n")
	for i := min(ye.GetToken().Position.Line, len(lines)) - 1; i >= 0; i-- {
		if m := nameLine.FindStringSubmatch(lines[i]); m != nil {
			return m[1]
		}
	}
	return ""
}

// policyFile is the top level of a policy file.
type policyFile struct {
	Rules []ast.Node `yaml:"rules"`
}

// ruleDoc is one rule as written. When stays a node so that CEL errors can
// be placed in the file.
type ruleDoc struct {
	Name   string   `yaml:"name"`
	Effect string   `yaml:"effect"`
	When   ast.Node `yaml:"when"`
	Reason string   `yaml:"reason"`
	Shadow bool     `yaml:"shadow"`
	// MaskSecrets: an allow that forwards the body with the masker's
	// findings masked, rather than as sent.
	MaskSecrets bool `yaml:"mask_secrets"`
}

func (c *compiler) file(src Source) {
	f, err := parseYAML(src.Data)
	if err != nil {
		c.addYAML(src.Name, ruleNear(src.Data, err), err)
		return
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch {
	case len(docs) == 0:
		c.addf(src.Name, nil, "", "empty policy file: want a top-level \"rules\" list")
		return
	case len(docs) > 1:
		c.addf(src.Name, docs[1].Body.GetToken().Position, "", "more than one YAML document: want one with a \"rules\" list")
		return
	}
	var pf policyFile
	if err := decodeNode(docs[0].Body, &pf, yaml.Strict()); err != nil {
		c.addYAML(src.Name, "", err)
		return
	}
	if pf.Rules == nil {
		c.addf(src.Name, docs[0].Body.GetToken().Position, "", "missing \"rules\" list")
		return
	}
	for _, n := range pf.Rules {
		c.rule(src.Name, n)
	}
}

func (c *compiler) rule(file string, n ast.Node) {
	if n == nil {
		c.addf(file, nil, "", "empty rule: a rule must be a mapping with name, effect and when")
		return
	}
	pos := n.GetToken().Position
	mapping, ok := n.(*ast.MappingNode)
	if !ok {
		c.addf(file, pos, "", "a rule must be a mapping with name, effect and when")
		return
	}
	if len(mapping.Values) > 0 {
		// The rule is where its first key is, not at that key's colon.
		pos = mapping.Values[0].Key.GetToken().Position
	}
	// Decode the name leniently first, so that every later problem,
	// including an unknown field, can name its rule.
	var named struct {
		Name string `yaml:"name"`
	}
	_ = decodeNode(n, &named)
	var d ruleDoc
	if err := decodeNode(n, &d, yaml.Strict()); err != nil {
		c.addYAML(file, named.Name, err)
		return
	}
	where := func(key string) *token.Position {
		for _, v := range mapping.Values {
			if k := v.Key.GetToken(); k != nil && k.Value == key {
				return v.Value.GetToken().Position
			}
		}
		return pos
	}
	bad := false
	switch {
	case d.Name == "":
		c.addf(file, pos, "", "missing name")
		bad = true
	case len(d.Name) > maxNameLen || !ruleName.MatchString(d.Name):
		c.addf(file, where("name"), d.Name, "invalid name: want lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most %d", maxNameLen)
		bad = true
	default:
		at := fmt.Sprintf("%s:%d:%d", file, where("name").Line, where("name").Column)
		if first, dup := c.seen[d.Name]; dup {
			c.addf(file, where("name"), d.Name, "duplicate rule name (first defined at %s)", first)
			bad = true
		} else {
			c.seen[d.Name] = at
		}
	}
	switch d.Effect {
	case EffectAllow, EffectDeny, EffectApprove:
	case "":
		c.addf(file, pos, d.Name, "missing effect: want allow, deny or approve")
		bad = true
	default:
		c.addf(file, where("effect"), d.Name, "invalid effect %q: want allow, deny or approve", d.Effect)
		bad = true
	}
	if d.MaskSecrets && d.Effect != EffectAllow {
		c.addf(file, where("mask_secrets"), d.Name, "mask_secrets applies to allow rules only: a %s does not forward", d.Effect)
		bad = true
	}
	if d.When == nil {
		c.addf(file, pos, d.Name, "missing when: want a CEL boolean expression")
		return
	}
	w, ok := whenOf(d.When)
	if !ok {
		c.addf(file, where("when"), d.Name, "when must be a string holding a CEL boolean expression")
		return
	}
	prg, ok := c.compile(file, d.Name, w)
	if !ok || bad {
		return
	}
	c.rules = append(c.rules, newRule(prg, Rule{
		Name:   d.Name,
		Effect: d.Effect,
		When:   w.expr,
		Reason: d.Reason,
		Shadow: d.Shadow,
		File:   file,
		Line:   pos.Line,

		MaskSecrets: d.MaskSecrets,
	}))
}

// program is a rule's compiled expression: its guard, then, unless the
// guard is the whole expression, a CEL program for the rest.
type program struct {
	prg cel.Program
	// tracked is true when the program counts its cost as it runs.
	tracked bool
	guard   guard
}

// compile type-checks a rule's expression, estimates its cost and plans
// its program.
func (c *compiler) compile(file, name string, w when) (program, bool) {
	checked, iss := c.env.Compile(w.expr)
	if iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := w.position(e.Location.Line(), e.Location.Column())
			c.problems = append(c.problems, problem{file: file, line: line, col: col, rule: name, msg: "when: " + e.Message})
		}
		return program{}, false
	}
	if t := checked.OutputType(); !t.IsExactType(cel.BoolType) {
		c.addf(file, &token.Position{Line: w.line, Column: w.col}, name, "when must be a boolean expression, not %s", t)
		return program{}, false
	}
	est := estimator{maxBody: c.opts.maxBody}
	cost, err := c.env.EstimateCost(checked, est)
	p := program{tracked: err != nil || cost.Max > c.opts.costLimit}
	popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if p.tracked {
		popts = append(popts, cel.CostTracking(est), cel.CostLimit(c.opts.costLimit))
	} else {
		// Guards only where the cost limit cannot be reached: they do not
		// count their cost.
		var rest residual
		p.guard, rest = splitGuard(checked.NativeRep().Expr())
		if p.guard.exact {
			return p, true
		}
		if len(p.guard.checks) > 0 {
			// When the rewrite fails, which it should not, the whole
			// expression runs after the guard: slower, as right.
			if opt, err := cel.NewStaticOptimizer(rest); err == nil {
				if r, iss := opt.Optimize(c.env, checked); iss.Err() == nil {
					checked = r
				}
			}
		}
	}
	if p.prg, err = c.env.Program(checked, popts...); err != nil {
		c.addf(file, &token.Position{Line: w.line, Column: w.col}, name, "when: planning program: %v", err)
		return program{}, false
	}
	return p, true
}

// when is a rule's expression and where its text sits in the file.
type when struct {
	expr string
	// line and col are where the expression's first character is.
	line, col int
	// block is true for a literal block scalar ("|"), whose lines are the
	// expression's lines.
	block bool
	// cont holds, for each further line of a plain or folded scalar, the
	// column its text starts at and its length in code points: the YAML
	// reader joined them with spaces into one CEL line.
	cont []span
}

type span struct{ col, len int }

// whenOf reads the expression out of the "when" node.
func whenOf(n ast.Node) (when, bool) {
	tk := n.GetToken()
	w := when{line: tk.Position.Line, col: tk.Position.Column}
	switch v := n.(type) {
	case *ast.StringNode:
		w.expr = v.Value
		switch tk.Type {
		case token.DoubleQuoteType, token.SingleQuoteType:
			// Escapes may shift later columns a little.
			w.col++
		default:
			w.cont = continuation(tk.Origin, false)
		}
	case *ast.LiteralNode:
		w.expr = v.Value.Value
		lines := continuation(v.Value.Token.Origin, true)
		w.line++
		w.col = 1
		if len(lines) > 0 {
			w.col = lines[0].col
		}
		if tk.Type == token.LiteralType {
			w.block = true
		} else if len(lines) > 0 {
			w.cont = lines[1:]
		}
	case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.NullNode:
		// "when: true" is a valid, if blunt, expression.
		w.expr = tk.Value
	default:
		return when{}, false
	}
	return w, true
}

// continuation measures the lines of a scalar's source text. For a plain
// scalar the first line is the one the token already places, so only the
// lines after it are returned.
func continuation(origin string, all bool) []span {
	lines := strings.Split(origin, "\n")
	if !all {
		if len(lines) < 2 {
			return nil
		}
		lines = lines[1:]
	}
	var out []span
	for _, l := range lines {
		text := strings.TrimLeft(l, " \t")
		if strings.TrimSpace(text) == "" {
			continue
		}
		out = append(out, span{col: len(l) - len(text) + 1, len: utf8.RuneCountInString(strings.TrimRight(text, " \t"))})
	}
	return out
}

// position maps a CEL location (1-based line, 0-based column in code
// points) to a 1-based line and column in the file.
func (w when) position(celLine, celCol int) (int, int) {
	if w.block {
		// The block's lines are the expression's lines; all share the
		// block's indentation.
		return w.line + celLine - 1, w.col + celCol
	}
	if celLine > 1 {
		return w.line + celLine - 1, celCol + 1
	}
	// One CEL line, perhaps folded from several lines of the file: walk
	// them, each joined to the last by one space.
	first := utf8.RuneCountInString(strings.SplitN(w.expr, "\n", 2)[0])
	if len(w.cont) > 0 {
		first = celLineLen(w)
	}
	if celCol < first || len(w.cont) == 0 {
		return w.line, w.col + celCol
	}
	off := celCol - first - 1
	for i, s := range w.cont {
		if off < s.len || i == len(w.cont)-1 {
			return w.line + i + 1, s.col + max(off, 0)
		}
		off -= s.len + 1
	}
	return w.line, w.col + celCol
}

// celLineLen is the length of the first source line of a folded scalar:
// the whole expression less the continuation lines and their joins.
func celLineLen(w when) int {
	n := utf8.RuneCountInString(strings.TrimRight(w.expr, "\n"))
	for _, s := range w.cont {
		n -= s.len + 1
	}
	return n
}
