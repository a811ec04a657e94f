package rules

import (
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// guard holds the conjuncts of a rule's expression (the operands of its
// top-level "&&") that have a simple, common shape, compiled to Go:
// comparing a field with literals, a glob, a header's presence, a group.
// Such a conjunct cannot fail, so when one is false the expression is false
// (in CEL, false && anything is false, errors included) and the rule is
// skipped without running its program; when all hold, the expression is
// the conjunction of the rest, and the program is compiled from those
// alone; when the guard holds every conjunct, it is the whole expression
// and there is no program. A Go comparison costs a few nanoseconds, a CEL
// program a hundred or more, and most rules are made of these shapes.
// TestGuardsAgreeWithCEL checks that guard and CEL always agree.
type guard struct {
	checks []check
	// exact is true when the checks are the whole expression.
	exact bool
}

// check is a compiled conjunct.
type check func(a *activation) bool

// admits reports whether every check holds.
func (g *guard) admits(a *activation) bool {
	for _, c := range g.checks {
		if !c(a) {
			return false
		}
	}
	return true
}

// splitGuard compiles the guard of a checked expression and returns the
// ids of the conjuncts it could not compile.
func splitGuard(e ast.Expr) (guard, residual) {
	var g guard
	rest := residual{}
	for _, c := range conjuncts(e, nil) {
		if ch, ok := checkOf(c); ok {
			g.checks = append(g.checks, ch)
		} else {
			rest[c.ID()] = true
		}
	}
	g.exact = len(rest) == 0
	return g, rest
}

// residual rewrites an expression to the conjunction of the conjuncts
// whose ids it holds: what is left to CEL once the guard holds. It is a
// cel.ASTOptimizer, so that the result is type-checked again.
type residual map[int64]bool

// Optimize implements cel.ASTOptimizer.
func (r residual) Optimize(ctx *cel.OptimizerContext, a *ast.AST) *ast.AST {
	var out ast.Expr
	for _, c := range conjuncts(a.Expr(), nil) {
		if !r[c.ID()] {
			continue
		}
		if out == nil {
			out = c
		} else {
			out = ctx.NewCall(operators.LogicalAnd, out, c)
		}
	}
	if out == nil {
		return a
	}
	return ast.NewAST(out, a.SourceInfo())
}

var _ cel.ASTOptimizer = residual(nil)

// conjuncts flattens a && b && c.
func conjuncts(e ast.Expr, out []ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		for _, a := range e.AsCall().Args() {
			out = conjuncts(a, out)
		}
		return out
	}
	return append(out, e)
}

// stringFields read the string fields of the variables.
var stringFields = map[string]map[string]func(a *activation) string{
	varRequest: {
		"method":   func(a *activation) string { return a.req.Method },
		"path":     func(a *activation) string { return a.req.Path },
		"raw_path": func(a *activation) string { return a.req.RawPath },
		"host":     func(a *activation) string { return a.req.Host },
		"body":     func(a *activation) string { return a.req.Body },
	},
	varIdentity: {
		"sub":   func(a *activation) string { return a.id.Subject },
		"iss":   func(a *activation) string { return a.id.Issuer },
		"email": func(a *activation) string { return a.id.Email },
	},
	varConnection: {
		"name": func(a *activation) string { return a.conn.Name },
		"type": func(a *activation) string { return a.conn.Type },
	},
	varOperation: {
		"action": func(a *activation) string { return a.op.Action },
		"repo":   func(a *activation) string { return a.op.Repo },
		"path":   func(a *activation) string { return a.op.Path },
	},
	varGitHub: {
		"owner":    func(a *activation) string { return a.gh.Owner },
		"repo":     func(a *activation) string { return a.gh.Repo },
		"resource": func(a *activation) string { return a.gh.Resource },
		"action":   func(a *activation) string { return a.gh.Action },
		"ref":      func(a *activation) string { return a.gh.Ref },
		"branch":   func(a *activation) string { return a.gh.Branch },
		"path":     func(a *activation) string { return a.gh.Path },
		"org":      func(a *activation) string { return a.gh.Org },
	},
	varMCP: {
		"method": func(a *activation) string { return a.mcp.Method },
		"tool":   func(a *activation) string { return a.mcp.Tool },
		"uri":    func(a *activation) string { return a.mcp.URI },
	},
}

// intFields and boolFields read the other scalar fields of request.
var (
	intFields = map[string]func(a *activation) int64{
		"body_size": func(a *activation) int64 { return a.req.BodySize },
	}
	boolFields = map[string]func(a *activation) bool{
		"body_truncated": func(a *activation) bool { return a.req.BodyTruncated },
	}
)

