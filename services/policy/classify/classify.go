// Package classify turns a request event into what policy judges: the
// canonical request line and, by connection type, what the request does in
// the service's own terms — a GitHub REST route or GraphQL operation, a git
// push's ref updates, an MCP tool call. A request that cannot be put in one
// unambiguous form, or whose body cannot be understood where the
// classification depends on it, is refused: policy never guesses.
package classify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/services/policy/canonical"
	"github.com/airlockhq/airlock/services/policy/github"
	"github.com/airlockhq/airlock/services/policy/gitsmart"
	"github.com/airlockhq/airlock/services/policy/graphql"
	"github.com/airlockhq/airlock/services/policy/mcp"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// Rule names a refusal carries in the verdict, in place of a policy rule.
const (
	// RuleCanonical refuses a request with no unambiguous canonical form.
	RuleCanonical = "airlock.canonical-form"
	// RuleMalformed refuses a body that the classification depends on and
	// that cannot be parsed (GraphQL, a git push, MCP JSON-RPC).
	RuleMalformed = "airlock.malformed-request"
)

// Refusal is why a request cannot be classified.
type Refusal struct {
	// Rule is RuleCanonical or RuleMalformed.
	Rule string
	Err  error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Result is a classified request.
type Result struct {
	// Input is what the rules see.
	Input *rules.Input
	// Operation is the summary carried in the verdict and the audit.
	Operation event.Operation
	// ForwardPath is the canonical path, escaped: what the ingress forwards.
	ForwardPath string
}

// Request classifies req; body is the inspected body (the event's inline
// body when nil). The error, when not nil, is a *Refusal.
func Request(req *event.Request, body []byte) (*Result, error) {
	c, err := canonical.Canonicalize(req.Method, req.Path, req.Headers, req.Query)
	if err != nil {
		return nil, &Refusal{Rule: RuleCanonical, Err: err}
	}
	if body == nil && req.Body != nil {
		body = req.Body.Inline
	}
	in := rules.NewInput(req, body, c.Path)
	res := &Result{Input: in, ForwardPath: c.ForwardPath}
	truncated := req.Body != nil && req.Body.Truncated

	switch req.ConnectionType {
	case config.TypeGitHub:
		if c.Path == "/graphql" && c.Method == "POST" {
			if truncated {
				return nil, malformed("graphql request larger than the inspect limit")
			}
			op, err := graphql.Classify(body)
			if err != nil {
				return nil, malformed("graphql: %v", err)
			}
			in.GraphQL = rules.GraphQL{Type: op.Type, Name: op.Name, Mutations: nonNil(op.Mutations), Fields: nonNil(op.Fields),
				Repos: nonNil(op.Repos), Branches: nonNil(op.Branches), Write: op.Write}
			in.Operation = rules.Operation{Action: "graphql.query", Write: op.Write, Branches: nonNil(op.Branches)}
			if op.Write {
				in.Operation.Action = "graphql.mutation"
			}
			if len(op.Repos) == 1 {
				in.Operation.Repo = op.Repos[0]
			}
			break
		}
		op := github.Classify(c.Method, c.Path)
		in.GitHub = rules.GitHub{Owner: op.Owner, Repo: op.Repo, Resource: op.Resource, Action: op.Action, Ref: op.Ref,
			Branch: op.Branch, Path: op.FilePath, Org: op.Org, Write: op.Write, Known: op.Known}
		if op.Write && op.Branch == "" {
			// The contents API names its branch in the body, and POST
			// /git/refs its ref: a rule about main must see them.
			branch, ref, err := bodyTarget(body)
			if err != nil {
				return nil, malformed("%v", err)
			}
			switch {
			case branch != "":
				in.GitHub.Branch, in.GitHub.Ref = branch, "refs/heads/"+branch
			case strings.HasPrefix(ref, "refs/"):
				in.GitHub.Ref = ref
				in.GitHub.Branch, _ = strings.CutPrefix(ref, "refs/heads/")
				if !strings.HasPrefix(ref, "refs/heads/") {
					in.GitHub.Branch = ""
				}
			}
		}
		in.Operation = rules.Operation{Action: op.Action, Write: op.Write, Path: op.FilePath,
			Refs: list(in.GitHub.Ref), Branches: list(in.GitHub.Branch)}
		if op.Owner != "" && op.Repo != "" {
			in.Operation.Repo = op.Owner + "/" + op.Repo
		}

	case config.TypeGit:
		g := gitsmart.ClassifyPath(c.Method, c.Path, req.Query)
		in.Git = rules.Git{Service: g.Service, Phase: g.Phase, Repo: g.Repo, Write: g.Write, Known: g.Known, Updates: []rules.RefUpdate{}}
		in.Operation = rules.Operation{Action: gitAction(g), Write: g.Write, Repo: g.Repo, Refs: []string{}, Branches: []string{}}
		if g.Service == gitsmart.ServiceReceivePack && g.Phase == gitsmart.PhaseRPC {
			push, err := gitsmart.ParseReceivePack(body)
			if err != nil {
				return nil, malformed("git push: %v", err)
			}
			in.Git.Packfile, in.Git.Truncated = push.Packfile, push.Truncated
			for _, u := range push.Updates {
				in.Git.Updates = append(in.Git.Updates, rules.RefUpdate{Ref: u.Ref, Old: u.Old, New: u.New, Kind: u.Kind, Branch: u.Branch, Tag: u.Tag})
				in.Operation.Refs = append(in.Operation.Refs, u.Ref)
				if u.Branch != "" {
					in.Operation.Branches = append(in.Operation.Branches, u.Branch)
				}
			}
		}

	case config.TypeMCP:
		in.MCP = rules.MCP{Methods: []string{}, Tools: []string{}, Arguments: map[string]string{}}
		switch c.Method {
		case "POST":
			if truncated {
				return nil, malformed("mcp request larger than the inspect limit")
			}
			call, err := mcp.Classify(body)
			if err != nil {
				return nil, malformed("mcp: %v", err)
			}
			in.MCP = rules.MCP{Method: call.Method, Tool: call.Tool, URI: call.URI, Methods: nonNil(call.Methods),
				Tools: nonNil(call.Tools), Write: call.Write, Batch: call.Batch, Arguments: flatten(call.Arguments)}
			in.Operation = rules.Operation{Action: "mcp." + strings.ReplaceAll(call.Method, "/", "."), Write: call.Write}
			if call.Method == "" {
				in.Operation.Action = "mcp.response"
			}
		case "GET", "HEAD":
			in.Operation = rules.Operation{Action: "mcp.stream"}
		case "DELETE":
			in.Operation = rules.Operation{Action: "mcp.session.delete"}
		default:
			in.Operation = rules.Operation{Action: "unknown.write", Write: true}
		}

	default: // http
		in.Operation = rules.Operation{Action: "http.read"}
		if !safe(c.Method) {
			in.Operation = rules.Operation{Action: "http.write", Write: true}
		}
	}
	fill(&in.Operation)
	res.Operation = event.Operation{Action: in.Operation.Action, Write: in.Operation.Write, Repo: in.Operation.Repo,
		Refs: in.Operation.Refs, Path: in.Operation.Path, Summary: summary(in)}
	return res, nil
}

func malformed(format string, args ...any) error {
	return &Refusal{Rule: RuleMalformed, Err: fmt.Errorf("malformed request: "+format, args...)}
}

// IsRefusal reports whether err is a classification refusal and returns it.
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

func gitAction(g gitsmart.Request) string {
	switch {
	case g.Service == gitsmart.ServiceReceivePack:
		return "git.push"
	case g.Service == gitsmart.ServiceUploadPack:
		return "git.fetch"
	case g.Write:
		return "unknown.write"
	}
	return "unknown.read"
}

// bodyTarget reads the top-level "branch" and "ref" of a JSON body. Keys
// match exactly, as GitHub matches them: encoding/json's case-insensitive
// struct matching read {"branch": "main", "BRANCH": "x"} as a write to x
// while GitHub writes to main. Either key given twice is an error, since
// servers disagree on which of the two wins. The object is read token by
// token, so a value nested past encoding/json's depth limit does not hide
// the keys beside it, and whitespace before it does not hide the object. A
// body that is not a whole JSON object (broken, or cut at the inspect
// limit) names neither, as before.
func bodyTarget(body []byte) (branch, ref string, err error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return "", "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '{'
		return "", "", nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", nil
		}
		key, _ := tok.(string)
		if key == "branch" || key == "ref" {
			if seen[key] {
				return "", "", fmt.Errorf("the body names its %s twice", key)
			}
			seen[key] = true
		}
		val, err := dec.Token()
		if err != nil {
			return "", "", nil
		}
		if _, ok := val.(json.Delim); ok {
			if !skipValue(dec) {
				return "", "", nil
			}
			continue
		}
		if s, ok := val.(string); ok {
			switch key {
			case "branch":
				branch = s
			case "ref":
				ref = s
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the '}'
		return "", "", nil
	}
	return branch, ref, nil
}

// skipValue reads the rest of the array or object whose opening token was
// just read, token by token (no depth limit); false if the JSON breaks
// first.
func skipValue(dec *json.Decoder) bool {
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// flatten turns MCP arguments into strings: strings as they are, anything
// else as JSON.
func flatten(args map[string]any) map[string]string {
	out := make(map[string]string, len(args))
	for k, v := range args {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			continue
		}
		out[k] = string(data)
	}
	return out
}

func summary(in *rules.Input) string {
	op := in.Operation
	var b strings.Builder
	b.WriteString(op.Action)
	if op.Repo != "" {
		b.WriteString(" on " + op.Repo)
	}
	if op.Path != "" {
		b.WriteString(" path " + op.Path)
	}
	switch {
	case len(in.Git.Updates) > 0:
		parts := make([]string, 0, len(in.Git.Updates))
		for _, u := range in.Git.Updates {
			parts = append(parts, u.Kind+" "+u.Ref)
		}
		b.WriteString(": " + strings.Join(parts, ", "))
	case len(op.Refs) > 0:
		b.WriteString(" ref " + strings.Join(op.Refs, ", "))
	}
	if len(in.GraphQL.Mutations) > 0 {
		b.WriteString(" mutations " + strings.Join(in.GraphQL.Mutations, ", "))
	}
	if in.MCP.Tool != "" {
		b.WriteString(" tool " + in.MCP.Tool)
	}
	return b.String()
}

func fill(op *rules.Operation) {
	op.Refs, op.Branches = nonNil(op.Refs), nonNil(op.Branches)
	slices.Sort(op.Branches)
	op.Branches = slices.Compact(op.Branches)
}

func list(s string) []string {
	if s == "" {
		return []string{}
	}
	return []string{s}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func safe(method string) bool {
	return method == "GET" || method == "HEAD" || method == "OPTIONS"
}
