package rules

import (
	"net/url"
	"strings"

	"github.com/airlockhq/airlock/pkg/event"
)

// Input is what one evaluation sees: the three CEL variables.
type Input struct {
	// Request is the CEL variable `request`.
	Request Request
	// Identity is the CEL variable `identity`.
	Identity Identity
	// Connection is the CEL variable `connection`.
	Connection Connection
	// Operation, GitHub, GraphQL, Git and MCP are the classification
	// variables (see operation.go); zero when they do not apply.
	Operation Operation
	GitHub    GitHub
	GraphQL   GraphQL
	Git       Git
	MCP       MCP
}

// InputFrom builds the input of a request event, its path put in canonical
// form by CanonicalPath. body is the inspected body when it was read from
// the object store; when it is nil, the event's inline body is used.
func InputFrom(req *event.Request, body []byte) *Input {
	return NewInput(req, body, CanonicalPath(req.Path))
}

// NewInput is InputFrom with the canonical path computed by the caller
// (the classify package, which refuses what has no canonical form).
func NewInput(req *event.Request, body []byte, path string) *Input {
	in := &Input{
		Request: Request{
			Method:  req.Method,
			Path:    path,
			RawPath: req.Path,
			Host:    req.Host,
			Query:   firstValues(req.Query),
			Headers: joinHeaders(req.Headers),
		},
		Identity: Identity{
			Subject: req.Identity.Subject,
			Issuer:  req.Identity.Issuer,
			Email:   req.Identity.Email,
			Groups:  req.Identity.Groups,
		},
		Connection: Connection{
			Name: req.Connection,
			Type: req.ConnectionType,
		},
	}
	if in.Identity.Groups == nil {
		in.Identity.Groups = []string{}
	}
	if b := req.Body; b != nil {
		if body == nil {
			body = b.Inline
		}
		in.Request.BodySize = b.Size
		in.Request.BodyTruncated = b.Truncated
	} else {
		in.Request.BodySize = int64(len(body))
	}
	in.Request.Body = string(body)
	in.Request.Secrets = make([]string, 0, len(req.Findings))
	for _, f := range req.Findings {
		in.Request.Secrets = append(in.Request.Secrets, f.Rule)
	}
	return in
}

// firstValues parses a raw query string and keeps the first value of each
// parameter. A malformed pair is skipped, the rest still count.
func firstValues(raw string) map[string]string {
	m := map[string]string{}
	if raw == "" {
		return m
	}
	vals, _ := url.ParseQuery(raw)
	for k, vs := range vals {
		if len(vs) > 0 {
			m[k] = vs[0]
		}
	}
	return m
}

// joinHeaders lower-cases header names and joins repeated values with ", ",
// as HTTP allows for most headers.
func joinHeaders(h map[string][]string) map[string]string {
	m := make(map[string]string, len(h))
	for k, vs := range h {
		k = strings.ToLower(k)
		v := strings.Join(vs, ", ")
		if prev, ok := m[k]; ok {
			// Two spellings of one name ("X-A" and "x-a"): keep both values.
			v = prev + ", " + v
		}
		m[k] = v
	}
	return m
}