// mapFields read the map fields of request.
var mapFields = map[string]func(a *activation) map[string]string{
	"headers": func(a *activation) map[string]string { return a.req.Headers },
	"query":   func(a *activation) map[string]string { return a.req.Query },
}

// checkOf compiles an expression of a known shape, one that cannot fail:
//
//	F == "x", "x" == F, F != "x", F in ["x", "y"], F.startsWith("x"),
//	F.endsWith("x"), F.contains("x"), glob(F, "x")
//	    (F a string field, or request.headers[?"k"].orValue("d"), the
//	    same on request.query)
//	F.matches("re"), matches(F, "re")
//	"x" in request.headers, "x" in request.query
//	identity.in_group("x"), "x" in identity.groups
//	request.body_size < 10 (or <=, >, >=, ==, !=, either way round)
//	request.body_truncated
//	!C, C || D, C && D, true, false                  (C, D of these shapes)
func checkOf(e ast.Expr) (check, bool) {
	switch e.Kind() {
	case ast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			return func(*activation) bool { return bool(b) }, true
		}
		return nil, false
	case ast.SelectKind:
		sel := e.AsSelect()
		if f, ok := boolFields[sel.FieldName()]; ok && isField(e, varRequest, sel.FieldName()) {
			return f, true
		}
		return nil, false
	case ast.CallKind:
	default:
		return nil, false
	}
	call := e.AsCall()
	args := call.Args()
	if call.IsMemberFunction() {
		target := call.Target()
		if len(args) != 1 {
			return nil, false
		}
		lit, ok := stringLit(args[0])
		if !ok {
			return nil, false
		}
		if call.FunctionName() == "in_group" && isIdent(target, varIdentity) {
			return func(a *activation) bool { return slices.Contains(a.id.Groups, lit) }, true
		}
		f, ok := stringField(target)
		if !ok {
			return nil, false
		}
		switch call.FunctionName() {
		case "startsWith":
			return func(a *activation) bool { return strings.HasPrefix(f(a), lit) }, true
		case "endsWith":
			return func(a *activation) bool { return strings.HasSuffix(f(a), lit) }, true
		case "contains":
			return func(a *activation) bool { return strings.Contains(f(a), lit) }, true
		case "matches":
			return matchesCheck(f, lit)
		}
		return nil, false
	}
	switch fn := call.FunctionName(); fn {
	case operators.LogicalNot:
		c, ok := checkOf(args[0])
		if !ok {
			return nil, false
		}
		return func(a *activation) bool { return !c(a) }, true
	case operators.LogicalAnd, operators.LogicalOr:
		cs := make([]check, len(args))
		for i, arg := range args {
			c, ok := checkOf(arg)
			if !ok {
				return nil, false
			}
			cs[i] = c
		}
		if fn == operators.LogicalAnd {
			return func(a *activation) bool {
				for _, c := range cs {
					if !c(a) {
						return false
					}
				}
				return true
			}, true
		}
		return func(a *activation) bool {
			for _, c := range cs {
				if c(a) {
					return true
				}
			}
			return false
		}, true
	case "matches":
		if len(args) != 2 {
			return nil, false
		}
		f, ok := stringField(args[0])
		lit, ok2 := stringLit(args[1])
		if !ok || !ok2 {
			return nil, false
		}
		return matchesCheck(f, lit)
	case operators.Less, operators.LessEquals, operators.Greater, operators.GreaterEquals:
		return compareCheck(fn, args)
	case operators.Equals, operators.NotEquals:
		if len(args) != 2 {
			return nil, false
		}
		if c, ok := compareCheck(fn, args); ok {
			return c, true
		}
		f, ok := stringField(args[0])
		lit, ok2 := stringLit(args[1])
		if !ok || !ok2 {
			f, ok = stringField(args[1])
			lit, ok2 = stringLit(args[0])
		}
		if !ok || !ok2 {
			return nil, false
		}
		if fn == operators.Equals {
			return func(a *activation) bool { return f(a) == lit }, true
		}
		return func(a *activation) bool { return f(a) != lit }, true
	case operators.In:
		if len(args) != 2 {
			return nil, false
		}
		if f, ok := stringField(args[0]); ok {
			lits, ok := stringList(args[1])
			if !ok {
				return nil, false
			}
			return func(a *activation) bool { return slices.Contains(lits, f(a)) }, true
		}
		lit, ok := stringLit(args[0])
		if !ok {
			return nil, false
		}
		if isField(args[1], varIdentity, "groups") {
			return func(a *activation) bool { return slices.Contains(a.id.Groups, lit) }, true
		}
		for name, m := range mapFields {
			if isField(args[1], varRequest, name) {
				return func(a *activation) bool { _, ok := m(a)[lit]; return ok }, true
			}
		}
	case "glob":
		if len(args) != 2 {
			return nil, false
		}
		f, ok := stringField(args[0])
		pattern, ok2 := stringLit(args[1])
		if !ok || !ok2 {
			return nil, false
		}
		return func(a *activation) bool { return Glob(f(a), pattern) }, true
	}
	return nil, false
}

