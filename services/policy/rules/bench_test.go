package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchShapes are the rule shapes of the generated pack, %d standing for
// the rule's number. The first five are made only of guard shapes (see
// guard); the others need their CEL program, at least for some requests.
// None needs its cost counted as it runs: see BenchmarkTrackedRule.
var benchShapes = []string{
	`request.method == "POST" && glob(request.path, "/repos/org%d/*/issues/**")`,
	`identity.in_group("team-%d") && request.method in ["PUT", "PATCH"]`,
	`request.path.startsWith("/orgs/org%d/") && connection.name == "github"`,
	`request.query[?"page"].orValue("") == "%d" && request.host == "api.github.com"`,
	`request.headers[?"x-github-event"].orValue("") == "push-%d" || identity.sub == "bot-%[1]d"`,
	`"x-flag-%d" in request.headers && request.headers["x-flag-%[1]d"] == "on"`,
	`request.body_size > %d && connection.type == "github"`,
	`glob(request.path, "/repos/*/*/pulls/**") && size(request.query) > %d`,
	`request.path.matches("^/repos/[^/]+/[^/]+/hooks/%d$")`,
}

// pack generates a policy of n rules of the shapes above, then the rule
// that decides the benchmark's request, last, so that every rule runs.
func pack(n int) []byte {
	var b strings.Builder
	b.WriteString("rules:\n")
	effects := []string{EffectAllow, EffectDeny, EffectApprove}
	for i := range n {
		when := fmt.Sprintf(benchShapes[i%len(benchShapes)], i+1000)
		fmt.Fprintf(&b, "  - name: rule-%03d\n    effect: %s\n    when: '%s'\n    shadow: %v\n",
			i, effects[i%3], when, i%17 == 0)
	}
	b.WriteString("  - name: allow-reads\n    effect: allow\n    when: request.method in [\"GET\", \"HEAD\"] && glob(request.path, \"/repos/*/*/pulls/**\")\n")
	return []byte(b.String())
}

// benchInput is a typical read by an agent.
func benchInput() *Input {
	return request("GET", "/repos/acme/api/pulls/1",
		withGroups("agents", "team-a", "team-b"),
		withQuery("page=2&per_page=100"),
		withHeader("User-Agent", "claude-code/1.0"),
		withHeader("X-GitHub-Api-Version", "2022-11-28"),
		withHeader("Content-Type", "application/json"),
	)
}

// BenchmarkEvaluate200 evaluates a 200-rule pack against one request and
// reports the latency distribution of one evaluation (p50-ns, p99-ns):
// as compiled, and with every rule forced through its CEL program.
func BenchmarkEvaluate200(b *testing.B) {
	for _, guards := range []bool{true, false} {
		name := "guards"
		if !guards {
			name = "cel-only"
		}
		b.Run(name, func(b *testing.B) {
			s, err := Parse("bench.yaml", pack(199))
			if err != nil {
				b.Fatal(err)
			}
			if !guards {
				s = celOnly(b, s)
			}
			in := benchInput()
			if res := s.Evaluate(in); res.Effect != EffectAllow || res.Rule != "allow-reads" || len(res.Errors) != 0 {
				b.Fatalf("unexpected result %+v", res)
			}
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				s.Evaluate(in)
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*50/100].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// BenchmarkTrackedRule measures one rule whose estimated worst case is over
// the cost limit, a comprehension over the headers, which therefore counts
// its cost as it runs, against the same rule run as it is.
func BenchmarkTrackedRule(b *testing.B) {
	for _, tracked := range []bool{true, false} {
		b.Run(fmt.Sprintf("tracked=%v", tracked), func(b *testing.B) {
			src := []byte("rules:\n  - name: r\n    effect: deny\n    when: request.headers.exists(k, k.startsWith(\"x-debug-\"))\n")
			limit := uint64(DefaultCostLimit)
			if !tracked {
				limit = 1 << 62
			}
			s, err := Parse("tracked.yaml", src, WithCostLimit(limit))
			if err != nil {
				b.Fatal(err)
			}
			if s.rules[0].tracked != tracked {
				b.Fatalf("tracked = %v", s.rules[0].tracked)
			}
			in := benchInput()
			for b.Loop() {
				s.Evaluate(in)
			}
		})
	}
}

// BenchmarkInputFrom measures building the input of a typical request.
func BenchmarkInputFrom(b *testing.B) {
	for b.Loop() {
		request("GET", "/repos/acme/api/pulls/%2e%2e/1", withQuery("page=2"))
	}
}
