package rules

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/event"
)

// request builds an input the way the service does, from a request event.
func request(method, path string, opts ...func(*event.Request)) *Input {
	r := &event.Request{
		V:              event.Version,
		ID:             event.NewID(),
		Time:           time.Now(),
		Connection:     "github",
		ConnectionType: "github",
		Identity:       event.Identity{Subject: "agent-1", Issuer: "https://issuer.example.com", Groups: []string{"agents"}},
		Method:         method,
		Host:           "api.github.com",
		Path:           path,
		Headers:        map[string][]string{"Accept": {"application/json"}},
	}
	for _, o := range opts {
		o(r)
	}
	return InputFrom(r, nil)
}

func withGroups(g ...string) func(*event.Request) {
	return func(r *event.Request) { r.Identity.Groups = g }
}

func withEmail(e string) func(*event.Request) {
	return func(r *event.Request) { r.Identity.Email = e }
}

func withHeader(k string, v ...string) func(*event.Request) {
	return func(r *event.Request) { r.Headers[k] = v }
}

func withQuery(q string) func(*event.Request) {
	return func(r *event.Request) { r.Query = q }
}

func withBody(b []byte, size int64, truncated bool) func(*event.Request) {
	return func(r *event.Request) {
		r.Body = &event.Body{Size: size, ContentLength: size, Truncated: truncated, Inline: b}
	}
}

func mustLoad(t testing.TB, paths ...string) *Set {
	t.Helper()
	s, err := Load(paths)
	if err != nil {
		t.Fatalf("loading %v: %v", paths, err)
	}
	return s
}

func TestLoadGood(t *testing.T) {
	s := mustLoad(t, "testdata/good.yaml")
	var names []string
	for _, r := range s.Rules() {
		names = append(names, r.Name)
	}
	want := "allow-reads allow-agents-post approve-issues deny-secrets approve-secrets deny-bots-email approve-large-bodies deny-force-push shadow-deny-org-reads shadow-allow-put shadow-broken"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("rules = %s\nwant    %s", got, want)
	}
	r := s.Rules()[0]
	if r.File != "testdata/good.yaml" || r.Line != 4 || r.Effect != EffectAllow || r.Reason != "agents may read" || r.Shadow {
		t.Errorf("first rule = %+v", r)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		files []string
		// want are substrings of the error, in order of appearance.
		want []string
	}{
		{[]string{"testdata/bad_yaml.yaml"}, []string{`testdata/bad_yaml.yaml:4:11: rule "broken": `, "']' not found"}},
		{[]string{"testdata/unknown_field.yaml"}, []string{`testdata/unknown_field.yaml:8:5: rule "typo-field": unknown field "whn"`}},
		{[]string{"testdata/unknown_top.yaml"}, []string{`testdata/unknown_top.yaml:1:1: unknown field "rule"`}},
		{[]string{"testdata/duplicate_name.yaml"}, []string{`testdata/duplicate_name.yaml:6:11: rule "allow-reads": duplicate rule name (first defined at testdata/duplicate_name.yaml:2:11)`}},
		{[]string{"testdata/good.yaml", "testdata/dup_across.yaml"}, []string{`testdata/dup_across.yaml:3:11: rule "deny-secrets": duplicate rule name (first defined at testdata/good.yaml:18:11)`}},
		{[]string{"testdata/bad_effect.yaml"}, []string{`testdata/bad_effect.yaml:3:13: rule "permit-reads": invalid effect "permit"`}},
		{[]string{"testdata/bad_name.yaml"}, []string{`testdata/bad_name.yaml:2:11: rule "Allow Reads": invalid name`}},
		{[]string{"testdata/missing_when.yaml"}, []string{`testdata/missing_when.yaml:2:5: rule "no-condition": missing when`}},
		{[]string{"testdata/cel_syntax.yaml"}, []string{`testdata/cel_syntax.yaml:4:58: rule "unbalanced": when: Syntax error: missing ')'`}},
		{[]string{"testdata/undefined_field.yaml"}, []string{`testdata/undefined_field.yaml:4:18: rule "allow-reads": when: undefined field 'methd'`}},
		// Multi-line expressions: the position is of the line the field is on.
		{[]string{"testdata/undefined_field_block.yaml"}, []string{`testdata/undefined_field_block.yaml:6:17: rule "multi-line": when: undefined field 'grups'`}},
		{[]string{"testdata/undefined_field_folded.yaml"}, []string{`testdata/undefined_field_folded.yaml:6:17: rule "folded": when: undefined field 'nam'`}},
		{[]string{"testdata/non_bool.yaml"}, []string{`testdata/non_bool.yaml:4:11: rule "path-only": when must be a boolean expression, not string`}},
		{[]string{"testdata/many_problems.yaml"}, []string{
			`many_problems.yaml:4:13: rule "first": invalid effect "maybe"`,
			`many_problems.yaml:9:19: rule "second": when: undefined field 'group'`,
			`many_problems.yaml:13:11: rule "third": when must be a boolean expression, not int`,
		}},
		{[]string{"testdata/no_such_file.yaml"}, []string{"reading policy file", "no_such_file.yaml"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.files, "+"), func(t *testing.T) {
			_, err := Load(tt.files)
			if err == nil {
				t.Fatal("loaded without error")
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			if strings.HasSuffix(tt.files[0], "no_such_file.yaml") == errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = %v for %s", errors.Is(err, ErrInvalid), msg)
			}
		})
	}
}

