package corpus

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// benignKinds are the generators of Benign, in turn.
var benignKinds = []struct {
	name string
	make func(g *ghGen) (kind, ext string, data []byte)
}{
	{"github-api", func(g *ghGen) (string, string, []byte) {
		return KindJSON, "json", GitHubJSON(2<<10+g.rng.IntN(6<<10), g.rng.Uint64(), nil)
	}},
	{"git-log", gitLog},
	{"hook-deliveries", hookDeliveries},
	{"access-log", accessLog},
	{"graphql", graphQL},
	{"image", image},
	{"lockfile", lockfile},
}

// Benign returns n documents with no secret in them, made of what looks
// like secrets to a careless detector: GitHub API listings (shas, node ids,
// PGP signatures), git logs, UUIDs (webhook deliveries, request ids),
// GraphQL responses (node ids, cursors), base64 images (in a data URI or
// the contents API) and lockfiles (sha512 integrity hashes, go.sum
// hashes). Documents are one to eight kilobytes; Secrets is empty.
func Benign(n int) []Doc {
	docs := make([]Doc, n)
	for i := range docs {
		k := benignKinds[i%len(benignKinds)]
		kind, ext, data := k.make(newGHGen(uint64(3000 + i)))
		docs[i] = Doc{Name: fmt.Sprintf("%03d-%s.%s", i, k.name, ext), Kind: kind, Data: data}
	}
	return docs
}

func marshal(v any, indent bool) []byte {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		panic(err)
	}
	return b
}

// gitLog is `git log` output, or the --oneline form of it.
func gitLog(g *ghGen) (string, string, []byte) {
	var b strings.Builder
	oneline := g.rng.IntN(3) == 0
	for range 6 + g.rng.IntN(12) {
		sha := g.sha()
		if oneline {
			fmt.Fprintf(&b, "%s %s\n", sha[:7], g.sentence(4+g.rng.IntN(6)))
			continue
		}
		fmt.Fprintf(&b, "commit %s\n", sha)
		if g.rng.IntN(4) == 0 {
			fmt.Fprintf(&b, "Merge: %s %s\n", g.sha()[:7], g.sha()[:7])
		}
		name := g.login()
		when, _ := time.Parse(time.RFC3339, g.when())
		fmt.Fprintf(&b, "Author: %s <%s@users.noreply.github.com>\nDate:   %s\n\n    %s\n\n    %s\n\n", name, name, when.Format("Mon Jan 2 15:04:05 2006 -0700"), g.sentence(4+g.rng.IntN(6)), g.sentence(12+g.rng.IntN(20)))
		if g.rng.IntN(2) == 0 {
			fmt.Fprintf(&b, "    Change-Id: I%s\n    Reviewed-on: https://review.example.org/c/%s/+/%d\n", g.sha(), name, 10000+g.rng.IntN(90000))
		}
		fmt.Fprintf(&b, "    Signed-off-by: %s <%s@users.noreply.github.com>\n\n", name, name)
	}
	return KindText, "txt", []byte(b.String())
}

func (g *ghGen) uuid() string {
	h := g.pick(LowerHex, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[g.rng.IntN(4)]) + h[17:20] + "-" + h[20:]
}

// hookDeliveries is GET /repos/{owner}/{repo}/hooks/{id}/deliveries.
func hookDeliveries(g *ghGen) (string, string, []byte) {
	var items []any
	for range 8 + g.rng.IntN(20) {
		items = append(items, map[string]any{
			"id":              g.rng.Int64N(1e11),
			"guid":            g.uuid(),
			"delivered_at":    g.when(),
			"redelivery":      g.rng.IntN(10) == 0,
			"duration":        float64(g.rng.IntN(900)) / 1000,
			"status":          "OK",
			"status_code":     200,
			"event":           []string{"push", "pull_request", "issues", "check_run", "workflow_job"}[g.rng.IntN(5)],
			"action":          []any{nil, "opened", "completed", "synchronize"}[g.rng.IntN(4)],
			"installation_id": g.nextID(),
			"repository_id":   g.nextID(),
			"throttled_at":    nil,
		})
	}
	return KindJSON, "json", marshal(items, g.rng.IntN(2) == 0)
}

