package rules

import (
	"strings"
	"testing"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", "/"},
		{"/", "/"},
		{"/repos/acme/api", "/repos/acme/api"},
		{"repos/acme", "/repos/acme"},
		// Trailing slashes.
		{"/repos/acme/", "/repos/acme"},
		{"/repos/acme//", "/repos/acme"},
		// Duplicate slashes.
		{"//repos///acme", "/repos/acme"},
		// Dot segments, plain and encoded, never above the root.
		{"/repos/./acme", "/repos/acme"},
		{"/repos/x/../acme", "/repos/acme"},
		{"/repos/%2e/acme", "/repos/acme"},
		{"/repos/x/%2e%2e/acme", "/repos/acme"},
		{"/repos/x/%2E%2E/acme", "/repos/acme"},
		{"/repos/x/.%2e/acme", "/repos/acme"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/%2e%2e/%2e%2e/etc", "/etc"},
		// Encoded slashes are separators once decoded.
		{"/repos%2Facme%2fapi", "/repos/acme/api"},
		{"/repos%2F..%2Fadmin", "/admin"},
		// Decoded once only: a double escape stays escaped once.
		{"/repos/%252e%252e/admin", "/repos/%2e%2e/admin"},
		// Invalid escapes are kept.
		{"/a%zz/b%", "/a%zz/b%"},
		{"/a%2", "/a%2"},
		{"/caf%C3%A9", "/café"},
		{"/a%20b", "/a b"},
		// Case is not folded: that depends on the service.
		{"/Repos/Acme", "/Repos/Acme"},
	}
	for _, tt := range tests {
		if got := CanonicalPath(tt.raw); got != tt.want {
			t.Errorf("CanonicalPath(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzCanonicalPath checks the shape of every canonical path: absolute,
// without empty, "." or ".." segments, without a trailing slash.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"", "/", "/a/../b", "%2e%2e/%2F/x/", "/a%zz", "//./.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p := CanonicalPath(raw)
		if p == "/" {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			t.Fatalf("CanonicalPath(%q) = %q: not absolute or trailing slash", raw, p)
		}
		for _, seg := range strings.Split(p[1:], "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("CanonicalPath(%q) = %q: segment %q", raw, p, seg)
			}
		}
	})
}
