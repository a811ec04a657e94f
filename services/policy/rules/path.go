package rules

import (
	"path"
	"strings"
)

// CanonicalPath returns the form of a request path that rules match on, so
// that a rule cannot be bypassed by spelling the same resource another way:
//
//   - percent-escapes are decoded once ("%2e%2e" is "..", "%2F" is "/");
//     an invalid escape is kept as written, and a double escape ("%252e")
//     stays escaped once ("%2e"), as the upstream will see it;
//   - the path is made absolute;
//   - "." and ".." segments are resolved, never above the root;
//   - runs of slashes become one;
//   - a trailing slash is removed, except from the root "/".
//
// It does not fold case, expand backslashes or apply method overrides:
// those depend on the connection and belong to the classifier.
func CanonicalPath(raw string) string {
	p := unescapeOnce(raw)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// unescapeOnce decodes every valid %XX escape in s and keeps any other "%"
// as it is. Unlike url.PathUnescape it never fails: a policy sees every
// path, however malformed.
func unescapeOnce(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
