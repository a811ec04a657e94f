// Package graphql classifies a GitHub GraphQL API request (POST /graphql)
// into an Operation that policy rules can reason about: whether it is a
// query or a mutation, which mutations it names, and which repositories and
// branches its arguments mention.
//
// The query is parsed with gqlparser but not validated, since Airlock has no
// copy of GitHub's schema. Classification therefore errs towards seeing
// more: every mutation in the document counts, in every operation and
// fragment, whichever operation the request selects. Input that cannot be
// classified with confidence — malformed JSON or GraphQL, an ambiguous
// operation, a query over MaxQueryBytes or nested deeper than MaxDepth — is
// an error, which the caller treats as a reason to deny.
//
// # Repositories and branches
//
// Every field of the document is read, at every depth, in every operation
// and fragment (a superset of what executes), with variables resolved from
// the request or the operation's defaults. Within one argument list or
// input object:
//
//   - owner and name, or repositoryOwner and repositoryName, that are both
//     strings name a repository: repository(owner: "a", name: "b");
//   - nameWithOwner or repositoryNameWithOwner "a/b" names a repository:
//     createCommitOnBranch(input: {branch: {repositoryNameWithOwner: …}});
//   - url "https://github.com/a/b/…" names a repository: resource(url: …);
//   - query under search(…) names one per "repo:a/b" qualifier;
//   - qualifiedName, refName, branchName, baseRefName, headRefName and a
//     string branch name a branch, as does name under ref(…), createRef(…)
//     and createLinkedBranch(…) or in an element of refUpdates, and base and
//     head under mergeBranch(…).
//
// A branch value "refs/heads/x" becomes "x"; one under another refs/
// namespace (a tag) is not a branch. Node IDs (repositoryId, refId) name
// repositories and refs too, but cannot be resolved without asking GitHub,
// so a rule must not read an empty Repos as "no repository".
package graphql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits on hostile input.
const (
	// MaxQueryBytes is the longest query text Classify parses.
	MaxQueryBytes = 256 << 10
	// MaxDepth is how deep selection sets, list and object values and list
	// types may nest in a query, all counted together, and how deep JSON
	// may nest in the request body.
	MaxDepth = 64
)

// Operation is what a GraphQL request does. For a batched request (a JSON
// array of requests) it is the merge of every element: Type is the
// strongest of them (mutation, then subscription, then query), Name joins
// the elements' names with ",", Write is true if any element writes, and
// the lists are unions.
type Operation struct {
	// Type is "query", "mutation" or "subscription": the type of the
	// operation that will execute.
	Type string
	// Name is the operation's name, "" for an anonymous one.
	Name string
	// Mutations lists the top-level mutation field names (never aliases)
	// of every mutation operation in the document, including those reached
	// through fragments, and the top-level fields of any fragment on the
	// Mutation type, sorted and deduplicated. It covers operations the
	// request does not select, so that neither a second operation nor an
	// alias hides a mutation.
	Mutations []string
	// Fields lists the top-level field names of the selected operation,
	// through fragments, sorted and deduplicated.
	Fields []string
	// Repos lists the repositories, as lower-case "owner/name", named
	// literally or through variables anywhere in the document's arguments,
	// by the rules in the package documentation. A repository named only
	// by node ID (repositoryId) cannot be resolved and is absent.
	Repos []string
	// Branches lists the branch names found in arguments, best effort by
	// the same rules, with "refs/heads/" stripped and case preserved.
	Branches []string
	// Write reports whether the document holds any mutation, whether or not
	// the selected operation is one.
	Write bool
}

// request is one GraphQL request object, decoded.
type request struct {
	query         string
	operationName string
	variables     map[string]any
}

