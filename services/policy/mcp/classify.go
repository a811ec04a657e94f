// Package mcp classifies requests of the Model Context Protocol's
// streamable HTTP transport: the JSON-RPC 2.0 message, or batch of
// messages, that a client POSTs to an MCP server.
//
// It tells a policy which methods a request invokes and, for tools/call,
// which tools with which arguments, so that a rule can allow a read-only
// tool and deny the rest. Anything it cannot classify with certainty is an
// error, and the caller denies the request.
package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

const (
	// MaxBodySize is the largest body Classify accepts, in bytes.
	MaxBodySize = 4 << 20
	// MaxDepth is the deepest nesting of objects and arrays Classify
	// accepts; the message object of a single call is at depth 1.
	// encoding/json allows 10000, far more than any MCP message needs.
	MaxDepth = 64
)

// Methods that Classify reads parameters of.
const (
	// MethodToolsCall calls a tool.
	MethodToolsCall = "tools/call"
	// MethodResourcesRead reads a resource.
	MethodResourcesRead = "resources/read"
)

// Call is the classification of a request body.
type Call struct {
	// Method is the JSON-RPC method: "tools/call", "tools/list",
	// "initialize", "resources/read", "notifications/initialized". In a
	// batch it is the method of the first tools/call, or else of the first
	// request or notification. It is "" when the body holds only responses.
	Method string
	// Tool is params.name of the tools/call that Method is.
	Tool string
	// Arguments is params.arguments of the tools/call that Method is, empty
	// when the call has none, and nil when Method is not tools/call.
	// Numbers are float64.
	Arguments map[string]any
	// URI is params.uri when Method is resources/read.
	URI string
	// ID is the id of the message that Method comes from, as text: a
	// string as it is, a number as written ("7", "1.5e3"). It is "" for a
	// notification or a null id.
	ID string
	// Batch reports whether the body was a JSON array of messages.
	Batch bool
	// Methods is every method in the body, sorted, without repeats, so
	// that a batch cannot hide a call behind its first message. Responses
	// have no method and add nothing.
	Methods []string
	// Tools is the name of every tool the body calls, sorted, without
	// repeats.
	Tools []string
	// Write is true when any message is a tools/call. This is deliberately
	// conservative: a tool can do anything, and the protocol's
	// readOnlyHint annotation comes from the server and is only a hint.
	// Other methods, such as resources/subscribe or logging/setLevel, do
	// not count as writes.
	Write bool
}

// message is one classified JSON-RPC message; method is "" for a response.
type message struct {
	method    string
	tool      string
	arguments map[string]any
	uri       string
	id        string
}

// Classify classifies the body of a POST to an MCP server: one JSON-RPC 2.0
// message, or a batch of them as a JSON array (allowed by the 2025-03-26
// revision of the protocol).
//
// Responses (messages with a result or an error and no method), which a
// client sends in reply to requests from the server, are allowed and
// classify as nothing. Classify returns an error when the body is over
// MaxBodySize, nested deeper than MaxDepth, not UTF-8, not a single JSON
// object or array, an empty batch, or has an object with a duplicate key;
// and when any message lacks "jsonrpc":"2.0", has a method that is not a
// string or an id that is not a string, number or null, or is a tools/call
// without a string params.name or with params.arguments that is not an
// object, or a resources/read without a string params.uri.
func Classify(body []byte) (Call, error) {
	c, err := classify(body)
	if err != nil {
		return Call{}, fmt.Errorf("classifying MCP request: %w", err)
	}
	return c, nil
}

