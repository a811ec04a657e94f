package canonical

import (
	"errors"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	tests := []struct {
		raw, want string
		bad       string // substring of the error, "" when accepted
	}{
		{"/repos/acme/api", "/repos/acme/api", ""},
		{"/", "/", ""},
		{"/repos/acme/api/", "/repos/acme/api", ""},
		{"//repos///acme//api", "/repos/acme/api", ""},
		{"/repos/./acme/api", "/repos/acme/api", ""},
		{"/repos/x/../acme/api", "/repos/acme/api", ""},
		{"/repos/acme/api/contents/.github/workflows/x.yml", "/repos/acme/api/contents/.github/workflows/x.yml", ""},
		{"/repos/acme/api/contents/%2egithub/workflows/x.yml", "/repos/acme/api/contents/.github/workflows/x.yml", ""},
		{"/repos/acme/api/contents/.github/%77orkflows/x.yml", "/repos/acme/api/contents/.github/workflows/x.yml", ""},
		{"/repos/acme/api/contents/a/%2e%2e/.github/workflows/x.yml", "/repos/acme/api/contents/.github/workflows/x.yml", ""},
		{"/repos/acme/api/contents/a%20b", "/repos/acme/api/contents/a b", ""},
		{"/repos/acme/api/contents/.github%2Fworkflows/x.yml", "", "encoded slash"},
		{"/repos/acme/api/contents/.github%2fworkflows/x.yml", "", "encoded slash"},
		{"/repos/acme/api/contents/.github%5Cworkflows", "", "backslash"},
		{`/repos/acme/api/contents/.github\workflows`, "", "backslash"},
		{"/repos/acme/api/contents/%252egithub", "", "double percent-encoding"},
		{"/repos/acme/api/%zz", "", "invalid percent-encoding"},
		{"/repos/acme/api/%", "", "invalid percent-encoding"},
		{"/repos/acme%00/api", "", "control character"},
		{"/repos/acme%0a/api", "", "control character"},
		{"/..", "", "above the root"},
		{"/%2e%2e/repos", "", "above the root"},
		{"/a/../../repos", "", "above the root"},
		{"repos/acme", "", "does not start with /"},
		{"/" + strings.Repeat("a", MaxPathLen), "", "longer than"},
	}
	for _, tt := range tests {
		got, err := Path(tt.raw)
		if tt.bad != "" {
			if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("Path(%q) = %q, %v; want an error about %q", tt.raw, got, err, tt.bad)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

func TestCanonicalizeRefusesMethodOverrides(t *testing.T) {
	tests := []struct {
		method  string
		headers map[string][]string
		query   string
		bad     bool
	}{
		{"GET", nil, "", false},
		{"POST", map[string][]string{"X-Http-Method-Override": {"DELETE"}}, "", true},
		{"POST", map[string][]string{"X-Http-Method": {"delete"}}, "", true},
		{"POST", map[string][]string{"X-Method-Override": {"PUT"}}, "", true},
		{"POST", map[string][]string{"X-Http-Method-Override": {"post"}}, "", false},
		{"POST", nil, "_method=DELETE", true},
		{"POST", nil, "a=1&_method=delete", true},
		{"POST", nil, "_method=POST", false},
		{"get", nil, "", true},
		{"GE T", nil, "", true},
		{"", nil, "", true},
	}
	for _, tt := range tests {
		_, err := Canonicalize(tt.method, "/x", tt.headers, tt.query)
		if (err != nil) != tt.bad {
			t.Errorf("Canonicalize(%q, %v, %q) error = %v, want refused=%v", tt.method, tt.headers, tt.query, err, tt.bad)
		}
	}
}

func TestForwardPathRoundTrips(t *testing.T) {
	c, err := Canonicalize("PUT", "/repos/acme/api/contents/a%20b/%2e/c%3Fd.txt", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "/repos/acme/api/contents/a b/c?d.txt" {
		t.Fatalf("Path = %q", c.Path)
	}
	if c.ForwardPath != "/repos/acme/api/contents/a%20b/c%3Fd.txt" {
		t.Fatalf("ForwardPath = %q", c.ForwardPath)
	}
	again, err := Path(c.ForwardPath)
	if err != nil || again != c.Path {
		t.Fatalf("ForwardPath is not canonical: Path(%q) = %q, %v", c.ForwardPath, again, err)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{"/repos/acme/api", "//a/./b/../c/", "/%2e%2e/x", "/a%2Fb", "/a%252e", "/a b", "/%E2%82%AC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Canonicalize("GET", raw, nil, "")
		if err != nil {
			if !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("error does not wrap ErrAmbiguous: %v", err)
			}
			return
		}
		if !strings.HasPrefix(c.Path, "/") || strings.Contains(c.Path, "//") || strings.Contains(c.Path, "/./") || strings.Contains(c.Path, "/../") {
			t.Fatalf("Path(%q) = %q is not canonical", raw, c.Path)
		}
		if len(c.Path) > 1 && strings.HasSuffix(c.Path, "/") {
			t.Fatalf("Path(%q) = %q has a trailing slash", raw, c.Path)
		}
		// Idempotent: the forwarded path canonicalises to the same path,
		// so the upstream sees what policy judged.
		again, err := Path(c.ForwardPath)
		if err != nil || again != c.Path {
			t.Fatalf("Path(ForwardPath %q) = %q, %v; want %q", c.ForwardPath, again, err, c.Path)
		}
	})
}
