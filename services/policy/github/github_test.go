package github

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// caseFields are the fields a testdata case may set, and how to read them.
var caseFields = map[string]func(*Operation) *string{
	"owner":  func(op *Operation) *string { return &op.Owner },
	"repo":   func(op *Operation) *string { return &op.Repo },
	"org":    func(op *Operation) *string { return &op.Org },
	"ref":    func(op *Operation) *string { return &op.Ref },
	"branch": func(op *Operation) *string { return &op.Branch },
	"file":   func(op *Operation) *string { return &op.FilePath },
}

// classifyCase is one line of testdata/classify.txt.
type classifyCase struct {
	line         int
	method, path string
	want         Operation
}

// loadCases reads testdata/classify.txt.
func loadCases(t *testing.T) []classifyCase {
	t.Helper()
	f, err := os.Open("testdata/classify.txt")
	if err != nil {
		t.Fatalf("opening cases: %v", err)
	}
	t.Cleanup(func() { f.Close() })

	var cases []classifyCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			t.Fatalf("classify.txt:%d: want METHOD PATH ACTION [field=value ...], got %q", n, line)
		}
		c := classifyCase{line: n, method: fields[0], path: fields[1]}
		c.want.Action = fields[2]
		c.want.Resource = fields[2][:strings.LastIndexByte(fields[2], '.')]
		c.want.Known = !strings.HasPrefix(c.want.Action, "unknown.")
		c.want.Write = !safeMethod(c.method)
		for _, kv := range fields[3:] {
			k, v, ok := strings.Cut(kv, "=")
			field, known := caseFields[k]
			if !ok || !known {
				t.Fatalf("classify.txt:%d: bad field %q", n, kv)
			}
			*field(&c.want) = v
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading cases: %v", err)
	}
	return cases
}

func TestClassify(t *testing.T) {
	for _, c := range loadCases(t) {
		got := Classify(c.method, c.path)
		checkInvariants(t, c.method, c.path, got)
		if got != c.want {
			t.Errorf("classify.txt:%d: Classify(%q, %q)\n got %+v\nwant %+v", c.line, c.method, c.path, got, c.want)
		}
	}
}