// Classify classifies the body of a POST /graphql request: a JSON object
// {"query", "operationName", "variables"}, or a JSON array of them.
func Classify(body []byte) (Operation, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Operation{}, errors.New("decoding graphql request: empty body")
	}
	if err := checkJSON(body); err != nil {
		return Operation{}, fmt.Errorf("decoding graphql request: %w", err)
	}

	if body[0] != '[' {
		return classifyOne(body)
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(body, &batch); err != nil {
		return Operation{}, fmt.Errorf("decoding graphql batch: %w", err)
	}
	if len(batch) == 0 {
		return Operation{}, errors.New("decoding graphql batch: empty batch")
	}
	var merged Operation
	names := make([]string, 0, len(batch))
	for i, raw := range batch {
		op, err := classifyOne(raw)
		if err != nil {
			return Operation{}, fmt.Errorf("batch element %d: %w", i, err)
		}
		names = append(names, op.Name)
		merged.Type = strongest(merged.Type, op.Type)
		merged.Write = merged.Write || op.Write
		merged.Mutations = append(merged.Mutations, op.Mutations...)
		merged.Fields = append(merged.Fields, op.Fields...)
		merged.Repos = append(merged.Repos, op.Repos...)
		merged.Branches = append(merged.Branches, op.Branches...)
	}
	merged.Name = strings.Join(names, ",")
	merged.Mutations = sortedSet(merged.Mutations)
	merged.Fields = sortedSet(merged.Fields)
	merged.Repos = sortedSet(merged.Repos)
	merged.Branches = sortedSet(merged.Branches)
	return merged, nil
}

// classifyOne classifies one request object.
func classifyOne(raw []byte) (Operation, error) {
	req, err := decodeRequest(raw)
	if err != nil {
		return Operation{}, fmt.Errorf("decoding graphql request: %w", err)
	}
	doc, err := parse(req.query)
	if err != nil {
		return Operation{}, err
	}
	selected, err := selectOperation(doc, req.operationName)
	if err != nil {
		return Operation{}, fmt.Errorf("selecting operation: %w", err)
	}

	fragments := make(map[string][]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		fragments[f.Name] = append(fragments[f.Name], f)
	}

	op := Operation{Type: string(selected.Operation), Name: selected.Name}
	topLevel(selected.SelectionSet, fragments, false, map[spread]bool{}, func(name string, _ bool) {
		op.Fields = append(op.Fields, name)
	})

	// Mutations anywhere: in mutation operations, and under any fragment
	// on the Mutation type, even in an operation of another type (GitHub
	// would reject that, but classification does not rely on it). One seen
	// set serves every operation, so that many operations spreading one
	// long chain of fragments cost the chain once.
	addMutation := func(name string, mutation bool) {
		if mutation && name != "__typename" {
			op.Mutations = append(op.Mutations, name)
		}
	}
	seen := map[spread]bool{}
	for _, o := range doc.Operations {
		isMutation := o.Operation == ast.Mutation
		op.Write = op.Write || isMutation
		topLevel(o.SelectionSet, fragments, isMutation, seen, addMutation)
	}
	for _, f := range doc.Fragments {
		if f.TypeCondition == mutationType {
			topLevel(f.SelectionSet, fragments, true, seen, addMutation)
		}
	}
	op.Write = op.Write || len(op.Mutations) > 0

	if err := scanDocument(doc, selected, req.variables, &op); err != nil {
		return Operation{}, fmt.Errorf("reading arguments: %w", err)
	}
	op.Mutations = sortedSet(op.Mutations)
	op.Fields = sortedSet(op.Fields)
	op.Repos = sortedSet(op.Repos)
	op.Branches = sortedSet(op.Branches)
	return op, nil
}

// mutationType is the name of GitHub's root mutation type, as a fragment's
// type condition names it.
const mutationType = "Mutation"

// decodeRequest decodes one request object. Keys match exactly, as GitHub's
// server matches them (encoding/json's case-insensitive struct matching
// would let "Query" stand in for "query"); unknown keys are ignored.
func decodeRequest(raw []byte) (request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return request{}, fmt.Errorf("want a JSON object: %w", err)
	}
	var req request

	q, ok := fields["query"]
	if !ok || isNull(q) {
		return request{}, errors.New("no query")
	}
	if err := json.Unmarshal(q, &req.query); err != nil {
		return request{}, fmt.Errorf("query is not a string: %w", err)
	}

	if n, ok := fields["operationName"]; ok && !isNull(n) {
		if err := json.Unmarshal(n, &req.operationName); err != nil {
			return request{}, fmt.Errorf("operationName is not a string: %w", err)
		}
	}

	if v, ok := fields["variables"]; ok && !isNull(v) {
		// Some clients send the variables as a JSON-encoded string.
		var s string
		if json.Unmarshal(v, &s) == nil {
			v = []byte(s)
			if err := checkJSON(v); err != nil {
				return request{}, fmt.Errorf("variables: %w", err)
			}
		}
		if err := json.Unmarshal(v, &req.variables); err != nil {
			return request{}, fmt.Errorf("variables are not a JSON object: %w", err)
		}
	}
	return req, nil
}

