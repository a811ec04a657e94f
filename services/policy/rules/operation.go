package rules

// The classification variables: what a request does, in the terms of the
// service it goes to. The classify package fills them; a variable that
// does not apply to the request's connection is its zero value (empty
// strings, empty lists, false).

// Operation is the CEL variable `operation`: the protocol-independent
// summary every rule can use ("read-only by default" is
// `!operation.write`).
type Operation struct {
	// Action is the stable action name: contents.write, git.refs.delete,
	// git.push, git.fetch, graphql.mutation, mcp.tools.call, unknown.read, ….
	Action string `cel:"action"`
	// Write is true when the request changes state (a non-GET REST call, a
	// GraphQL mutation anywhere in the document, a git push, an MCP tool
	// call).
	Write bool `cel:"write"`
	// Repo is "owner/name", lower case, when the request names one.
	Repo string `cel:"repo"`
	// Refs are the full refs the request touches ("refs/heads/main").
	Refs []string `cel:"refs"`
	// Branches are the branch names among them.
	Branches []string `cel:"branches"`
	// Path is a file path inside the repository (contents API).
	Path string `cel:"path"`
}

// GitHub is the CEL variable `github`: a GitHub REST call.
type GitHub struct {
	Owner    string `cel:"owner"`
	Repo     string `cel:"repo"`
	Resource string `cel:"resource"`
	Action   string `cel:"action"`
	Ref      string `cel:"ref"`
	Branch   string `cel:"branch"`
	Path     string `cel:"path"`
	Org      string `cel:"org"`
	Write    bool   `cel:"write"`
	Known    bool   `cel:"known"`
}

// GraphQL is the CEL variable `graphql`: a GitHub GraphQL request.
type GraphQL struct {
	// Type is query, mutation or subscription (of the selected operation).
	Type string `cel:"type"`
	Name string `cel:"name"`
	// Mutations are the mutation fields of every operation in the
	// document: an alias or a second operation cannot hide one.
	Mutations []string `cel:"mutations"`
	Fields    []string `cel:"fields"`
	Repos     []string `cel:"repos"`
	Branches  []string `cel:"branches"`
	Write     bool     `cel:"write"`
}

// Git is the CEL variable `git`: a git smart-HTTP request.
type Git struct {
	// Service is git-upload-pack (fetch) or git-receive-pack (push).
	Service string `cel:"service"`
	// Phase is advertise (GET info/refs) or rpc (POST).
	Phase string `cel:"phase"`
	Repo  string `cel:"repo"`
	Write bool   `cel:"write"`
	Known bool   `cel:"known"`
	// Updates are the ref updates of a push.
	Updates []RefUpdate `cel:"updates"`
	// Packfile is true when a pack follows the commands.
	Packfile bool `cel:"packfile"`
	// Truncated is true when the inspected body ended inside the commands.
	Truncated bool `cel:"truncated"`
}

// RefUpdate is one ref a push changes.
type RefUpdate struct {
	Ref string `cel:"ref"`
	Old string `cel:"old"`
	New string `cel:"new"`
	// Kind is create, update or delete.
	Kind   string `cel:"kind"`
	Branch string `cel:"branch"`
	Tag    string `cel:"tag"`
}

// MCP is the CEL variable `mcp`: an MCP JSON-RPC request.
type MCP struct {
	Method string `cel:"method"`
	Tool   string `cel:"tool"`
	// Arguments are the top-level arguments of a tools/call: strings as
	// they are, other values as JSON ("42", "true", `{"a":1}`).
	Arguments map[string]string `cel:"arguments"`
	URI       string            `cel:"uri"`
	// Methods and Tools cover every message of a batch.
	Methods []string `cel:"methods"`
	Tools   []string `cel:"tools"`
	Write   bool     `cel:"write"`
	Batch   bool     `cel:"batch"`
}

// CEL names of the classification variables and their types.
const (
	varOperation = "operation"
	varGitHub    = "github"
	varGraphQL   = "graphql"
	varGit       = "git"
	varMCP       = "mcp"

	typeOperation = "rules.Operation"
	typeGitHub    = "rules.GitHub"
	typeGraphQL   = "rules.GraphQL"
	typeGit       = "rules.Git"
	typeMCP       = "rules.MCP"
)
