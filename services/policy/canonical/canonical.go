// Package canonical puts a request into the one form that policy judges and
// the ingress forwards, so that a rule cannot be bypassed by spelling the
// same resource another way. A request that has no single unambiguous form
// (an encoded slash, a double encoding, a path above the root, a method
// override) is refused rather than guessed at: what the upstream would make
// of it is exactly what a bypass exploits.
package canonical

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrAmbiguous wraps every refusal.
var ErrAmbiguous = errors.New("request has no unambiguous canonical form")

// Request is the canonical form of a request line.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is decoded once, with dot segments resolved, runs of slashes
	// collapsed and no trailing slash (except the root "/").
	Path string
	// ForwardPath is Path escaped for the wire: what the ingress sends to
	// the upstream, so that the upstream acts on what policy judged.
	ForwardPath string
}

// OverrideHeaders are the headers some frameworks read to replace the
// method. Airlock refuses them (when they differ from the method) instead of
// guessing whether the upstream honours them.
var OverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// MaxPathLen bounds the decoded path policy will look at. The escaped path
// may be up to three times as long (every byte escaped), so that the
// forwarded path of an accepted path is accepted too.
const MaxPathLen = 8 << 10

// Canonicalize returns the canonical form of a request, or an error wrapping
// ErrAmbiguous that says what is ambiguous. rawPath is the escaped path as
// received; headers use canonical names (net/http's); rawQuery is the raw
// query string.
func Canonicalize(method, rawPath string, headers map[string][]string, rawQuery string) (Request, error) {
	if err := checkMethod(method); err != nil {
		return Request{}, err
	}
	for _, h := range OverrideHeaders {
		for _, v := range headers[h] {
			if !strings.EqualFold(strings.TrimSpace(v), method) {
				return Request{}, fmt.Errorf("%w: method override %s: %.16q on a %s request", ErrAmbiguous, h, v, method)
			}
		}
	}
	if strings.Contains(rawQuery, "_method=") {
		if q, err := url.ParseQuery(rawQuery); err == nil || q.Has("_method") {
			for _, v := range q["_method"] {
				if !strings.EqualFold(v, method) {
					return Request{}, fmt.Errorf("%w: method override _method=%.16q on a %s request", ErrAmbiguous, v, method)
				}
			}
		}
	}
	p, err := Path(rawPath)
	if err != nil {
		return Request{}, err
	}
	return Request{Method: method, Path: p, ForwardPath: (&url.URL{Path: p}).EscapedPath()}, nil
}

// Path returns the canonical form of an escaped path.
func Path(raw string) (string, error) {
	if len(raw) > 3*MaxPathLen {
		return "", fmt.Errorf("%w: path longer than %d bytes", ErrAmbiguous, MaxPathLen)
	}
	if !strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("%w: path does not start with /", ErrAmbiguous)
	}
	lower := strings.ToLower(raw)
	switch {
	case strings.Contains(lower, "%2f"):
		return "", fmt.Errorf("%w: encoded slash (%%2F) in path", ErrAmbiguous)
	case strings.Contains(lower, "%5c"), strings.Contains(raw, `\`):
		return "", fmt.Errorf("%w: backslash in path", ErrAmbiguous)
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("%w: invalid percent-encoding in path", ErrAmbiguous)
	}
	if len(decoded) > MaxPathLen {
		return "", fmt.Errorf("%w: path longer than %d bytes", ErrAmbiguous, MaxPathLen)
	}
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: control character in path", ErrAmbiguous)
		}
		if c == '%' && i+2 < len(decoded) && isHex(decoded[i+1]) && isHex(decoded[i+2]) {
			return "", fmt.Errorf("%w: double percent-encoding in path", ErrAmbiguous)
		}
	}
	segs := strings.Split(decoded, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", fmt.Errorf("%w: path climbs above the root", ErrAmbiguous)
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), nil
}

func checkMethod(m string) error {
	if m == "" || len(m) > 16 {
		return fmt.Errorf("%w: invalid method", ErrAmbiguous)
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < 'A' || c > 'Z' {
			return fmt.Errorf("%w: method %.16q is not upper case letters", ErrAmbiguous, m)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
