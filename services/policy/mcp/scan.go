package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
)

// checkJSON checks, before anything is unmarshalled, that body is one JSON
// value nested no deeper than MaxDepth in which no object has the same key
// twice. Each step is a single pass without recursion, so a hostile body
// costs time linear in its size (encoding/json's Decoder.Token would be
// about a hundred times slower).
func checkJSON(body []byte) error {
	if err := checkDepth(body); err != nil {
		return err
	}
	if !json.Valid(body) {
		// Decode only to get a precise error: the input is shallow.
		var v json.RawMessage
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		return errors.New("invalid JSON")
	}
	return checkKeys(body)
}

// checkDepth reports whether objects and arrays in body nest deeper than
// MaxDepth. It needs only strings to be terminated, so it runs on any
// input.
func checkDepth(body []byte) error {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("nested deeper than %d", MaxDepth)
			}
		case '}', ']':
			depth--
		case '"':
			i = stringEnd(body, i)
		}
	}
	return nil
}

// checkKeys reports a key that appears twice in one object of body, which
// must be valid JSON. Keys are compared decoded ("\u006d" is "m").
//
// Duplicate keys are rejected because parsers disagree on them:
// encoding/json keeps the last, others keep the first, so
// {"method":"tools/list","method":"tools/call"} could be a list to the
// policy and a call to the server.
func checkKeys(body []byte) error {
	// stack holds a frame for each open object or array, with the keys
	// seen so far; an array, or an object without keys yet, has none.
	type frame struct {
		object bool
		keys   map[string]struct{}
	}
	stack := make([]frame, 0, MaxDepth)
	wantKey := false
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			stack = append(stack, frame{object: true})
			wantKey = true
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			wantKey = stack[len(stack)-1].object
		case '"':
			end := stringEnd(body, i)
			if wantKey {
				wantKey = false
				key, err := decodeString(body[i : end+1])
				if err != nil {
					return err
				}
				top := &stack[len(stack)-1]
				if _, dup := top.keys[key]; dup {
					return fmt.Errorf("duplicate key %q", truncate(key))
				}
				if top.keys == nil {
					top.keys = map[string]struct{}{}
				}
				top.keys[key] = struct{}{}
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote that ends the string starting
// at body[start], or len(body) when it is not terminated.
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(body)
}

// decodeString decodes a quoted JSON string, quickly when it has no
// escapes.
func decodeString(quoted []byte) (string, error) {
	inner := quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(quoted, &s); err != nil {
				return "", fmt.Errorf("decoding key: %w", err)
			}
			return s, nil
		}
	}
	return string(inner), nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