// matchesCheck compiles F.matches(re) as CEL does, with Go's RE2. A
// pattern that does not compile is left to CEL, which reports it.
func matchesCheck(f func(*activation) string, pattern string) (check, bool) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, false
	}
	return func(a *activation) bool { return re.MatchString(f(a)) }, true
}

// compareCheck compiles an integer field compared with an integer literal.
func compareCheck(op string, args []ast.Expr) (check, bool) {
	if len(args) != 2 {
		return nil, false
	}
	f, ok := intField(args[0])
	n, ok2 := intLit(args[1])
	if !ok || !ok2 {
		// The literal on the left: flip the comparison.
		f, ok = intField(args[1])
		n, ok2 = intLit(args[0])
		if !ok || !ok2 {
			return nil, false
		}
		switch op {
		case operators.Less:
			op = operators.Greater
		case operators.LessEquals:
			op = operators.GreaterEquals
		case operators.Greater:
			op = operators.Less
		case operators.GreaterEquals:
			op = operators.LessEquals
		}
	}
	switch op {
	case operators.Less:
		return func(a *activation) bool { return f(a) < n }, true
	case operators.LessEquals:
		return func(a *activation) bool { return f(a) <= n }, true
	case operators.Greater:
		return func(a *activation) bool { return f(a) > n }, true
	case operators.GreaterEquals:
		return func(a *activation) bool { return f(a) >= n }, true
	case operators.Equals:
		return func(a *activation) bool { return f(a) == n }, true
	case operators.NotEquals:
		return func(a *activation) bool { return f(a) != n }, true
	}
	return nil, false
}

func intField(e ast.Expr) (func(*activation) int64, bool) {
	if e.Kind() != ast.SelectKind {
		return nil, false
	}
	name := e.AsSelect().FieldName()
	f, ok := intFields[name]
	return f, ok && isField(e, varRequest, name)
}

func intLit(e ast.Expr) (int64, bool) {
	if e.Kind() != ast.LiteralKind {
		return 0, false
	}
	n, ok := e.AsLiteral().(types.Int)
	return int64(n), ok
}

// stringField returns the reader of a string operand: a string field of a
// variable, or a map entry read safely, request.headers[?"x"].orValue("").
func stringField(e ast.Expr) (func(*activation) string, bool) {
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() || sel.Operand().Kind() != ast.IdentKind {
			return nil, false
		}
		f, ok := stringFields[sel.Operand().AsIdent()][sel.FieldName()]
		return f, ok
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() != "orValue" || !call.IsMemberFunction() || len(call.Args()) != 1 {
			return nil, false
		}
		def, ok := stringLit(call.Args()[0])
		opt := call.Target()
		if !ok || opt.Kind() != ast.CallKind || opt.AsCall().FunctionName() != operators.OptIndex || len(opt.AsCall().Args()) != 2 {
			return nil, false
		}
		key, ok := stringLit(opt.AsCall().Args()[1])
		if !ok {
			return nil, false
		}
		for name, m := range mapFields {
			if isField(opt.AsCall().Args()[0], varRequest, name) {
				return func(a *activation) string {
					if v, ok := m(a)[key]; ok {
						return v
					}
					return def
				}, true
			}
		}
	}
	return nil, false
}

// isField reports whether e is variable.field.
func isField(e ast.Expr, variable, field string) bool {
	if e.Kind() != ast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	return !sel.IsTestOnly() && sel.FieldName() == field && isIdent(sel.Operand(), variable)
}

func isIdent(e ast.Expr, name string) bool {
	return e.Kind() == ast.IdentKind && e.AsIdent() == name
}

// stringLit returns the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// stringList returns the values of a list literal of string literals.
func stringList(e ast.Expr) ([]string, bool) {
	if e.Kind() != ast.ListKind || len(e.AsList().OptionalIndices()) > 0 {
		return nil, false
	}
	var out []string
	for _, el := range e.AsList().Elements() {
		s, ok := stringLit(el)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