func classify(body []byte) (Call, error) {
	if len(body) > MaxBodySize {
		return Call{}, fmt.Errorf("body of %d bytes is over the limit of %d", len(body), MaxBodySize)
	}
	if !utf8.Valid(body) {
		return Call{}, errors.New("body is not UTF-8")
	}
	if err := checkJSON(body); err != nil {
		return Call{}, fmt.Errorf("body is not JSON: %w", err)
	}

	var raws []json.RawMessage
	var c Call
	switch trimmed := bytes.TrimLeft(body, " \t\r\n"); trimmed[0] {
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return Call{}, fmt.Errorf("decoding batch: %w", err)
		}
		if len(raws) == 0 {
			return Call{}, errors.New("empty batch")
		}
		c.Batch = true
	case '{':
		raws = []json.RawMessage{body}
	default:
		return Call{}, errors.New("body is not a JSON object or array")
	}

	var first, firstCall *message
	for i, raw := range raws {
		m, err := parseMessage(raw)
		if err != nil {
			if c.Batch {
				return Call{}, fmt.Errorf("message %d: %w", i, err)
			}
			return Call{}, err
		}
		if m.method == "" {
			continue
		}
		c.Methods = append(c.Methods, m.method)
		if first == nil {
			first = &m
		}
		if m.method == MethodToolsCall {
			c.Tools = append(c.Tools, m.tool)
			c.Write = true
			if firstCall == nil {
				firstCall = &m
			}
		}
	}
	if firstCall != nil {
		first = firstCall
	}
	if first != nil {
		c.Method, c.Tool, c.Arguments, c.URI, c.ID = first.method, first.tool, first.arguments, first.uri, first.id
	}
	c.Methods = sortedSet(c.Methods)
	c.Tools = sortedSet(c.Tools)
	return c, nil
}

// parseMessage classifies one message of a body that scan has checked.
func parseMessage(raw json.RawMessage) (message, error) {
	var fields map[string]json.RawMessage
	if kind(raw) != '{' {
		return message{}, errors.New("message is not a JSON object")
	}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return message{}, fmt.Errorf("decoding message: %w", err)
	}

	var version string
	if v, ok := fields["jsonrpc"]; !ok || kind(v) != '"' || json.Unmarshal(v, &version) != nil || version != "2.0" {
		return message{}, errors.New(`message lacks "jsonrpc":"2.0"`)
	}

	var m message
	if v, ok := fields["id"]; ok {
		switch kind(v) {
		case '"':
			if err := json.Unmarshal(v, &m.id); err != nil {
				return message{}, fmt.Errorf("decoding id: %w", err)
			}
		case 'n':
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			m.id = string(v)
		default:
			return message{}, errors.New("id is not a string, number or null")
		}
	}

	v, ok := fields["method"]
	if !ok {
		if _, ok := fields["result"]; ok {
			return m, nil
		}
		if _, ok := fields["error"]; ok {
			return m, nil
		}
		return message{}, errors.New("message has no method, result or error")
	}
	if kind(v) != '"' {
		return message{}, errors.New("method is not a string")
	}
	if err := json.Unmarshal(v, &m.method); err != nil {
		return message{}, fmt.Errorf("decoding method: %w", err)
	}
	if m.method == "" {
		return message{}, errors.New("method is empty")
	}

	params := fields["params"]
	switch kind(params) {
	case 0, 'n', '{', '[':
	default:
		return message{}, fmt.Errorf("%s: params is not an object or array", m.method)
	}
	switch m.method {
	case MethodToolsCall:
		p, err := object(params)
		if err != nil {
			return message{}, fmt.Errorf("%s: %w", m.method, err)
		}
		if err := stringField(p, "name", &m.tool); err != nil {
			return message{}, fmt.Errorf("%s: %w", m.method, err)
		}
		m.arguments = map[string]any{}
		if a, ok := p["arguments"]; ok {
			if kind(a) != '{' {
				return message{}, fmt.Errorf("%s: params.arguments is not an object", m.method)
			}
			if err := json.Unmarshal(a, &m.arguments); err != nil {
				return message{}, fmt.Errorf("%s: decoding params.arguments: %w", m.method, err)
			}
		}
	case MethodResourcesRead:
		p, err := object(params)
		if err != nil {
			return message{}, fmt.Errorf("%s: %w", m.method, err)
		}
		if err := stringField(p, "uri", &m.uri); err != nil {
			return message{}, fmt.Errorf("%s: %w", m.method, err)
		}
	}
	return m, nil
}

// object decodes params that must be an object.
func object(params json.RawMessage) (map[string]json.RawMessage, error) {
	if kind(params) != '{' {
		return nil, errors.New("params is not an object")
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("decoding params: %w", err)
	}
	return p, nil
}

// stringField sets *dst to the string params[name], which must be present.
func stringField(params map[string]json.RawMessage, name string, dst *string) error {
	v, ok := params[name]
	if !ok || kind(v) != '"' {
		return fmt.Errorf("params.%s is not a string", name)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("decoding params.%s: %w", name, err)
	}
	return nil
}

// kind returns the first byte of a JSON value, which tells its type
// ('{', '[', '"', 'n' for null, 't' or 'f', or a digit or '-'), or 0 when
// raw is empty.
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// sortedSet sorts s and removes repeats.
func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
