package rules

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/cel-go/cel"

	"github.com/airlockhq/airlock/pkg/event"
)

// celOnly returns a copy of s whose rules run their whole expression in
// CEL, without guards.
func celOnly(t testing.TB, s *Set) *Set {
	t.Helper()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	out := &Set{rules: slices.Clone(s.rules)}
	for i := range out.rules {
		r := &out.rules[i]
		checked, iss := env.Compile(r.When)
		if iss.Err() != nil {
			t.Fatalf("rule %s: %v", r.Name, iss.Err())
		}
		opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
		if r.tracked {
			opts = append(opts, cel.CostTracking(estimator{maxBody: DefaultMaxBody}), cel.CostLimit(DefaultCostLimit))
		}
		if r.prg, err = env.Program(checked, opts...); err != nil {
			t.Fatalf("rule %s: %v", r.Name, err)
		}
		r.guard = guard{}
	}
	return out
}

// guardInputs vary every field the guards read.
func guardInputs() []*Input {
	var ins []*Input
	for _, method := range []string{"GET", "HEAD", "POST", "PUT", "get"} {
		for _, path := range []string{"/", "/repos/acme/api", "/repos/acme/api/hooks", "/repos/acme/api/hooks/1", "/orgs/acme", "/repos%2Facme/../x"} {
			ins = append(ins, request(method, path))
		}
	}
	ins = append(ins,
		request("GET", "/repos/acme/api", withHeader("X-GitHub-Event", "push")),
		request("GET", "/repos/acme/api", withHeader("X-Flag", "on")),
		request("GET", "/repos/acme/api", withHeader("X-Flag", "off"), withHeader("X-A", "b")),
		request("POST", "/repos/acme/api", withHeader("X-Flag", "on"), withQuery("n=5&page=2")),
		request("POST", "/repos/acme/api", withQuery("n=x")),
		request("POST", "/", withQuery("page=1&x=&n=1")),
		request("GET", "/", withGroups("admins"), withEmail("a@example.com")),
		request("GET", "/", withGroups()),
		request("POST", "/repos/a/b", withBody([]byte(`{"force":true}`), 14, false)),
		request("POST", "/repos/a/b", withBody(make([]byte, 100), 100, false)),
		request("POST", "/repos/a/b", withBody(make([]byte, 101), 101, true)),
		request("POST", "/repos/a/b", func(r *event.Request) { r.Host = "api.github.com"; r.ConnectionType = "git" }),
		request("PUT", "/orgs/acme", func(r *event.Request) { r.Connection = "other"; r.Identity.Issuer = "http://x" }),
	)
	return ins
}

// TestGuardsAgreeWithCEL evaluates every rule both ways, with its guard
// and residual program and as one CEL program, and wants the same answer
// and the same failures.
func TestGuardsAgreeWithCEL(t *testing.T) {
	sets := map[string]*Set{
		"guards.yaml": mustLoad(t, "testdata/guards.yaml"),
		"good.yaml":   mustLoad(t, "testdata/good.yaml"),
	}
	var err error
	if sets["bench"], err = Parse("bench.yaml", pack(199)); err != nil {
		t.Fatal(err)
	}
	for name, s := range sets {
		plain := celOnly(t, s)
		for _, in := range guardInputs() {
			a, b := newActivation(in), newActivation(in)
			for i := range s.rules {
				r, p := &s.rules[i], &plain.rules[i]
				got, gerr := r.match(a)
				want, werr := p.match(b)
				if got != want || (gerr == nil) != (werr == nil) {
					t.Errorf("%s: rule %s on %s %s %v: guard says %v, %v; CEL says %v, %v",
						name, r.Name, in.Request.Method, in.Request.Path, in.Request.Headers, got, gerr, want, werr)
				}
			}
			a.close()
			b.close()
		}
	}
}

// TestGuardCompilation checks which rules of guards.yaml are guarded in
// full, in part, or not at all.
func TestGuardCompilation(t *testing.T) {
	s := mustLoad(t, "testdata/guards.yaml")
	for _, r := range s.rules {
		var got string
		switch {
		case r.guard.exact:
			got = "exact"
		case len(r.guard.checks) > 0:
			got = fmt.Sprintf("partial(%d)", len(r.guard.checks))
		default:
			got = "none"
		}
		want := "exact"
		switch r.Name {
		case "mixed-error", "mixed-size", "mixed-or":
			want = "partial(1)"
		case "mixed-error-unguarded":
			want = "partial(1)"
		case "mixed-three":
			want = "partial(2)"
		case "unguarded":
			want = "none"
		}
		if got != want {
			t.Errorf("rule %s: %s, want %s", r.Name, got, want)
		}
		if (r.prg == nil) != r.guard.exact {
			t.Errorf("rule %s: program %v with exact guard %v", r.Name, r.prg != nil, r.guard.exact)
		}
	}
}

// TestTrackedRulesHaveNoGuard: a rule that may reach the cost limit runs
// whole in CEL, so that its cost is counted.
func TestTrackedRulesHaveNoGuard(t *testing.T) {
	s := mustLoad(t, "testdata/costly.yaml")
	for _, r := range s.rules {
		want := r.Name == "header-scan"
		if r.tracked != want {
			t.Errorf("rule %s: tracked = %v, want %v", r.Name, r.tracked, want)
		}
		if r.tracked && (len(r.guard.checks) > 0 || r.prg == nil) {
			t.Errorf("rule %s: tracked with a guard", r.Name)
		}
	}
}