// TestClassifyOddPaths covers input that is not canonical or that the
// whitespace-separated testdata cannot spell.
func TestClassifyOddPaths(t *testing.T) {
	tests := []struct {
		name, method, path string
		want               Operation
	}{
		{
			name: "file path with spaces", method: "PUT", path: "/repos/acme/api/contents/docs/My Notes.md",
			want: Operation{Owner: "acme", Repo: "api", Resource: "contents", Action: "contents.write", FilePath: "docs/My Notes.md", Write: true, Known: true},
		},
		{
			name: "empty path is the root", method: "GET", path: "",
			want: Operation{Resource: "meta", Action: "meta.read", Known: true},
		},
		{
			name: "no leading slash", method: "DELETE", path: "repos/acme/api",
			want: Operation{Owner: "acme", Repo: "api", Resource: "repos", Action: "repos.delete", Write: true, Known: true},
		},
		{
			name: "empty owner matches no placeholder", method: "DELETE", path: "/repos//api",
			want: Operation{Resource: "unknown", Action: "unknown.write", Write: true},
		},
		{
			name: "double slash inside a greedy path", method: "PUT", path: "/repos/acme/api/contents/a//b",
			want: Operation{Owner: "acme", Repo: "api", Resource: "unknown", Action: "unknown.write", Write: true},
		},
		{
			name: "trailing slash", method: "DELETE", path: "/repos/acme/api/",
			want: Operation{Owner: "acme", Repo: "api", Resource: "unknown", Action: "unknown.write", Write: true},
		},
		{
			name: "only slashes", method: "GET", path: "//",
			want: Operation{Resource: "unknown", Action: "unknown.read"},
		},
		{
			// U+212A KELVIN SIGN folds to "k" in Unicode but not in ASCII.
			name: "unicode folding is not case folding", method: "POST", path: "/repos/acme/api/hoo\u212As",
			want: Operation{Owner: "acme", Repo: "api", Resource: "unknown", Action: "unknown.write", Write: true},
		},
		{
			name: "many segments", method: "GET", path: "/repos/acme/api/contents/" + strings.Repeat("d/", 40) + "f",
			want: Operation{Owner: "acme", Repo: "api", Resource: "contents", Action: "contents.read", FilePath: strings.Repeat("d/", 40) + "f", Known: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.method, tt.path); got != tt.want {
				t.Errorf("Classify(%q, %q)\n got %+v\nwant %+v", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

// TestRoutesReachable classifies a path built from every route's own
// pattern and checks that the route itself answers, so that no entry is
// shadowed by an earlier one.
func TestRoutesReachable(t *testing.T) {
	fill := strings.NewReplacer("{", "", "}", "", "...", "/more")
	for _, r := range index.routes {
		path := fill.Replace(r.pattern)
		methods := []string{r.method}
		if r.method == "*" {
			methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
		}
		for _, m := range methods {
			got := Classify(m, path)
			want := r.action
			if r.method == "*" {
				want = r.verbActions[verbOf(m)]
			}
			if !got.Known || got.Action != want {
				t.Errorf("route %s %s: Classify(%q, %q) = %q, want %q", r.method, r.pattern, m, path, got.Action, want)
			}
		}
	}
}

func TestActions(t *testing.T) {
	actions := Actions()
	if !slices.IsSorted(actions) {
		t.Errorf("Actions() is not sorted")
	}
	shape := regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)+$`)
	for _, a := range actions {
		if !shape.MatchString(a) {
			t.Errorf("action %q is not <resource>.<verb> in lower case", a)
		}
	}
	// The actions the policy documentation promises.
	for _, a := range []string{
		"contents.read", "contents.write", "contents.delete",
		"git.refs.create", "git.refs.update", "git.refs.delete",
		"branches.protection.write", "pulls.create", "pulls.merge", "repos.delete",
		"actions.secrets.read", "actions.workflows.dispatch", "hooks.write",
		"collaborators.write", "orgs.members.write", "unknown.read", "unknown.write",
	} {
		if _, found := slices.BinarySearch(actions, a); !found {
			t.Errorf("Actions() lacks %q", a)
		}
	}
}

func TestNewIndexRejectsBadRoutes(t *testing.T) {
	bad := []route{
		{method: "get", pattern: "/x", action: "x.read"},
		{method: "GET", pattern: "x", action: "x.read"},
		{method: "GET", pattern: "/x", action: "x"},
		{method: "GET", pattern: "/x", action: "unknown.read"},
		{method: "GET", pattern: "/X", action: "x.read"},
		{method: "GET", pattern: "/x/{a...}/{b...}", action: "x.read"},
		{method: "GET", pattern: "/{x}", action: "x.read"},
		{method: "GET", pattern: "/x/{y", action: "x.read"},
		{method: "GET", pattern: "/repos/{owner}", action: "x.read"},
		{method: "GET", pattern: "/repos/{owner}/{repo}/{x}", action: "x.read"},
	}
	for _, r := range bad {
		if _, err := newIndex([]route{r}); err == nil {
			t.Errorf("newIndex accepted %s %s %s", r.method, r.pattern, r.action)
		}
	}
}

// checkInvariants reports what is wrong with op as the classification of
// method and path, whatever they are.
func checkInvariants(t *testing.T, method, path string, op Operation) {
	t.Helper()
	if op.Known == strings.HasPrefix(op.Action, "unknown") {
		t.Errorf("Classify(%q, %q): Known=%v with action %q", method, path, op.Known, op.Action)
	}
	if op.Write != !safeMethod(method) {
		t.Errorf("Classify(%q, %q): Write=%v for method %q", method, path, op.Write, method)
	}
	if !op.Known && op.Action != map[bool]string{false: "unknown.read", true: "unknown.write"}[op.Write] {
		t.Errorf("Classify(%q, %q): unknown action %q inconsistent with Write=%v", method, path, op.Action, op.Write)
	}
	if !strings.HasPrefix(op.Action, op.Resource+".") {
		t.Errorf("Classify(%q, %q): action %q is not under resource %q", method, path, op.Action, op.Resource)
	}
	for _, s := range []string{op.Owner, op.Repo, op.Org} {
		if s != strings.ToLower(s) {
			t.Errorf("Classify(%q, %q): %q is not lower-case", method, path, s)
		}
	}
	if op.Branch != "" && op.Ref != "refs/heads/"+op.Branch {
		t.Errorf("Classify(%q, %q): branch %q but ref %q", method, path, op.Branch, op.Ref)
	}
	if op.FilePath != "" && !strings.Contains(path, op.FilePath) {
		t.Errorf("Classify(%q, %q): file path %q not in the path", method, path, op.FilePath)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("GET", "/")
	f.Add("DELETE", "/repos/ACME/Prod-API/git/refs/heads/feature/x")
	f.Add("PUT", "/repos/acme/api/contents/.github/workflows/deploy.yml")
	f.Fuzz(func(t *testing.T, method, path string) {
		checkInvariants(t, method, path, Classify(method, path))
	})
}

func BenchmarkClassify(b *testing.B) {
	paths := []struct{ method, path string }{
		{"PUT", "/repos/acme/api/contents/.github/workflows/deploy.yml"},
		{"DELETE", "/repos/ACME/Prod-API/git/refs/heads/feature/x"},
		{"GET", "/repos/acme/api/pulls/12"},
		{"POST", "/repos/acme/api/actions/runs/1/rerun"},
	}
	for _, p := range paths {
		b.Run(p.method+" "+strings.SplitN(p.path, "/", 6)[4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Classify(p.method, p.path)
			}
		})
	}
}
