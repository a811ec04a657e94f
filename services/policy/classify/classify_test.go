package classify

import (
	"errors"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/services/policy/canonical"
)

func req(typ, method, path, query, body string, headers map[string][]string) *event.Request {
	r := &event.Request{V: 1, ID: event.NewID(), Connection: typ, ConnectionType: typ, Method: method,
		Path: path, Query: query, Headers: headers, Identity: event.Identity{Subject: "a", Issuer: "i"}}
	if r.Headers == nil {
		r.Headers = map[string][]string{}
	}
	if body != "" {
		r.Body = &event.Body{Size: int64(len(body)), Inline: []byte(body)}
	}
	return r
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name                           string
		r                              *event.Request
		action, repo, forward, summary string
		write                          bool
		refs                           []string
	}{
		{"contents write names its branch in the body",
			req("github", "PUT", "/repos/Acme/API/contents/src/%6Dain.go", "", `{"message":"m","content":"eA==","branch":"fix-1"}`, nil),
			"contents.write", "acme/api", "/repos/Acme/API/contents/src/main.go", "contents.write on acme/api path src/main.go ref refs/heads/fix-1", true, []string{"refs/heads/fix-1"}},
		{"ref create names its ref in the body",
			req("github", "POST", "/repos/acme/api/git/refs", "", `{"ref":"refs/heads/new","sha":"abc"}`, nil),
			"git.refs.create", "acme/api", "/repos/acme/api/git/refs", "git.refs.create on acme/api ref refs/heads/new", true, []string{"refs/heads/new"}},
		{"graphql mutation",
			req("github", "POST", "/graphql", "", `{"query":"mutation { addComment(input:{subjectId:\"X\", body:\"hi\"}) { clientMutationId } }"}`, nil),
			"graphql.mutation", "", "/graphql", "graphql.mutation mutations addComment", true, []string{}},
		{"git fetch",
			req("git", "GET", "/acme/api.git/info/refs", "service=git-upload-pack", "", nil),
			"git.fetch", "acme/api", "/acme/api.git/info/refs", "git.fetch on acme/api", false, []string{}},
		{"mcp call",
			req("mcp", "POST", "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run","arguments":{"n":3}}}`, nil),
			"mcp.tools.call", "", "/mcp", "mcp.tools.call tool run", true, []string{}},
		{"plain http write",
			req("http", "PATCH", "/things//1/", "", `{}`, nil),
			"http.write", "", "/things/1", "http.write", true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Request(tt.r, nil)
			if err != nil {
				t.Fatal(err)
			}
			op := res.Operation
			if op.Action != tt.action || op.Repo != tt.repo || op.Write != tt.write || res.ForwardPath != tt.forward || op.Summary != tt.summary {
				t.Fatalf("got action %q repo %q write %v forward %q summary %q", op.Action, op.Repo, op.Write, res.ForwardPath, op.Summary)
			}
			if strings.Join(op.Refs, ",") != strings.Join(tt.refs, ",") {
				t.Fatalf("refs = %v, want %v", op.Refs, tt.refs)
			}
		})
	}
	mcpArgs, _ := Request(tests[4].r, nil)
	if got := mcpArgs.Input.MCP.Arguments["n"]; got != "3" {
		t.Fatalf("mcp argument n = %q, want JSON 3", got)
	}
}

func TestRequestRefusals(t *testing.T) {
	truncated := req("github", "POST", "/graphql", "", `{"query":"{ viewer { login } }"}`, nil)
	truncated.Body.Truncated = true
	tests := []struct {
		name string
		r    *event.Request
		rule string
	}{
		{"encoded slash", req("github", "GET", "/repos/a%2Fb", "", "", nil), RuleCanonical},
		{"override", req("github", "POST", "/repos/a/b", "", "", map[string][]string{"X-Http-Method-Override": {"DELETE"}}), RuleCanonical},
		{"broken graphql", req("github", "POST", "/graphql", "", `{"query":"mutation {"}`, nil), RuleMalformed},
		{"graphql beyond the inspect limit", truncated, RuleMalformed},
		{"broken mcp", req("mcp", "POST", "/mcp", "", `{"jsonrpc":"2.0","method":`, nil), RuleMalformed},
		{"broken git push", req("git", "POST", "/a/b.git/git-receive-pack", "", "zzzz", nil), RuleMalformed},
		{"contents branch twice", req("github", "PUT", "/repos/a/b/contents/f", "", `{"branch":"main","branch":"x"}`, nil), RuleMalformed},
		{"ref twice", req("github", "POST", "/repos/a/b/git/refs", "", `{"ref":"refs/heads/main","sha":"1","ref":"refs/heads/x"}`, nil), RuleMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Request(tt.r, nil)
			r, ok := IsRefusal(err)
			if !ok || r.Rule != tt.rule {
				t.Fatalf("err = %v, want a %s refusal", err, tt.rule)
			}
			if tt.rule == RuleCanonical && !errors.Is(err, canonical.ErrAmbiguous) {
				t.Fatalf("canonical refusal does not wrap ErrAmbiguous: %v", err)
			}
		})
	}
}

// TestBodyTarget: the branch a REST write names in its body is read as
// GitHub reads it — keys exactly, escapes decoded, beside values nested
// past encoding/json's limit — and a body that is not one whole JSON
// object names none.
func TestBodyTarget(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tests := []struct{ name, body, branch, ref string }{
		{"plain", `{"message":"m","branch":"fix"}`, "fix", ""},
		{"ref", `{"ref":"refs/heads/x","sha":"1"}`, "", "refs/heads/x"},
		{"capitals are another key", `{"branch":"main","BRANCH":"x","Ref":"refs/heads/y"}`, "main", ""},
		{"only capitals", `{"Branch":"x"}`, "", ""},
		{"escaped key", `{"br\u0061nch":"main"}`, "main", ""},
		{"whitespace first", " \r\n\t{\"branch\":\"main\"}", "main", ""},
		{"nested branch is not the target", `{"commit":{"branch":"x"},"branch":"main"}`, "main", ""},
		{"beside a deep value", `{"x":` + deep + `,"branch":"main"}`, "main", ""},
		{"broken", `{"branch":"main"`, "", ""},
		{"cut inside a value", `{"branch":"main","content":"eA`, "", ""},
		{"not an object", `["branch","main"]`, "", ""},
		{"not a string", `{"branch":["main"]}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			branch, ref, err := bodyTarget([]byte(tt.body))
			if err != nil || branch != tt.branch || ref != tt.ref {
				t.Fatalf("got %q %q %v, want %q %q", branch, ref, err, tt.branch, tt.ref)
			}
		})
	}
}
