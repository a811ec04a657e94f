// Package github classifies a GitHub REST API request, given its method and
// canonical path, into an Operation that policy rules can reason about: which
// repository or organization it touches, which action in a small stable
// vocabulary it performs ("contents.write", "git.refs.delete",
// "actions.secrets.read", …), which ref, branch or file it names, and
// whether it changes state.
//
// Classification is a lookup in a fixed route table (routes.go). A request
// that matches no entry is still classified: its action is "unknown.read"
// or "unknown.write" by method, so that a rule can deny what Airlock does
// not understand.
//
// GitHub also serves repositories by numeric ID under /repositories/{id}/.
// Those paths name no owner or repository, so they are unknown routes,
// except environment secrets and variables, which are classified with an
// empty Owner and Repo: a rule about a repository must not read an empty
// Repo as "no repository".
package github

import (
	"slices"
	"strings"
)

// Operation is what a GitHub REST request does, as far as its method and
// path tell. Request bodies are not read: POST /git/refs names its ref in
// the body, so its Ref is empty.
type Operation struct {
	// Owner is the repository owner named by the path, lower-cased because
	// GitHub owner and repository names are case-insensitive.
	Owner string
	// Repo is the repository name named by the path, lower-cased.
	Repo string
	// Resource is the action without its final verb: "contents",
	// "git.refs", "actions.secrets", or "unknown".
	Resource string
	// Action is "<resource>.<verb>" from the vocabulary that Actions lists,
	// or "unknown.read" / "unknown.write" when no route matched.
	Action string
	// Ref is the full ref the route names ("refs/heads/main",
	// "refs/tags/v1.2"), with its case preserved, and "" when it names none.
	// A route that names a branch also sets Ref to "refs/heads/<branch>".
	// For GET /git/matching-refs/{ref} it is the prefix being matched.
	Ref string
	// Branch is the branch name the route names ("feature/x"), either
	// directly (branches/{branch}) or through a Ref under refs/heads/.
	Branch string
	// FilePath is, for the contents API, the file path inside the
	// repository without a leading slash (".github/workflows/ci.yml"),
	// with its case preserved, and "" otherwise.
	FilePath string
	// Org is the organization named by the path (/orgs/{org}/...,
	// /user/memberships/orgs/{org}), lower-cased.
	Org string
	// Write reports whether the request may change state: true for every
	// method other than GET, HEAD and OPTIONS.
	Write bool
	// Known reports whether a route table entry matched.
	Known bool
}

// Verbs that a route with method "*" maps request methods to, as indexes
// into route.verbActions.
const (
	verbRead = iota
	verbWrite
	verbDelete
)

// verbNames are the action suffixes of verbRead, verbWrite and verbDelete.
var verbNames = [...]string{verbRead: "read", verbWrite: "write", verbDelete: "delete"}

// Actions for requests that match no route.
const (
	unknownRead  = "unknown.read"
	unknownWrite = "unknown.write"
)

// Classify classifies a GitHub REST API request. method is the upper-case
// HTTP method after any override has been resolved; path is canonical
// (percent-decoded, without dot segments, duplicate slashes or a trailing
// slash, starting with "/") and relative to the API root. Classify does not
// fail: input that is not canonical simply matches fewer routes.
//
// Fixed path segments match case-insensitively (ASCII only), as GitHub's
// API does. HEAD and OPTIONS requests match the GET routes.
func Classify(method, path string) Operation {
	var buf [maxStackSegments]segment
	segs := splitPath(path, buf[:0])
	op := Operation{Write: !safeMethod(method)}

	lookup := method
	if lookup == "HEAD" || lookup == "OPTIONS" {
		lookup = "GET"
	}
	for _, r := range index.bucket(segs) {
		if r.method != "*" && r.method != lookup {
			continue
		}
		if !r.match(path, segs, &op) {
			continue
		}
		op.Known = true
		op.Action, op.Resource = r.action, r.resource
		if r.method == "*" {
			op.Action = r.verbActions[verbOf(method)]
		}
		op.Owner = strings.ToLower(op.Owner)
		op.Repo = strings.ToLower(op.Repo)
		op.Org = strings.ToLower(op.Org)
		return op
	}

	// No route: keep what the path's shape still tells.
	op = Operation{Write: op.Write, Resource: "unknown", Action: unknownRead}
	if op.Write {
		op.Action = unknownWrite
	}
	if len(segs) >= 3 && foldEqual(segs[0].s, "repos") && segs[1].s != "" && segs[2].s != "" {
		op.Owner = strings.ToLower(segs[1].s)
		op.Repo = strings.ToLower(segs[2].s)
	}
	if len(segs) >= 2 && foldEqual(segs[0].s, "orgs") && segs[1].s != "" {
		op.Org = strings.ToLower(segs[1].s)
	}
	return op
}

// Actions returns the action vocabulary: every action some route can
// classify a request as, plus "unknown.read" and "unknown.write", sorted.
// A rule set can check the actions it names against it.
func Actions() []string {
	seen := map[string]bool{unknownRead: true, unknownWrite: true}
	for _, r := range index.routes {
		if r.method == "*" {
			for _, a := range r.verbActions {
				seen[a] = true
			}
			continue
		}
		seen[r.action] = true
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// safeMethod reports whether method is one that GitHub never changes state
// for.
func safeMethod(method string) bool {
	return method == "GET" || method == "HEAD" || method == "OPTIONS"
}

// verbOf maps a method to the verb of a "*" route.
func verbOf(method string) int {
	switch {
	case safeMethod(method):
		return verbRead
	case method == "DELETE":
		return verbDelete
	default:
		return verbWrite
	}
}

// segment is one path segment and its byte offset in the path, so that a
// greedy placeholder can capture a substring of the path without joining.
type segment struct {
	s   string
	off int
}

// maxStackSegments is how many segments Classify splits into a stack
// buffer; longer paths spill to the heap.
const maxStackSegments = 24

// splitPath splits path into its segments, appending to segs. "/" and ""
// have no segments; a leading slash is dropped, and empty segments of a
// non-canonical path are kept so that they match no placeholder.
func splitPath(path string, segs []segment) []segment {
	start := 0
	if strings.HasPrefix(path, "/") {
		start = 1
	}
	if start >= len(path) {
		return segs
	}
	for {
		i := strings.IndexByte(path[start:], '/')
		if i < 0 {
			return append(segs, segment{path[start:], start})
		}
		segs = append(segs, segment{path[start : start+i], start})
		start += i + 1
	}
}

// foldEqual reports whether s equals lower, a lower-case ASCII string,
// ignoring ASCII case only: GitHub's routing folds ASCII, and Unicode
// folding (the Kelvin sign "K" to "k") would match paths GitHub does not.
func foldEqual(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// asciiLower lower-cases the ASCII letters of s, returning s itself when it
// has none.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