// TestMaskSecretsComesFromTheDecidingAllow: the verdict carries
// mask_secrets only when the allow that decides has it; a deny still wins.
func TestMaskSecretsComesFromTheDecidingAllow(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`rules:
  - name: prompts
    effect: allow
    mask_secrets: true
    when: connection.name == "llm"
  - name: reads
    effect: allow
    when: request.method == "GET"
  - name: no-secrets-to-github
    effect: deny
    when: connection.name == "gh" && size(request.secrets) > 0
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		conn, method string
		secrets      []string
		effect       string
		mask         bool
	}{
		{"llm", "POST", []string{"github-pat"}, EffectAllow, true},
		{"gh", "GET", nil, EffectAllow, false},
		{"gh", "GET", []string{"github-pat"}, EffectDeny, false},
	} {
		in := NewInput(&event.Request{Method: tt.method, Path: "/x", Connection: tt.conn}, nil, "/x")
		in.Request.Secrets = tt.secrets
		res := s.Evaluate(in)
		if res.Effect != tt.effect || res.MaskSecrets != tt.mask {
			t.Errorf("%s %s %v: %s mask=%v, want %s mask=%v", tt.conn, tt.method, tt.secrets, res.Effect, res.MaskSecrets, tt.effect, tt.mask)
		}
	}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty file", "", "empty policy file"},
		{"comment only", "# nothing\n", "empty policy file"},
		{"no rules key", "{}\n", `missing "rules" list`},
		{"two documents", "rules: []\n---\nrules: []\n", "more than one YAML document"},
		{"rule not a mapping", "rules:\n  - allow everything\n", "a rule must be a mapping"},
		{"when is a list", "rules:\n  - name: a\n    effect: allow\n    when: [true]\n", `p.yaml:4:11: rule "a": when must be a string`},
		{"missing name", "rules:\n  - effect: allow\n    when: \"true\"\n", "p.yaml:2:5: missing name"},
		{"missing effect", "rules:\n  - name: a\n    when: \"true\"\n", `rule "a": missing effect`},
		{"quoted expression", "rules:\n  - name: a\n    effect: allow\n    when: \"request.nope\"\n", `p.yaml:4:19: rule "a": when: undefined field 'nope'`},
		{"unknown function", "rules:\n  - name: a\n    effect: allow\n    when: globby(request.path, \"/x\")\n", `rule "a": when: undeclared reference to 'globby'`},
		{"in_group on a string", "rules:\n  - name: a\n    effect: allow\n    when: request.path.in_group(\"x\")\n", `rule "a": when: found no matching overload for 'in_group'`},
		{"mask_secrets on a deny", "rules:\n  - name: a\n    effect: deny\n    mask_secrets: true\n    when: \"true\"\n", `p.yaml:4:19: rule "a": mask_secrets applies to allow rules only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// An empty list is valid: it denies everything.
	s, err := Parse("p.yaml", []byte("rules: []\n"))
	if err != nil {
		t.Fatalf("empty list: %v", err)
	}
	if res := s.Evaluate(request("GET", "/")); res.Effect != EffectDeny || res.Reason != ReasonDefaultDeny {
		t.Errorf("empty set: %+v", res)
	}
}

