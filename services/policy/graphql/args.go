package graphql

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// value is an argument value made uniform across GraphQL literals and JSON
// variables: a string, an object, a list ([]value), or nil for anything
// else (numbers, booleans, enums, null, unset variables).
type value = any

// object is an input object or argument list as ordered pairs, keeping
// duplicate keys so that a repeated argument is read, not overwritten.
type object []pair

// pair is one key of an object.
type pair struct {
	key string
	val value
}

// scanContext is where an object sits: the field whose arguments it is in,
// and the key it is the value of ("" for the argument list itself).
type scanContext struct {
	field, key string
}

// scanner collects repositories and branches into op.
type scanner struct {
	op   *Operation
	vars map[string]any
	// converted caches each request variable once converted.
	converted map[string]value
	// budget is how many more values, pairs and repository candidates the
	// scan may visit. A variable is converted and scanned wherever it is
	// used, so a large variable used many times, or many repeated owner
	// and name arguments, would otherwise cost far more than the body's
	// size.
	budget int
}

// scanBudget bounds the work of scanning one request's arguments. A
// legitimate request (a commit of a thousand files) visits a few thousand.
const scanBudget = 1 << 18

// errBudget is returned when a request's arguments exceed scanBudget.
var errBudget = fmt.Errorf("arguments too large to classify (over %d values)", scanBudget)

// spend takes n from the budget and reports whether any is left.
func (s *scanner) spend(n int) bool {
	s.budget -= n
	return s.budget >= 0
}

// scanDocument reads the arguments of every field of doc into op.Repos and
// op.Branches. Fragments resolve variables as the selected operation does.
func scanDocument(doc *ast.QueryDocument, selected *ast.OperationDefinition, vars map[string]any, op *Operation) error {
	s := scanner{op: op, vars: vars, converted: map[string]value{}, budget: scanBudget}
	for _, o := range doc.Operations {
		if err := s.selectionSet(o.SelectionSet, o.VariableDefinitions, 0); err != nil {
			return err
		}
	}
	for _, f := range doc.Fragments {
		if err := s.selectionSet(f.SelectionSet, selected.VariableDefinitions, 0); err != nil {
			return err
		}
	}
	if s.budget < 0 {
		return errBudget
	}
	return nil
}

// selectionSet scans every field in set and below.
func (s *scanner) selectionSet(set ast.SelectionSet, defs ast.VariableDefinitionList, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("selections nested deeper than %d levels", MaxDepth)
	}
	for _, sel := range set {
		switch f := sel.(type) {
		case *ast.Field:
			args := make(object, 0, len(f.Arguments))
			for _, a := range f.Arguments {
				v, err := s.resolve(a.Value, defs, 0)
				if err != nil {
					return fmt.Errorf("argument %s of %s: %w", a.Name, f.Name, err)
				}
				args = append(args, pair{a.Name, v})
			}
			s.object(scanContext{field: f.Name}, args, 0)
			if s.budget < 0 {
				return errBudget
			}
			if err := s.selectionSet(f.SelectionSet, defs, depth+1); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := s.selectionSet(f.SelectionSet, defs, depth+1); err != nil {
				return err
			}
		}
		// A fragment spread's fields are scanned with its definition.
	}
	return nil
}

// object applies the argument rules to obj and descends into its values.
// Depth is bounded by the limits on the query and the JSON body.
func (s *scanner) object(ctx scanContext, obj object, depth int) {
	if depth > MaxDepth || !s.spend(len(obj)) {
		return
	}
	strs := func(key string) []string {
		var out []string
		for _, p := range obj {
			if v, ok := p.val.(string); ok && p.key == key {
				out = append(out, v)
			}
		}
		return out
	}

	owners := strs("owner")
	s.repoPairs(owners, strs("name"))
	s.repoPairs(strs("repositoryOwner"), strs("repositoryName"))
	for _, key := range []string{"nameWithOwner", "repositoryNameWithOwner"} {
		for _, v := range strs(key) {
			if o, n, ok := strings.Cut(v, "/"); ok {
				s.repo(o, n)
			}
		}
	}
	for _, v := range strs("url") {
		s.repoURL(v)
	}
	if ctx.field == "search" && ctx.key == "" {
		for _, v := range strs("query") {
			for _, term := range strings.Fields(v) {
				if rest, ok := strings.CutPrefix(strings.ToLower(term), "repo:"); ok {
					if o, n, ok := strings.Cut(rest, "/"); ok {
						s.repo(o, n)
					}
				}
			}
		}
	}

	for _, key := range []string{"qualifiedName", "refName", "branchName", "baseRefName", "headRefName", "branch"} {
		for _, v := range strs(key) {
			s.branch(v)
		}
	}
	if len(owners) == 0 && (ctx.key == "refUpdates" || ctx.field == "ref" || ctx.field == "createRef" || ctx.field == "createLinkedBranch") {
		for _, v := range strs("name") {
			s.branch(v)
		}
	}
	if ctx.field == "mergeBranch" {
		for _, v := range append(strs("base"), strs("head")...) {
			s.branch(v)
		}
	}

	for _, p := range obj {
		s.value(scanContext{field: ctx.field, key: p.key}, p.val, depth+1)
	}
}