// isNull reports whether raw is the JSON null.
func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// parse checks the query against the limits and parses it.
func parse(query string) (*ast.QueryDocument, error) {
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("parsing graphql query: empty query")
	}
	if len(query) > MaxQueryBytes {
		return nil, fmt.Errorf("parsing graphql query: %d bytes is over the limit of %d", len(query), MaxQueryBytes)
	}
	src := &ast.Source{Name: "query", Input: query}
	if err := checkDepth(src); err != nil {
		return nil, fmt.Errorf("parsing graphql query: %w", err)
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return nil, fmt.Errorf("parsing graphql query: %w", err)
	}
	if len(doc.Operations) == 0 {
		return nil, errors.New("parsing graphql query: no operation, only fragments")
	}
	return doc, nil
}

// checkDepth lexes src and fails if braces and brackets nest deeper than
// MaxDepth, before the recursive parser sees it.
func checkDepth(src *ast.Source) error {
	lx := lexer.New(src)
	depth := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind {
		case lexer.EOF:
			return nil
		case lexer.BraceL, lexer.BracketL:
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("line %d: nested deeper than %d levels", tok.Pos.Line, MaxDepth)
			}
		case lexer.BraceR, lexer.BracketR:
			depth--
		}
	}
}

// selectOperation returns the operation that will execute: the one named
// operationName, or the only one when operationName is empty.
func selectOperation(doc *ast.QueryDocument, operationName string) (*ast.OperationDefinition, error) {
	if operationName == "" {
		if len(doc.Operations) != 1 {
			return nil, fmt.Errorf("the query has %d operations and no operationName selects one", len(doc.Operations))
		}
		return doc.Operations[0], nil
	}
	var found *ast.OperationDefinition
	for _, o := range doc.Operations {
		if o.Name != operationName {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("more than one operation is named %q", operationName)
		}
		found = o
	}
	if found == nil {
		return nil, fmt.Errorf("operationName %q names no operation in the query", operationName)
	}
	return found, nil
}

// spread is a fragment spread as topLevel tracks it: the fragment, and
// whether it is spread where fields are mutations.
type spread struct {
	name     string
	mutation bool
}

// topLevel calls visit with the name of every top-level field of set,
// descending into inline fragments and fragment spreads (each spread in
// seen once, so cycles end). mutation says whether set is on the Mutation
// type; a fragment whose type condition is Mutation makes its fields
// mutations too.
func topLevel(set ast.SelectionSet, fragments map[string][]*ast.FragmentDefinition, mutation bool, seen map[spread]bool, visit func(name string, mutation bool)) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			visit(s.Name, mutation)
		case *ast.InlineFragment:
			topLevel(s.SelectionSet, fragments, mutation || s.TypeCondition == mutationType, seen, visit)
		case *ast.FragmentSpread:
			key := spread{s.Name, mutation}
			if seen[key] {
				continue
			}
			seen[key] = true
			for _, f := range fragments[s.Name] {
				topLevel(f.SelectionSet, fragments, mutation || f.TypeCondition == mutationType, seen, visit)
			}
		}
	}
}

// strongest returns the more consequential of two operation types.
func strongest(a, b string) string {
	rank := func(t string) int {
		switch t {
		case "mutation":
			return 3
		case "subscription":
			return 2
		case "query":
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// sortedSet sorts s and removes duplicates, returning nil when it is empty.
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// checkJSON checks that data is JSON nested at most MaxDepth deep with no
// duplicate keys in any object. Servers disagree on which of two equal keys
// wins, so a body with {"query": harmless, "query": mutation} could be
// classified on one and executed on the other.
func checkJSON(data []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 {
				return errors.New("unexpected end of JSON")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				continue
			}
			if top.wantKey {
				key, _ := tok.(string)
				if top.keys[key] {
					return fmt.Errorf("duplicate key %q", key)
				}
				top.keys[key] = true
				top.wantKey = false
				continue
			}
			top.wantKey = true // tok starts this key's value
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= MaxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)
			}
			f := frame{object: tok == json.Delim('{'), wantKey: true}
			if f.object {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