// accessLog is a proxy's access log: request ids, GitHub's request ids,
// paths with shas.
func accessLog(g *ghGen) (string, string, []byte) {
	var b strings.Builder
	paths := []string{"/repos/%s/pulls", "/repos/%s/commits/%s", "/repos/%s/git/trees/%s", "/repos/%s/actions/runs", "/repos/%s/contents/README.md"}
	for range 15 + g.rng.IntN(30) {
		p := paths[g.rng.IntN(len(paths))]
		var path string
		if strings.Count(p, "%s") == 2 {
			path = fmt.Sprintf(p, g.fullName(), g.sha())
		} else {
			path = fmt.Sprintf(p, g.fullName())
		}
		fmt.Fprintf(&b, "%s level=INFO msg=\"upstream response\" method=GET path=%s status=%d duration_ms=%d request_id=%s github_request_id=%s:%s:%s:%s:%s bytes=%d\n",
			g.when(), path, []int{200, 200, 200, 304, 404}[g.rng.IntN(5)], 5+g.rng.IntN(900), g.uuid(),
			strings.ToUpper(g.pick(LowerHex, 4)), strings.ToUpper(g.pick(LowerHex, 4)), strings.ToUpper(g.pick(LowerHex, 6)), strings.ToUpper(g.pick(LowerHex, 6)), strings.ToUpper(g.pick(LowerHex, 8)),
			g.rng.IntN(200000))
	}
	return KindText, "log", []byte(b.String())
}

// graphQL is a GraphQL API response listing pull requests: node ids in
// both formats, head shas and pagination cursors.
func graphQL(g *ghGen) (string, string, []byte) {
	var nodes []any
	for range 5 + g.rng.IntN(15) {
		id := g.nextID()
		nodes = append(nodes, map[string]any{
			"id":         g.nodeID("PR"),
			"number":     1 + g.rng.IntN(5000),
			"title":      g.sentence(4 + g.rng.IntN(6)),
			"headRefOid": g.sha(),
			"baseRefOid": g.sha(),
			"mergeable":  []string{"MERGEABLE", "CONFLICTING", "UNKNOWN"}[g.rng.IntN(3)],
			"author":     map[string]any{"login": g.login(), "id": legacyNodeID("User", id)},
			"commits":    map[string]any{"totalCount": 1 + g.rng.IntN(30)},
		})
	}
	cursor := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "cursor:v2:%d", g.nextID()))
	return KindJSON, "json", marshal(map[string]any{"data": map[string]any{"repository": map[string]any{
		"id": g.nodeID("R"),
		"pullRequests": map[string]any{
			"nodes":    nodes,
			"pageInfo": map[string]any{"endCursor": cursor, "startCursor": base64.StdEncoding.EncodeToString([]byte("cursor:v2:1")), "hasNextPage": true},
		},
	}}}, g.rng.IntN(2) == 0)
}

// imageBytes is a PNG or JPEG header followed by random bytes.
func (g *ghGen) imageBytes(png bool) []byte {
	b := make([]byte, 600+g.rng.IntN(2400))
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	if png {
		copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	} else {
		copy(b, "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01")
	}
	return b
}

// image is a base64 image: in the contents API's JSON (lines of 60
// characters, as GitHub sends them) or in a data URI in markdown.
func image(g *ghGen) (string, string, []byte) {
	png := g.rng.IntN(2) == 0
	enc := base64.StdEncoding.EncodeToString(g.imageBytes(png))
	name := "logo.jpg"
	if png {
		name = "logo.png"
	}
	if g.rng.IntN(2) == 0 {
		var lines []string
		for i := 0; i < len(enc); i += 60 {
			lines = append(lines, enc[i:min(i+60, len(enc))])
		}
		full := g.fullName()
		sha := g.sha()
		u := "https://api.github.com/repos/" + full + "/contents/docs/" + name
		return KindJSON, "json", marshal(map[string]any{
			"type": "file", "encoding": "base64", "size": len(enc) * 3 / 4, "name": name, "path": "docs/" + name,
			"content": strings.Join(lines, "\n") + "\n", "sha": sha, "url": u + "?ref=main",
			"git_url":      "https://api.github.com/repos/" + full + "/git/blobs/" + sha,
			"html_url":     "https://github.com/" + full + "/blob/main/docs/" + name,
			"download_url": "https://raw.githubusercontent.com/" + full + "/main/docs/" + name,
			"_links":       map[string]any{"self": u, "git": "https://api.github.com/repos/" + full + "/git/blobs/" + sha, "html": "https://github.com/" + full + "/blob/main/docs/" + name},
		}, true)
	}
	mime := "image/jpeg"
	if png {
		mime = "image/png"
	}
	md := fmt.Sprintf("# %s\n\n<p align=\"center\">\n  <img alt=\"logo\" width=\"120\" src=\"data:%s;base64,%s\">\n</p>\n\n%s.\n", g.login(), mime, enc, g.sentence(20))
	return KindText, "md", []byte(md)
}