// value descends into v, an object's value.
func (s *scanner) value(ctx scanContext, v value, depth int) {
	if !s.spend(1) {
		return
	}
	switch v := v.(type) {
	case object:
		s.object(ctx, v, depth)
	case []value:
		for _, e := range v {
			s.value(ctx, e, depth+1)
		}
	}
}

// repoPairs adds every owner/name pair. There is more than one only when
// an argument is repeated, which GitHub rejects but the budget must cover.
func (s *scanner) repoPairs(owners, names []string) {
	if !s.spend(len(owners) * len(names)) {
		return
	}
	for _, o := range owners {
		for _, n := range names {
			s.repo(o, n)
		}
	}
}

// repo adds owner/name when both are non-empty and name has no slash.
func (s *scanner) repo(owner, name string) {
	owner, name = strings.TrimSpace(owner), strings.TrimSpace(name)
	if owner == "" || name == "" || strings.ContainsRune(owner, '/') || strings.ContainsRune(name, '/') {
		return
	}
	s.op.Repos = append(s.op.Repos, strings.ToLower(owner+"/"+name))
}

// repoURL adds the repository of a github.com URL.
func (s *scanner) repoURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(strings.TrimPrefix(u.Hostname(), "www."), "github.com") {
		return
	}
	parts := strings.SplitN(strings.Trim(u.Path, "/"), "/", 3)
	if len(parts) >= 2 {
		s.repo(parts[0], parts[1])
	}
}

// branch adds a branch name, short or under refs/heads/.
func (s *scanner) branch(v string) {
	if b, ok := strings.CutPrefix(v, "refs/heads/"); ok {
		v = b
	} else if strings.HasPrefix(v, "refs/") {
		return
	}
	if v != "" {
		s.op.Branches = append(s.op.Branches, v)
	}
}

// resolve converts an AST value, resolving a variable from the request's
// variables or, failing that, its default in defs. A default is a
// constant, so resolving it does not recurse through variables.
func (s *scanner) resolve(v *ast.Value, defs ast.VariableDefinitionList, depth int) (value, error) {
	if v == nil {
		return nil, nil
	}
	if depth > MaxDepth {
		return nil, fmt.Errorf("value nested deeper than %d levels", MaxDepth)
	}
	if !s.spend(1) {
		return nil, errBudget
	}
	switch v.Kind {
	case ast.Variable:
		if c, ok := s.converted[v.Raw]; ok {
			return c, nil
		}
		if jv, ok := s.vars[v.Raw]; ok {
			c, err := s.fromJSON(jv, 0)
			if err == nil {
				s.converted[v.Raw] = c
			}
			return c, err
		}
		if d := defs.ForName(v.Raw); d != nil && d.DefaultValue != nil && d.DefaultValue.Kind != ast.Variable {
			return s.resolve(d.DefaultValue, defs, depth+1)
		}
		return nil, nil
	case ast.StringValue, ast.BlockValue:
		return v.Raw, nil
	case ast.ListValue:
		list := make([]value, 0, len(v.Children))
		for _, c := range v.Children {
			e, err := s.resolve(c.Value, defs, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		return list, nil
	case ast.ObjectValue:
		obj := make(object, 0, len(v.Children))
		for _, c := range v.Children {
			e, err := s.resolve(c.Value, defs, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, pair{c.Name, e})
		}
		return obj, nil
	default:
		return nil, nil
	}
}

// fromJSON converts a decoded JSON variable value.
func (s *scanner) fromJSON(v any, depth int) (value, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("variable nested deeper than %d levels", MaxDepth)
	}
	if !s.spend(1) {
		return nil, errBudget
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case []any:
		list := make([]value, 0, len(v))
		for _, e := range v {
			c, err := s.fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, c)
		}
		return list, nil
	case map[string]any:
		obj := make(object, 0, len(v))
		for k, e := range v {
			c, err := s.fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			obj = append(obj, pair{k, c})
		}
		return obj, nil
	default:
		return nil, nil
	}
}
