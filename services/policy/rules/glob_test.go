package rules

import (
	"path"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/repos/acme/api", "/repos/acme/api", true},
		{"/repos/acme/api", "/repos/acme/api2", false},
		{"/repos/acme/api", "/repos/acme", false},
		// * stays within one segment.
		{"/repos/*/api", "/repos/acme/api", true},
		{"/repos/*/api", "/repos/acme/x/api", false},
		{"/repos/*", "/repos/acme", true},
		{"/repos/*", "/repos", false},
		{"/repos/*", "/repos/acme/api", false},
		{"/repos/a*e/api", "/repos/acme/api", true},
		{"/repos/a*e/api", "/repos/acmx/api", false},
		{"/repos/*-prod/*", "/repos/api-prod/x", true},
		{"/repos/*-prod/*", "/repos/api-prod-x/x", false},
		{"/repos/*.*", "/repos/a.b.c", true},
		{"*", "", true},
		// ** spans zero or more whole segments.
		{"/repos/**", "/repos", true},
		{"/repos/**", "/repos/acme", true},
		{"/repos/**", "/repos/acme/api/contents/x", true},
		{"/repos/**", "/repository", false},
		{"/repos/**", "/other/repos/x", false},
		{"/repos/**/hooks", "/repos/hooks", true},
		{"/repos/**/hooks", "/repos/acme/api/hooks", true},
		{"/repos/**/hooks", "/repos/acme/api/hooks/1", false},
		{"/repos/**/hooks/*", "/repos/acme/api/hooks/1", true},
		{"/**/secrets/**", "/repos/acme/api/actions/secrets/TOKEN", true},
		{"/**/secrets/**", "/repos/acme/api/actions/secret", false},
		{"/**", "/", true},
		{"/**", "/anything/at/all", true},
		{"**", "relative/too", true},
		{"/a/**/b/**/c", "/a/x/b/y/z/c", true},
		{"/a/**/b/**/c", "/a/x/b/y/z/d", false},
		{"/a/**/**/c", "/a/c", true},
		// ** mixed with text in one segment acts as *.
		{"/repos/a**", "/repos/abc", true},
		{"/repos/a**", "/repos/abc/d", false},
		// Other characters are literal.
		{"/repos/?", "/repos/a", false},
		{"/repos/[ab]", "/repos/[ab]", true},
		{"", "", true},
		{"", "/", false},
	}
	for _, tt := range tests {
		if got := Glob(tt.path, tt.pattern); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tt.path, tt.pattern, got, tt.want)
		}
	}
}

func TestGlobInCEL(t *testing.T) {
	s, err := Parse("glob.yaml", []byte(`rules:
  - name: hooks
    effect: allow
    when: glob(request.path, "/repos/*/*/hooks/**") && identity.in_group("admins")
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in   *Input
		want string
	}{
		{request("GET", "/repos/acme/api/hooks/1", withGroups("admins")), EffectAllow},
		{request("GET", "/repos/acme/api/hooks/1", withGroups("agents")), EffectDeny},
		{request("GET", "/repos/acme/hooks/1", withGroups("admins")), EffectDeny},
	} {
		if got := s.Evaluate(tt.in).Effect; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.in.Request.Path, got, tt.want)
		}
	}
}

// FuzzGlob compares Glob with path.Match for patterns without "**", where
// the two agree once path.Match's extra syntax is left out.
func FuzzGlob(f *testing.F) {
	f.Add("/repos/*/api", "/repos/acme/api")
	f.Add("/a*b*c", "/aXbYc")
	f.Add("*/*", "a/b")
	f.Fuzz(func(t *testing.T, pattern, p string) {
		if strings.ContainsAny(pattern, `?[\`) || strings.Contains(pattern, "**") {
			return
		}
		want, err := path.Match(pattern, p)
		if err != nil {
			return
		}
		if got := Glob(p, pattern); got != want {
			t.Fatalf("Glob(%q, %q) = %v, path.Match = %v", p, pattern, got, want)
		}
	})
}
