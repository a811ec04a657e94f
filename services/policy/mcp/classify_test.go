package mcp

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassify(t *testing.T) {
	tests := []struct {
		file string
		want Call
	}{
		{"initialize.json", Call{Method: "initialize", ID: "0", Methods: []string{"initialize"}}},
		{"initialized.json", Call{Method: "notifications/initialized", Methods: []string{"notifications/initialized"}}},
		{"tools-list.json", Call{Method: "tools/list", ID: "1", Methods: []string{"tools/list"}}},
		{"tools-call.json", Call{
			Method: "tools/call",
			Tool:   "create_issue",
			Arguments: map[string]any{
				"owner":     "acme",
				"repo":      "api",
				"title":     "Crash on empty config",
				"labels":    []any{"bug", "p1"},
				"milestone": 3.0,
				"draft":     false,
				"assignee":  nil,
			},
			ID:      "2",
			Methods: []string{"tools/call"},
			Tools:   []string{"create_issue"},
			Write:   true,
		}},
		{"tools-call-no-arguments.json", Call{
			Method: "tools/call", Tool: "get_me", Arguments: map[string]any{}, ID: "call-7",
			Methods: []string{"tools/call"}, Tools: []string{"get_me"}, Write: true,
		}},
		// Escapes are decoded, as the server decodes them; a number id is
		// kept as written.
		{"tools-call-escaped.json", Call{
			Method: "tools/call", Tool: "delete_file", Arguments: map[string]any{"path": "été.txt"}, ID: "1.5e3",
			Methods: []string{"tools/call"}, Tools: []string{"delete_file"}, Write: true,
		}},
		{"resources-read.json", Call{
			Method: "resources/read", URI: "repo://acme/api/contents/README.md", ID: "r1",
			Methods: []string{"resources/read"},
		}},
		{"prompts-get.json", Call{Method: "prompts/get", ID: "4", Methods: []string{"prompts/get"}}},
		{"params-null.json", Call{Method: "ping", Methods: []string{"ping"}}},
		// Responses to the server's requests classify as nothing.
		{"response.json", Call{}},
		{"error-response.json", Call{}},

		// A batch cannot hide a tools/call behind a tools/list.
		{"batch-hidden-call.json", Call{
			Method: "tools/call", Tool: "delete_repository", Arguments: map[string]any{"owner": "acme", "repo": "api"}, ID: "11",
			Batch:   true,
			Methods: []string{"notifications/progress", "tools/call", "tools/list"},
			Tools:   []string{"delete_repository"},
			Write:   true,
		}},
		// The first call is reported; every tool is listed once.
		{"batch-calls.json", Call{
			Method: "tools/call", Tool: "search_code", Arguments: map[string]any{"q": "TODO"}, ID: "1",
			Batch:   true,
			Methods: []string{"tools/call"},
			Tools:   []string{"get_file_contents", "search_code"},
			Write:   true,
		}},
		{"batch-responses.json", Call{Batch: true}},
		// Without a call, the first request is reported, not a response.
		{"batch-response-first.json", Call{
			Method: "resources/read", URI: "file:///a", ID: "5",
			Batch:   true,
			Methods: []string{"resources/list", "resources/read"},
		}},
		{"batch-one.json", Call{Method: "tools/list", ID: "1", Batch: true, Methods: []string{"tools/list"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Classify(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestClassifyErrors(t *testing.T) {
	tests := []struct{ file, err string }{
		{"err-not-json.txt", "body is not JSON: invalid character"},
		{"err-truncated.json", "body is not JSON: unexpected end of JSON input"},
		{"err-empty.json", "body is not JSON: unexpected end of JSON input"},
		{"err-whitespace.json", "body is not JSON: unexpected end of JSON input"},
		{"err-two-values.json", "body is not JSON: invalid character '{' after top-level value"},
		{"err-trailing-garbage.json", "body is not JSON: invalid character 'x' after top-level value"},
		{"err-bom.json", "body is not JSON: invalid character"},
		{"err-invalid-utf8.json", "body is not UTF-8"},
		{"err-number.json", "body is not a JSON object or array"},
		{"err-string.json", "body is not a JSON object or array"},
		{"err-null.json", "body is not a JSON object or array"},
		{"err-empty-batch.json", "empty batch"},
		{"err-no-jsonrpc.json", `message lacks "jsonrpc":"2.0"`},
		{"err-jsonrpc-1.json", `message lacks "jsonrpc":"2.0"`},
		{"err-jsonrpc-number.json", `message lacks "jsonrpc":"2.0"`},
		{"err-method-number.json", "method is not a string"},
		{"err-method-null.json", "method is not a string"},
		{"err-method-empty.json", "method is empty"},
		{"err-no-method.json", "message has no method, result or error"},
		{"err-id-object.json", "id is not a string, number or null"},
		{"err-id-bool.json", "id is not a string, number or null"},
		{"err-params-string.json", "tools/list: params is not an object or array"},
		{"err-call-no-params.json", "tools/call: params is not an object"},
		{"err-call-params-array.json", "tools/call: params is not an object"},
		{"err-call-no-name.json", "tools/call: params.name is not a string"},
		{"err-call-name-number.json", "tools/call: params.name is not a string"},
		{"err-call-name-null.json", "tools/call: params.name is not a string"},
		{"err-arguments-array.json", "tools/call: params.arguments is not an object"},
		{"err-arguments-string.json", "tools/call: params.arguments is not an object"},
		{"err-arguments-null.json", "tools/call: params.arguments is not an object"},
		{"err-read-no-uri.json", "resources/read: params.uri is not a string"},
		{"err-batch-scalar.json", "message 1: message is not a JSON object"},
		{"err-batch-nested.json", "message 0: message is not a JSON object"},
		{"err-batch-bad-call.json", "message 1: tools/call: params.arguments is not an object"},
		{"err-batch-no-jsonrpc.json", `message 1: message lacks "jsonrpc":"2.0"`},
		{"err-duplicate-method.json", `body is not JSON: duplicate key "method"`},
		{"err-duplicate-escaped.json", `body is not JSON: duplicate key "method"`},
		{"err-duplicate-name.json", `body is not JSON: duplicate key "name"`},
		{"err-duplicate-argument.json", `body is not JSON: duplicate key "path"`},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "err-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d err-* files in testdata, %d in the table", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkError(t, readTestdata(t, tt.file), tt.err)
		})
	}
}

// checkError checks that Classify rejects body with an error containing
// want, and returns nothing with it.
func checkError(t *testing.T, body []byte, want string) {
	t.Helper()
	got, err := Classify(body)
	if err == nil {
		t.Fatalf("Classify = %+v, want an error containing %q", got, want)
	}
	if !strings.HasPrefix(err.Error(), "classifying MCP request: ") || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want one containing %q", err, want)
	}
	if !reflect.DeepEqual(got, Call{}) {
		t.Errorf("Classify returned %+v with an error", got)
	}
}

// nest wraps a tools/call so that its arguments reach depth levels.
func nest(depth int) []byte {
	// The message is depth 1, params 2, arguments 3.
	inner := depth - 3
	return []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":` +
		strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}}}`)
}

func TestClassifyLimits(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		if _, err := Classify(nest(MaxDepth)); err != nil {
			t.Errorf("depth %d: %v", MaxDepth, err)
		}
		checkError(t, nest(MaxDepth+1), "nested deeper than 64")
		// Hostile nesting fails fast, before anything is unmarshalled.
		checkError(t, bytes.Repeat([]byte("["), MaxBodySize), "nested deeper than 64")
		checkError(t, []byte(strings.Repeat(`{"a":`, 100000)), "nested deeper than 64")
	})
	t.Run("size", func(t *testing.T) {
		msg := readTestdata(t, "tools-list.json")
		pad := bytes.Repeat([]byte(" "), MaxBodySize-len(msg))
		if _, err := Classify(append(pad, msg...)); err != nil {
			t.Errorf("%d bytes: %v", MaxBodySize, err)
		}
		checkError(t, append(append(pad, ' '), msg...), "body of 4194305 bytes is over the limit of 4194304")
	})
}

// FuzzClassify checks that Classify never panics, returns nothing with an
// error, and that its summary fields agree with each other.
func FuzzClassify(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := Classify(body)
		if err != nil {
			if !reflect.DeepEqual(c, Call{}) {
				t.Fatalf("returned %+v with error %v", c, err)
			}
			return
		}
		for _, s := range [][]string{c.Methods, c.Tools} {
			if !slices.IsSorted(s) || len(slices.Compact(slices.Clone(s))) != len(s) {
				t.Fatalf("not a sorted set: %q", s)
			}
		}
		if c.Write != slices.Contains(c.Methods, MethodToolsCall) || c.Write != (len(c.Tools) > 0) {
			t.Fatalf("Write %v with methods %q and tools %q", c.Write, c.Methods, c.Tools)
		}
		if c.Write && (c.Method != MethodToolsCall || !slices.Contains(c.Tools, c.Tool) || c.Arguments == nil) {
			t.Fatalf("a call hidden: %+v", c)
		}
		if c.Method != MethodToolsCall && (c.Tool != "" || c.Arguments != nil) {
			t.Fatalf("tool or arguments without tools/call: %+v", c)
		}
		if (c.Method == "") != (len(c.Methods) == 0) || c.Method != "" && !slices.Contains(c.Methods, c.Method) {
			t.Fatalf("method %q not among %q", c.Method, c.Methods)
		}
		if c.Batch != (bytes.TrimLeft(body, " \t\r\n")[0] == '[') {
			t.Fatalf("Batch %v for a body starting %q", c.Batch, bytes.TrimLeft(body, " \t\r\n")[:1])
		}
		if !c.Batch && len(c.Methods) > 1 {
			t.Fatalf("one message with methods %q", c.Methods)
		}
	})
}

// BenchmarkClassify measures a typical call and bodies built to be slow at
// the size limit.
func BenchmarkClassify(b *testing.B) {
	const head = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{`
	fill := func(item func(i int) string) []byte {
		var buf bytes.Buffer
		buf.WriteString(head)
		for i := 0; buf.Len() < MaxBodySize-100; i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(item(i))
		}
		buf.WriteString("}}}")
		return buf.Bytes()
	}
	numbers := []byte(head + `"a":[` + strings.Repeat("1,", (MaxBodySize-len(head)-20)/2) + `1]}}}`)
	bodies := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"tools-call", readTestdata(b, "tools-call.json"), true},
		{"4MiB-numbers", numbers, true},
		{"4MiB-keys", fill(func(i int) string { return `"k` + strconv.Itoa(i) + `":0` }), true},
		{"4MiB-empty-objects", fill(func(i int) string { return `"k` + strconv.Itoa(i) + `":{}` }), true},
		{"4MiB-escaped-keys", fill(func(i int) string { return `"\u006b` + strconv.Itoa(i) + `":0` }), true},
		{"4MiB-brackets", bytes.Repeat([]byte("["), MaxBodySize), false},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				if _, err := Classify(bb.body); (err == nil) != bb.ok {
					b.Fatalf("Classify: %v", err)
				}
			}
		})
	}
}
