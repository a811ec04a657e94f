package graphql

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// body builds a request body; a nil vars leaves "variables" out, and an
// empty operationName leaves it out.
func body(t testing.TB, query, operationName string, vars map[string]any) []byte {
	t.Helper()
	req := map[string]any{"query": query}
	if operationName != "" {
		req["operationName"] = operationName
	}
	if vars != nil {
		req["variables"] = vars
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("encoding request: %v", err)
	}
	return b
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name          string
		query, opName string
		vars          map[string]any
		want          Operation
	}{
		{
			name:  "named query",
			query: `query Me { viewer { login } rateLimit { remaining } }`,
			want:  Operation{Type: "query", Name: "Me", Fields: []string{"rateLimit", "viewer"}},
		},
		{
			name:  "anonymous shorthand",
			query: `{ viewer { login } }`,
			want:  Operation{Type: "query", Fields: []string{"viewer"}},
		},
		{
			name: "repository and ref literals",
			query: `{ repository(owner: "Acme", name: "Prod-API") {
				ref(qualifiedName: "refs/heads/Release/1.x") { target { oid } }
				tag: ref(qualifiedName: "refs/tags/v1") { name }
				pullRequests(baseRefName: "main", first: 5) { nodes { headRefName } }
			} }`,
			want: Operation{Type: "query", Fields: []string{"repository"}, Repos: []string{"acme/prod-api"}, Branches: []string{"Release/1.x", "main"}},
		},
		{
			name:  "aliases do not hide mutations",
			query: `mutation { a: deleteRef(input: {refId: "R1"}) { clientMutationId } b: deleteRef(input: {refId: "R2"}) { clientMutationId } viewer: updateRef(input: {refId: "R3", oid: "abc"}) { clientMutationId } }`,
			want:  Operation{Type: "mutation", Fields: []string{"deleteRef", "updateRef"}, Mutations: []string{"deleteRef", "updateRef"}, Write: true},
		},
		{
			name: "operationName selects the query, the other mutation still counts",
			query: `query Safe { viewer { login } }
				mutation Evil { deleteRef(input: {refId: "R1"}) { clientMutationId } }`,
			opName: "Safe",
			want:   Operation{Type: "query", Name: "Safe", Fields: []string{"viewer"}, Mutations: []string{"deleteRef"}, Write: true},
		},
		{
			name:   "operationName selects the mutation",
			query:  `query Safe { viewer { login } } mutation Evil { deleteRef(input: {refId: "R1"}) { clientMutationId } }`,
			opName: "Evil",
			want:   Operation{Type: "mutation", Name: "Evil", Fields: []string{"deleteRef"}, Mutations: []string{"deleteRef"}, Write: true},
		},
		{
			name: "mutation through a fragment spread",
			query: `mutation M { ...Harmless }
				fragment Harmless on Mutation { updateRef(input: {refId: "R", oid: "abc", force: true}) { clientMutationId } }`,
			want: Operation{Type: "mutation", Name: "M", Fields: []string{"updateRef"}, Mutations: []string{"updateRef"}, Write: true},
		},
		{
			name:  "mutation through an inline fragment",
			query: `mutation { ... on Mutation { mergePullRequest(input: {pullRequestId: "P"}) { clientMutationId } } ... { addStar(input: {starrableId: "S"}) { clientMutationId } } }`,
			want:  Operation{Type: "mutation", Fields: []string{"addStar", "mergePullRequest"}, Mutations: []string{"addStar", "mergePullRequest"}, Write: true},
		},
		{
			name:  "fragment on Mutation inside a query counts",
			query: `query { viewer { login } ... on Mutation { deleteRepository(input: {repositoryId: "R"}) { clientMutationId } } }`,
			want:  Operation{Type: "query", Fields: []string{"deleteRepository", "viewer"}, Mutations: []string{"deleteRepository"}, Write: true},
		},
		{
			name: "unused fragment on Mutation counts",
			query: `query { viewer { login } }
				fragment Later on Mutation { deleteRef(input: {refId: "R"}) { clientMutationId } }`,
			want: Operation{Type: "query", Fields: []string{"viewer"}, Mutations: []string{"deleteRef"}, Write: true},
		},
		{
			name: "fragment cycle ends",
			query: `query { ...A }
				fragment A on Query { ...B viewer { login } }
				fragment B on Query { ...A rateLimit { cost } }`,
			want: Operation{Type: "query", Fields: []string{"rateLimit", "viewer"}},
		},
		{
			name:  "__typename is not a mutation, but the operation still writes",
			query: `mutation { __typename }`,
			want:  Operation{Type: "mutation", Fields: []string{"__typename"}, Write: true},
		},
		{
			name:  "subscription",
			query: `subscription S { issueUpdated { id } }`,
			want:  Operation{Type: "subscription", Name: "S", Fields: []string{"issueUpdated"}},
		},
		{
			name:  "repository from variables",
			query: `query Repo($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id } }`,
			vars:  map[string]any{"owner": "ACME", "name": "Prod"},
			want:  Operation{Type: "query", Name: "Repo", Fields: []string{"repository"}, Repos: []string{"acme/prod"}},
		},
		{
			name:  "repository from a default and a variable",
			query: `query ($owner: String = "acme", $name: String!) { repository(owner: $owner, name: $name) { id } }`,
			vars:  map[string]any{"name": "infra"},
			want:  Operation{Type: "query", Fields: []string{"repository"}, Repos: []string{"acme/infra"}},
		},
		{
			name:  "unset variable names nothing",
			query: `query ($owner: String, $name: String) { repository(owner: $owner, name: $name) { id } }`,
			want:  Operation{Type: "query", Fields: []string{"repository"}},
		},
		{
			name:  "variable inside a fragment resolves from the request",
			query: `query Q($n: String!) { ...R } fragment R on Query { repository(owner: "acme", name: $n) { id } }`,
			vars:  map[string]any{"n": "web"},
			want:  Operation{Type: "query", Name: "Q", Fields: []string{"repository"}, Repos: []string{"acme/web"}},
		},
		{
			name:  "createCommitOnBranch input from a variable",
			query: `mutation Commit($input: CreateCommitOnBranchInput!) { createCommitOnBranch(input: $input) { commit { oid } } }`,
			vars: map[string]any{"input": map[string]any{
				"branch":          map[string]any{"repositoryNameWithOwner": "Acme/Prod", "branchName": "main"},
				"expectedHeadOid": "abc",
				"message":         map[string]any{"headline": "x"},
				"fileChanges":     map[string]any{"additions": []any{map[string]any{"path": ".github/workflows/ci.yml", "contents": "eA=="}}},
			}},
			want: Operation{Type: "mutation", Name: "Commit", Fields: []string{"createCommitOnBranch"}, Mutations: []string{"createCommitOnBranch"}, Repos: []string{"acme/prod"}, Branches: []string{"main"}, Write: true},
		},
		{
			name:  "createRef names its branch",
			query: `mutation { createRef(input: {repositoryId: "R_1", name: "refs/heads/feature/x", oid: "abc"}) { ref { name } } }`,
			want:  Operation{Type: "mutation", Fields: []string{"createRef"}, Mutations: []string{"createRef"}, Branches: []string{"feature/x"}, Write: true},
		},
		{
			name:  "updateRefs names branches but not tags",
			query: `mutation($u: [RefUpdate!]!) { updateRefs(input: {repositoryId: "R", refUpdates: $u}) { clientMutationId } }`,
			vars: map[string]any{"u": []any{
				map[string]any{"name": "refs/heads/main", "afterOid": "0", "force": true},
				map[string]any{"name": "refs/tags/v1", "afterOid": "1"},
			}},
			want: Operation{Type: "mutation", Fields: []string{"updateRefs"}, Mutations: []string{"updateRefs"}, Branches: []string{"main"}, Write: true},
		},
		{
			name:  "mergeBranch base and head, pull request refs",
			query: `mutation { mergeBranch(input: {repositoryId: "R", base: "main", head: "feature"}) { clientMutationId } createPullRequest(input: {repositoryId: "R", baseRefName: "develop", headRefName: "topic", title: "t"}) { clientMutationId } }`,
			want:  Operation{Type: "mutation", Fields: []string{"createPullRequest", "mergeBranch"}, Mutations: []string{"createPullRequest", "mergeBranch"}, Branches: []string{"develop", "feature", "main", "topic"}, Write: true},
		},
		{
			name:  "search qualifiers and resource URLs",
			query: `{ search(query: "is:pr Repo:Acme/API author:x", type: ISSUE, first: 5) { issueCount } resource(url: "https://github.com/acme/web/pull/3") { __typename } }`,
			want:  Operation{Type: "query", Fields: []string{"resource", "search"}, Repos: []string{"acme/api", "acme/web"}},
		},
		{
			name:   "repositories in every operation are listed",
			query:  `query A { repository(owner: "a", name: "one") { id } } query B { repository(owner: "b", name: "two") { id } }`,
			opName: "A",
			want:   Operation{Type: "query", Name: "A", Fields: []string{"repository"}, Repos: []string{"a/one", "b/two"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Classify(body(t, tt.query, tt.opName, tt.vars))
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestClassifyRawBodies(t *testing.T) {
	tests := []struct {
		name, body string
		want       Operation
	}{
		{
			name: "batch merges, a mutation anywhere makes it one",
			body: `[{"query": "query A { viewer { login } }"},
				{"query": "mutation B { addStar(input: {starrableId: \"S\"}) { clientMutationId } }", "operationName": null},
				{"query": "query C($o: String!) { repository(owner: $o, name: \"x\") { id } }", "variables": {"o": "Acme"}}]`,
			want: Operation{Type: "mutation", Name: "A,B,C", Fields: []string{"addStar", "repository", "viewer"}, Mutations: []string{"addStar"}, Repos: []string{"acme/x"}, Write: true},
		},
		{
			name: "variables as a JSON string",
			body: `{"query": "query($o: String!) { repository(owner: $o, name: \"x\") { id } }", "variables": "{\"o\": \"acme\"}"}`,
			want: Operation{Type: "query", Fields: []string{"repository"}, Repos: []string{"acme/x"}},
		},
		{
			name: "keys match exactly, as GitHub's server matches them",
			body: `{"Query": "mutation { deleteRef(input: {refId: \"R\"}) { clientMutationId } }", "query": "{ viewer { login } }"}`,
			want: Operation{Type: "query", Fields: []string{"viewer"}},
		},
		{
			name: "null variables and unknown keys",
			body: ` {"query": "{ viewer { login } }", "variables": null, "extensions": {"x": 1}} `,
			want: Operation{Type: "query", Fields: []string{"viewer"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Classify([]byte(tt.body))
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestClassifyErrors(t *testing.T) {
	deep := func(n int) string { // a query whose selection sets nest n deep
		return "{" + strings.Repeat("a{", n-1) + "b" + strings.Repeat("}", n)
	}
	manyOwners := "{ repository(" + strings.Repeat(`owner: "o", `, 2000) + strings.Repeat(`name: "n", `, 2000) + ") { id } }"
	tests := []struct {
		name, body, wantErr string
	}{
		{"empty body", "  ", "empty body"},
		{"not JSON", "query { viewer { login } }", "decoding graphql request"},
		{"malformed JSON", `{"query": "{ viewer }"`, "decoding graphql request"},
		{"trailing data", `{"query": "{ viewer { login } }"} {"query": "mutation { x }"}`, "decoding graphql request"},
		{"JSON string", `"{ viewer { login } }"`, "want a JSON object"},
		{"no query", `{"operationName": "A"}`, "no query"},
		{"null query", `{"query": null}`, "no query"},
		{"query not a string", `{"query": 42}`, "query is not a string"},
		{"operationName not a string", `{"query": "{ a }", "operationName": 1}`, "operationName is not a string"},
		{"variables not an object", `{"query": "{ a }", "variables": [1]}`, "variables are not a JSON object"},
		{"empty query", `{"query": "  \n "}`, "empty query"},
		{"duplicate query key", `{"query": "{ viewer { login } }", "query": "mutation { deleteRef(input: {refId: \"R\"}) { clientMutationId } }"}`, `duplicate key "query"`},
		{"duplicate variable key", `{"query": "{ a }", "variables": {"o": "a", "o": "b"}}`, `duplicate key "o"`},
		{"duplicate key in string variables", `{"query": "{ a }", "variables": "{\"o\": 1, \"o\": 2}"}`, `duplicate key "o"`},
		{"malformed GraphQL", `{"query": "{ viewer { login }"}`, "parsing graphql query"},
		{"not an operation", `{"query": "type Query { a: Int }"}`, "parsing graphql query"},
		{"only fragments", `{"query": "fragment F on Query { viewer { login } }"}`, "no operation"},
		{"ambiguous operations", `{"query": "query A { a } query B { b }"}`, "no operationName selects one"},
		{"unknown operationName", `{"query": "query A { a }", "operationName": "B"}`, `"B" names no operation`},
		{"duplicate operation names", `{"query": "query A { a } mutation A { b }", "operationName": "A"}`, `more than one operation is named "A"`},
		{"empty batch", `[]`, "empty batch"},
		{"bad batch element", `[{"query": "{ a }"}, {"query": "{"}]`, "batch element 1"},
		{"nested batch", `[[{"query": "{ a }"}]]`, "batch element 0"},
		{"selections too deep", string(body(t, deep(MaxDepth+1), "", nil)), "nested deeper than 64"},
		{"list argument too deep", string(body(t, "{ a(x: "+strings.Repeat("[", 70)+strings.Repeat("]", 70)+") }", "", nil)), "nested deeper than 64"},
		{"JSON too deep", `{"query": "{ a }", "variables": {"v": ` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, "JSON nested deeper than 64"},
		{"query too large", string(body(t, "{ a }"+strings.Repeat(" ", MaxQueryBytes), "", nil)), "over the limit"},
		{"repeated arguments exhaust the budget", string(body(t, manyOwners, "", nil)), "too large to classify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := Classify([]byte(tt.body))
			if err == nil {
				t.Fatalf("Classify succeeded with %+v, want an error containing %q", op, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Classify error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDepthLimitIsInclusive(t *testing.T) {
	q := "{" + strings.Repeat("a{", MaxDepth-1) + "b" + strings.Repeat("}", MaxDepth)
	if _, err := Classify(body(t, q, "", nil)); err != nil {
		t.Errorf("a query nested exactly %d deep: %v", MaxDepth, err)
	}
}

// TestLargeVariableUsedOften checks that a variable's size multiplied by its
// uses is bounded by the budget, not by the body's size alone.
func TestLargeVariableUsedOften(t *testing.T) {
	big := make([]any, 50000)
	for i := range big {
		big[i] = "x"
	}
	q := "query($v: [String]) {" + strings.Repeat(" a(x: $v)", 100) + " }"
	_, err := Classify(body(t, q, "", map[string]any{"v": big}))
	if err == nil || !strings.Contains(err.Error(), "too large to classify") {
		t.Errorf("Classify error %v, want the budget exhausted", err)
	}
}

// TestFragmentChainAcrossOperations classifies many operations that each
// spread the head of one long chain of fragments: the chain's end must be
// found (it hides a mutation), and walked once rather than per operation.
func TestFragmentChainAcrossOperations(t *testing.T) {
	const n = 3000
	var q strings.Builder
	for i := range n {
		fmt.Fprintf(&q, "query Q%d { ...F0 }\n", i)
	}
	for i := range n - 1 {
		fmt.Fprintf(&q, "fragment F%d on Query { ...F%d }\n", i, i+1)
	}
	fmt.Fprintf(&q, "fragment F%d on Query { viewer { login } ... on Mutation { deleteRef(input: {refId: \"R\"}) { clientMutationId } } }\n", n-1)

	start := time.Now()
	got, err := Classify(body(t, q.String(), "Q7", nil))
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	t.Logf("classified %d bytes in %v", q.Len(), time.Since(start))
	want := Operation{Type: "query", Name: "Q7", Fields: []string{"deleteRef", "viewer"}, Mutations: []string{"deleteRef"}, Write: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Classify\n got %+v\nwant %+v", got, want)
	}
}

// checkInvariants fails t if op, classified from a body without error, is
// inconsistent.
func checkInvariants(t *testing.T, op Operation) {
	t.Helper()
	if !slices.Contains([]string{"query", "mutation", "subscription"}, op.Type) {
		t.Errorf("Type %q", op.Type)
	}
	if op.Type == "mutation" && !op.Write {
		t.Errorf("a mutation that does not write: %+v", op)
	}
	if len(op.Mutations) > 0 && !op.Write {
		t.Errorf("mutations %v without Write", op.Mutations)
	}
	for _, list := range [][]string{op.Mutations, op.Fields, op.Repos, op.Branches} {
		if list != nil && (len(list) == 0 || !slices.IsSorted(list) || len(slices.Compact(slices.Clone(list))) != len(list)) {
			t.Errorf("list %q is not a sorted set", list)
		}
	}
	for _, r := range op.Repos {
		if r != strings.ToLower(r) || strings.Count(r, "/") != 1 {
			t.Errorf("repo %q is not lower-case owner/name", r)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte(`{"query": "query Safe { viewer { login } } mutation Evil { a: deleteRef(input: {refId: \"R\"}) { clientMutationId } }", "operationName": "Safe"}`))
	f.Add([]byte(`[{"query": "{ viewer { login } }"}, {"query": "mutation { ...F } fragment F on Mutation { x }"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := Classify(b)
		if err != nil {
			return
		}
		checkInvariants(t, op)
	})
}

// FuzzClassifyQuery fuzzes the GraphQL side: FuzzClassify's raw bodies are
// rarely valid JSON, so this one wraps the fuzzed query in a valid request.
func FuzzClassifyQuery(f *testing.F) {
	f.Add(`query Safe { viewer { login } } mutation Evil { a: deleteRef(input: {refId: "R"}) { clientMutationId } }`, "Safe", `{}`)
	f.Add(`query($o: String!) { repository(owner: $o, name: "x") { ...F } } fragment F on Repository { ref(qualifiedName: "main") { id } }`, "", `{"o": "Acme"}`)
	f.Fuzz(func(t *testing.T, query, operationName, variables string) {
		req, err := json.Marshal(map[string]any{"query": query, "operationName": operationName, "variables": json.RawMessage(variables)})
		if err != nil {
			return // variables is not JSON
		}
		op, err := Classify(req)
		if err != nil {
			return
		}
		checkInvariants(t, op)
	})
}

func BenchmarkClassify(b *testing.B) {
	req := body(b, `query PR($owner: String!, $name: String!, $number: Int!) {
		repository(owner: $owner, name: $name) {
			pullRequest(number: $number) { title state baseRefName headRefName commits(last: 1) { nodes { commit { oid } } } }
		}
	}`, "PR", map[string]any{"owner": "acme", "name": "api", "number": 12})
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		if _, err := Classify(req); err != nil {
			b.Fatal(err)
		}
	}
}
