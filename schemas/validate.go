package schemas

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// BaseURL is where every schema's $id lives: refs between them resolve
// against it.
const BaseURL = "https://airlock.dev/schemas/"

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

// Validate checks data, one JSON message, against the schema of the named
// event at version 1 ("request", "verdict", "response", "audit").
func Validate(event string, data []byte) error {
	compileOnce.Do(compileAll)
	if compileErr != nil {
		return compileErr
	}
	s, ok := compiled[event]
	if !ok {
		return fmt.Errorf("no schema for event %q", event)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("decoding %s event: %w", event, err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("validating %s event: %w", event, err)
	}
	return nil
}

func compileAll() {
	entries, err := FS.ReadDir(".")
	if err != nil {
		compileErr = fmt.Errorf("reading embedded schemas: %w", err)
		return
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	compiled = map[string]*jsonschema.Schema{}
	// Every resource first, so that one schema may refer to another
	// (finding.v1.json) whatever the order of the files.
	for _, e := range entries {
		name := e.Name()
		data, err := FS.ReadFile(name)
		if err != nil {
			compileErr = fmt.Errorf("reading schema %s: %w", name, err)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			compileErr = fmt.Errorf("decoding schema %s: %w", name, err)
			return
		}
		if err := c.AddResource(BaseURL+name, doc); err != nil {
			compileErr = fmt.Errorf("adding schema %s: %w", name, err)
			return
		}
	}
	for _, e := range entries {
		name := e.Name()
		event, _, _ := strings.Cut(name, ".")
		s, err := c.Compile(BaseURL + name)
		if err != nil {
			compileErr = fmt.Errorf("compiling schema %s: %w", name, err)
			return
		}
		compiled[event] = s
	}
}
