package rules

import "testing"

func TestClassificationVariables(t *testing.T) {
	set, err := Parse("ops.yaml", []byte(`rules:
  - name: reads
    effect: allow
    when: '!operation.write'
  - name: workflows
    effect: deny
    when: github.action == "contents.write" && glob(github.path, ".github/workflows/**")
  - name: prod
    effect: approve
    when: operation.write && operation.repo.startsWith("acme/prod-")
  - name: deletes
    effect: deny
    when: git.updates.exists(u, u.kind == "delete") || "deleteRef" in graphql.mutations
  - name: mcp-reads
    effect: allow
    when: mcp.method == "tools/call" && mcp.tool == "search" && mcp.arguments[?"q"].orValue("") != ""
  - name: writes
    effect: allow
    when: operation.write
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		in         Input
		want, rule string
	}{
		{"read", Input{Operation: Operation{Action: "contents.read"}}, "allow", "reads"},
		{"workflow edit", Input{Operation: Operation{Action: "contents.write", Write: true, Repo: "acme/api"},
			GitHub: GitHub{Action: "contents.write", Path: ".github/workflows/ci.yml", Write: true}}, "deny", "workflows"},
		{"prod write", Input{Operation: Operation{Action: "pulls.create", Write: true, Repo: "acme/prod-api"}}, "approve", "prod"},
		{"git delete", Input{Operation: Operation{Action: "git.push", Write: true},
			Git: Git{Updates: []RefUpdate{{Ref: "refs/heads/x", Kind: "update"}, {Ref: "refs/heads/y", Kind: "delete"}}}}, "deny", "deletes"},
		{"graphql delete", Input{Operation: Operation{Action: "graphql.mutation", Write: true},
			GraphQL: GraphQL{Mutations: []string{"addComment", "deleteRef"}}}, "deny", "deletes"},
		{"mcp search", Input{Operation: Operation{Action: "mcp.tools.call", Write: true},
			MCP: MCP{Method: "tools/call", Tool: "search", Arguments: map[string]string{"q": "x"}}}, "allow", "mcp-reads"},
		{"other write", Input{Operation: Operation{Action: "issues.create", Write: true, Repo: "acme/api"}}, "allow", "writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := set.Evaluate(&tt.in)
			if res.Effect != tt.want || res.Rule != tt.rule {
				t.Fatalf("Evaluate = %s by %q (%v), want %s by %q", res.Effect, res.Rule, res.Errors, tt.want, tt.rule)
			}
		})
	}
}