func TestEvaluate(t *testing.T) {
	s := mustLoad(t, "testdata/good.yaml")
	tests := []struct {
		name   string
		in     *Input
		effect string
		rule   string
		reason string
		shadow []string
	}{
		{"read is allowed", request("GET", "/repos/acme/api"), EffectAllow, "allow-reads", "agents may read", nil},
		{"head is allowed", request("HEAD", "/repos/acme/api"), EffectAllow, "allow-reads", "agents may read", nil},
		{"agent post is allowed", request("POST", "/repos/acme/api/pulls"), EffectAllow, "allow-agents-post", `allowed by rule "allow-agents-post"`, nil},
		{"approve beats allow", request("POST", "/repos/acme/api/issues"), EffectApprove, "approve-issues", "opening issues needs a human", nil},
		{"deny beats approve and allow", request("GET", "/repos/acme/api/actions/secrets/TOKEN"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"nothing matches: default deny", request("POST", "/repos/acme/api/pulls", withGroups("humans")), EffectDeny, "", ReasonDefaultDeny, nil},
		{"no groups: default deny", request("POST", "/repos/acme/api/pulls", withGroups()), EffectDeny, "", ReasonDefaultDeny, nil},
		{"unknown method: default deny", request("PATCH", "/repos/acme/api"), EffectDeny, "", ReasonDefaultDeny, nil},
		{"email and connection", request("POST", "/repos/acme/api/pulls", withEmail("ci@bots.example.com")), EffectDeny, "deny-bots-email", "bots may only read", nil},
		{"query, optional value", request("POST", "/repos/acme/api/git/refs", withQuery("force=true&force=false")), EffectDeny, "deny-force-push", "force updates are refused", nil},
		{"query, second value ignored", request("POST", "/repos/acme/api/git/refs", withQuery("force=false&force=true")), EffectAllow, "allow-agents-post", `allowed by rule "allow-agents-post"`, nil},
		{"body content", request("POST", "/repos/acme/api/git/refs", withBody([]byte(`{"sha":"abc","force":true}`), 26, false)), EffectDeny, "deny-force-push", "force updates are refused", nil},
		{"body size", request("POST", "/repos/acme/api/pulls", withBody(nil, 2_000_000, false)), EffectApprove, "approve-large-bodies", "large uploads need a human", nil},
		{"body truncated", request("POST", "/repos/acme/api/pulls", withBody([]byte("x"), 1, true)), EffectApprove, "approve-large-bodies", "large uploads need a human", nil},
		{"shadow deny does not enforce", request("GET", "/orgs/acme"), EffectAllow, "allow-reads", "agents may read", []string{"shadow-deny-org-reads"}},
		{"shadow allow does not enforce", request("PUT", "/repos/acme/api/topics", withHeader("Content-Type", "application/json")), EffectDeny, "", ReasonDefaultDeny, []string{"shadow-allow-put"}},
		// Spellings of a denied path.
		{"bypass: percent-encoded letter", request("GET", "/repos/acme/api/actions/%73ecrets/TOKEN"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: encoded slash", request("GET", "/repos/acme/api/actions%2Fsecrets%2FTOKEN"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: dot segment", request("GET", "/repos/acme/api/actions/./secrets/TOKEN"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: encoded dot-dot", request("GET", "/repos/acme/api/pulls/%2e%2e/actions/secrets"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: double slash", request("GET", "//repos//acme/api/actions//secrets/TOKEN"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: trailing slash", request("GET", "/repos/acme/api/actions/secrets/"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
		{"bypass: relative path", request("GET", "repos/acme/api/actions/secrets"), EffectDeny, "deny-secrets", "repository secrets are off limits", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Evaluate(tt.in)
			if res.Effect != tt.effect || res.Rule != tt.rule || res.Reason != tt.reason {
				t.Errorf("got %s/%q/%q, want %s/%q/%q", res.Effect, res.Rule, res.Reason, tt.effect, tt.rule, tt.reason)
			}
			var shadow []string
			for _, m := range res.Shadow {
				shadow = append(shadow, m.Rule)
			}
			if strings.Join(shadow, ",") != strings.Join(tt.shadow, ",") {
				t.Errorf("shadow = %v, want %v", shadow, tt.shadow)
			}
			// shadow-broken fails on every request without x-missing, and
			// is reported, not enforced.
			if len(res.Errors) != 1 || res.Errors[0].Rule != "shadow-broken" || !res.Errors[0].Shadow {
				t.Errorf("errors = %+v, want only shadow-broken", res.Errors)
			}
		})
	}
}

func TestEvaluateFailsClosed(t *testing.T) {
	s := mustLoad(t, "testdata/runtime_error.yaml")
	res := s.Evaluate(request("GET", "/"))
	if res.Effect != EffectDeny || res.Rule != "needs-event-header" || !strings.HasPrefix(res.Reason, "rule error: ") || !strings.Contains(res.Reason, "x-github-event") {
		t.Errorf("missing header: %+v", res)
	}
	if len(res.Errors) != 1 || res.Errors[0].Shadow {
		t.Errorf("errors = %+v", res.Errors)
	}
	res = s.Evaluate(request("GET", "/", withHeader("X-GitHub-Event", "push")))
	if res.Effect != EffectAllow || res.Rule != "allow-all" || len(res.Errors) != 0 {
		t.Errorf("with header: %+v", res)
	}
}

func TestCostLimit(t *testing.T) {
	src := Source{Name: "testdata/costly.yaml"}
	var err error
	if src.Data, err = os.ReadFile(src.Name); err != nil {
		t.Fatal(err)
	}
	s, err := Compile([]Source{src}, WithCostLimit(50))
	if err != nil {
		t.Fatal(err)
	}
	if res := s.Evaluate(request("GET", "/")); res.Effect != EffectAllow {
		t.Errorf("few headers: %+v", res)
	}
	many := request("GET", "/")
	for i := range 100 {
		many.Request.Headers[strings.Repeat("h", i+1)] = "v"
	}
	res := s.Evaluate(many)
	if res.Effect != EffectDeny || res.Rule != "header-scan" || !strings.Contains(res.Reason, "cost limit exceeded") {
		t.Errorf("many headers: %+v", res)
	}
	// The default limit is generous.
	s = mustLoad(t, "testdata/costly.yaml")
	if res := s.Evaluate(many); res.Effect != EffectAllow {
		t.Errorf("default limit: %+v", res)
	}
}

func TestNilSetDenies(t *testing.T) {
	var s *Set
	if res := s.Evaluate(request("GET", "/")); res.Effect != EffectDeny || res.Reason != ReasonDefaultDeny {
		t.Errorf("nil set: %+v", res)
	}
	if s.Len() != 0 || s.Rules() != nil {
		t.Error("nil set has rules")
	}
}

func TestInputFrom(t *testing.T) {
	r := &event.Request{
		Connection:     "gh",
		ConnectionType: "github",
		Identity:       event.Identity{Subject: "s", Issuer: "i", Email: "e@x"},
		Method:         "POST",
		Host:           "api.github.com",
		Path:           "/a/%2e%2e/b/",
		Query:          "x=1&x=2&y=%20z&bad=%zz",
		Headers:        map[string][]string{"X-Multi": {"a", "b"}, "Content-Type": {"text/plain"}},
		Body:           &event.Body{Size: 3, ContentLength: 10, Truncated: true, Object: "req/1"},
	}
	in := InputFrom(r, []byte("abc"))
	q := in.Request
	if q.Path != "/b" || q.RawPath != "/a/%2e%2e/b/" || q.Method != "POST" || q.Host != "api.github.com" {
		t.Errorf("request = %+v", q)
	}
	if q.Query["x"] != "1" || q.Query["y"] != " z" || len(q.Query) != 2 {
		t.Errorf("query = %v", q.Query)
	}
	if q.Headers["x-multi"] != "a, b" || q.Headers["content-type"] != "text/plain" || len(q.Headers) != 2 {
		t.Errorf("headers = %v", q.Headers)
	}
	if q.Body != "abc" || q.BodySize != 3 || !q.BodyTruncated {
		t.Errorf("body = %q %d %v", q.Body, q.BodySize, q.BodyTruncated)
	}
	if in.Identity.Groups == nil || in.Identity.Subject != "s" || in.Identity.Issuer != "i" || in.Identity.Email != "e@x" {
		t.Errorf("identity = %+v", in.Identity)
	}
	if in.Connection != (Connection{Name: "gh", Type: "github"}) {
		t.Errorf("connection = %+v", in.Connection)
	}
	// Without a body reference, the inline body; without a body, nothing.
	r.Body = &event.Body{Size: 2, Inline: []byte("hi")}
	if in := InputFrom(r, nil); in.Request.Body != "hi" || in.Request.BodySize != 2 {
		t.Errorf("inline body = %q", in.Request.Body)
	}
	r.Body = nil
	if in := InputFrom(r, nil); in.Request.Body != "" || in.Request.BodySize != 0 || in.Request.BodyTruncated {
		t.Errorf("no body = %+v", in.Request)
	}
}

// TestEvaluateConcurrent shares one set between goroutines (run with
// -race).
func TestEvaluateConcurrent(t *testing.T) {
	s := mustLoad(t, "testdata/good.yaml")
	in := request("POST", "/repos/acme/api/issues")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if res := s.Evaluate(in); res.Effect != EffectApprove {
					t.Errorf("got %+v", res)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEvaluateZeroInput: an input built by hand, with nil maps and lists,
// evaluates like an empty request.
func TestEvaluateZeroInput(t *testing.T) {
	s := mustLoad(t, "testdata/good.yaml")
	res := s.Evaluate(&Input{})
	if res.Effect != EffectDeny || res.Rule != "" {
		t.Errorf("zero input: %+v", res)
	}
	plain := celOnly(t, s)
	if res := plain.Evaluate(&Input{}); res.Effect != EffectDeny || res.Rule != "" {
		t.Errorf("zero input, CEL only: %+v", res)
	}
}