// npmPackages are real package names, some with "auth", "token" or "key"
// in them.
var npmPackages = []string{
	"react", "react-dom", "lodash", "@babel/core", "@babel/helper-plugin-utils", "js-tokens", "safe-buffer",
	"debug", "ms", "semver", "chalk", "supports-color", "has-flag", "ansi-styles", "color-convert",
	"loose-envify", "scheduler", "@types/node", "typescript", "esbuild", "tslib", "picocolors", "nanoid",
	"postcss", "source-map-js", "jsonwebtoken", "keygrip", "cookie", "express", "body-parser",
	"http-errors", "@octokit/auth-token", "@octokit/core", "@octokit/rest", "before-after-hook",
	"universal-user-agent", "keyv", "json-buffer", "api-extractor-model", "passport-oauth2",
}

// lockfile is a package-lock.json, a yarn.lock or a go.sum.
func lockfile(g *ghGen) (string, string, []byte) {
	version := func() string { return fmt.Sprintf("%d.%d.%d", g.rng.IntN(10), g.rng.IntN(30), g.rng.IntN(20)) }
	integrity := func() string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(g.rng.IntN(256))
		}
		return "sha512-" + base64.StdEncoding.EncodeToString(b)
	}
	base := func(p string) string { return p[strings.LastIndex(p, "/")+1:] }
	pkgs := make([]string, 0, 16)
	for range 8 + g.rng.IntN(16) {
		pkgs = append(pkgs, npmPackages[g.rng.IntN(len(npmPackages))])
	}
	switch g.rng.IntN(3) {
	case 0:
		packages := map[string]any{"": map[string]any{"name": "web", "version": "1.0.0", "license": "MIT"}}
		for _, p := range pkgs {
			v := version()
			packages["node_modules/"+p] = map[string]any{
				"version":   v,
				"resolved":  "https://registry.npmjs.org/" + p + "/-/" + base(p) + "-" + v + ".tgz",
				"integrity": integrity(),
				"license":   "MIT",
			}
		}
		return KindJSON, "json", marshal(map[string]any{"name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": packages}, true)
	case 1:
		var b strings.Builder
		b.WriteString("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n")
		for _, p := range pkgs {
			v := version()
			fmt.Fprintf(&b, "\"%s@^%s\":\n  version \"%s\"\n  resolved \"https://registry.yarnpkg.com/%s/-/%s-%s.tgz#%s\"\n  integrity %s\n\n", p, v, v, p, base(p), v, g.pick(LowerHex, 40), integrity())
		}
		return KindText, "lock", []byte(b.String())
	default:
		var b strings.Builder
		// Not golang.org/x/oauth2, github.com/nats-io/nkeys or
		// google.golang.org/api: a module path ending in a keyword of
		// gitleaks' generic-api-key rule ("auth", "key", "api") makes the
		// rule take the h1: hash for a secret. gitleaks skips go.sum by its
		// path; a body has none (corpus_test.go's TestKnownGaps).
		mods := []string{"golang.org/x/crypto", "golang.org/x/net", "github.com/golang-jwt/jwt/v5", "github.com/google/go-github/v62", "github.com/nats-io/nats.go", "golang.org/x/sync", "github.com/klauspost/compress", "google.golang.org/protobuf", "github.com/stretchr/testify", "gopkg.in/yaml.v3"}
		for range 6 + g.rng.IntN(10) {
			m := mods[g.rng.IntN(len(mods))]
			v := "v" + version()
			sum := func() string {
				b := make([]byte, 32)
				for i := range b {
					b[i] = byte(g.rng.IntN(256))
				}
				return base64.StdEncoding.EncodeToString(b)
			}
			fmt.Fprintf(&b, "%s %s h1:%s\n%s %s/go.mod h1:%s\n", m, v, sum(), m, v, sum())
		}
		return KindText, "sum", []byte(b.String())
	}
}
