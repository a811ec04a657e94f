package corpus

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// GitHubJSON generates a JSON array, about size bytes long, of objects shaped
// like GitHub REST API responses: repositories (every *_url field), commits
// (shas, a PGP signature, a signed payload), issues (markdown bodies) and
// users, with node ids in both the legacy and the current format. The
// output is the same for the same seed. secrets, if any, are placed as
// string values of plausible fields spread evenly through the document.
func GitHubJSON(size int, seed uint64, secrets []string) []byte {
	g := newGHGen(seed)
	var items []any
	n := 0
	next := 0
	for n < size {
		var item map[string]any
		switch len(items) % 4 {
		case 0:
			item = g.repo()
		case 1:
			item = g.commit()
		case 2:
			item = g.issue()
		default:
			item = g.user()
		}
		b, err := json.Marshal(item)
		if err != nil {
			panic(err)
		}
		n += len(b) + 1
		if next < len(secrets) && n >= size*(next+1)/(len(secrets)+1) {
			item["config"] = map[string]any{"name": "deploy", "value": secrets[next]}
			next++
		}
		items = append(items, item)
	}
	for ; next < len(secrets); next++ {
		items = append(items, map[string]any{"config": map[string]any{"value": secrets[next]}})
	}
	b, err := json.Marshal(items)
	if err != nil {
		panic(err)
	}
	return b
}

// ghGen makes the parts of GitHub API responses.
type ghGen struct {
	rng *rand.Rand
	id  int
}

func newGHGen(seed uint64) *ghGen {
	return &ghGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var words = strings.Fields(`the a to of and in for is on that with this be it as by
are from at or fix add update remove refactor test docs support handle error
when should not build release version config client server request response
cache timeout retry user repo branch merge pull issue comment review label
milestone workflow action deploy staging production api key token auth
password secret rotate credentials permission access scope owner team
organization webhook event payload field value null true false default`)

func (g *ghGen) pick(s string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = s[g.rng.IntN(len(s))]
	}
	return string(b)
}

func (g *ghGen) sha() string { return g.pick(LowerHex, 40) }

func (g *ghGen) login() string {
	return g.pick("abcdefghijklmnopqrstuvwxyz", 3+g.rng.IntN(6)) + g.pick(LowerAlnum, g.rng.IntN(4))
}

func (g *ghGen) sentence(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[g.rng.IntN(len(words))]
	}
	return strings.Join(w, " ")
}

func (g *ghGen) when() string {
	t := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.rng.IntN(5*365*24*3600)) * time.Second)
	return t.Format(time.RFC3339)
}

// legacyNodeID is the base64 of "0<len>:<Type><id>", as in "MDQ6VXNlcjE=".
func legacyNodeID(typ string, id int) string {
	s := fmt.Sprintf("%s%d", typ, id)
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%03d:%s", len(typ), s))
}

// nodeID is the current format: a type prefix and base64url of packed ids.
func (g *ghGen) nodeID(prefix string) string {
	return prefix + "_kgDO" + g.pick(base64URL, 6+g.rng.IntN(6))
}

func (g *ghGen) nextID() int {
	g.id++
	return 1000000 + g.id*7919%90000000
}

func (g *ghGen) user() map[string]any {
	login := g.login()
	id := g.nextID()
	u := "https://api.github.com/users/" + login
	return map[string]any{
		"login":               login,
		"id":                  id,
		"node_id":             legacyNodeID("User", id),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d?v=4", id),
		"gravatar_id":         "",
		"url":                 u,
		"html_url":            "https://github.com/" + login,
		"followers_url":       u + "/followers",
		"following_url":       u + "/following{/other_user}",
		"gists_url":           u + "/gists{/gist_id}",
		"starred_url":         u + "/starred{/owner}{/repo}",
		"subscriptions_url":   u + "/subscriptions",
		"organizations_url":   u + "/orgs",
		"repos_url":           u + "/repos",
		"events_url":          u + "/events{/privacy}",
		"received_events_url": u + "/received_events",
		"type":                "User",
		"user_view_type":      "public",
		"site_admin":          false,
	}
}

func (g *ghGen) repo() map[string]any {
	owner := g.user()
	name := g.login() + "-" + words[g.rng.IntN(len(words))]
	full := owner["login"].(string) + "/" + name
	id := g.nextID()
	u := "https://api.github.com/repos/" + full
	r := map[string]any{
		"id":                          id,
		"node_id":                     g.nodeID("R"),
		"name":                        name,
		"full_name":                   full,
		"private":                     g.rng.IntN(3) == 0,
		"owner":                       owner,
		"html_url":                    "https://github.com/" + full,
		"description":                 g.sentence(6 + g.rng.IntN(10)),
		"fork":                        false,
		"url":                         u,
		"archive_url":                 u + "/{archive_format}{/ref}",
		"assignees_url":               u + "/assignees{/user}",
		"blobs_url":                   u + "/git/blobs{/sha}",
		"branches_url":                u + "/branches{/branch}",
		"collaborators_url":           u + "/collaborators{/collaborator}",
		"comments_url":                u + "/comments{/number}",
		"commits_url":                 u + "/commits{/sha}",
		"compare_url":                 u + "/compare/{base}...{head}",
		"contents_url":                u + "/contents/{+path}",
		"contributors_url":            u + "/contributors",
		"deployments_url":             u + "/deployments",
		"downloads_url":               u + "/downloads",
		"events_url":                  u + "/events",
		"forks_url":                   u + "/forks",
		"git_commits_url":             u + "/git/commits{/sha}",
		"git_refs_url":                u + "/git/refs{/sha}",
		"git_tags_url":                u + "/git/tags{/sha}",
		"git_url":                     "git://github.com/" + full + ".git",
		"issue_comment_url":           u + "/issues/comments{/number}",
		"issue_events_url":            u + "/issues/events{/number}",
		"issues_url":                  u + "/issues{/number}",
		"keys_url":                    u + "/keys{/key_id}",
		"labels_url":                  u + "/labels{/name}",
		"languages_url":               u + "/languages",
		"merges_url":                  u + "/merges",
		"milestones_url":              u + "/milestones{/number}",
		"notifications_url":           u + "/notifications{?since,all,participating}",
		"pulls_url":                   u + "/pulls{/number}",
		"releases_url":                u + "/releases{/id}",
		"ssh_url":                     "git@github.com:" + full + ".git",
		"stargazers_url":              u + "/stargazers",
		"statuses_url":                u + "/statuses/{sha}",
		"subscribers_url":             u + "/subscribers",
		"subscription_url":            u + "/subscription",
		"tags_url":                    u + "/tags",
		"teams_url":                   u + "/teams",
		"trees_url":                   u + "/git/trees{/sha}",
		"clone_url":                   "https://github.com/" + full + ".git",
		"mirror_url":                  nil,
		"hooks_url":                   u + "/hooks",
		"svn_url":                     "https://github.com/" + full,
		"homepage":                    "https://" + name + ".example.org",
		"language":                    []string{"Go", "TypeScript", "Python", "Rust"}[g.rng.IntN(4)],
		"forks_count":                 g.rng.IntN(500),
		"stargazers_count":            g.rng.IntN(5000),
		"watchers_count":              g.rng.IntN(5000),
		"size":                        g.rng.IntN(100000),
		"default_branch":              "main",
		"open_issues_count":           g.rng.IntN(100),
		"is_template":                 false,
		"topics":                      []string{"api", "security", words[g.rng.IntN(len(words))]},
		"has_issues":                  true,
		"has_projects":                true,
		"has_wiki":                    true,
		"has_pages":                   false,
		"has_downloads":               true,
		"has_discussions":             false,
		"archived":                    false,
		"disabled":                    false,
		"visibility":                  "public",
		"pushed_at":                   g.when(),
		"created_at":                  g.when(),
		"updated_at":                  g.when(),
		"permissions":                 map[string]any{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
		"allow_rebase_merge":          true,
		"allow_squash_merge":          true,
		"allow_auto_merge":            false,
		"delete_branch_on_merge":      true,
		"allow_merge_commit":          true,
		"allow_forking":               true,
		"web_commit_signoff_required": false,
		"subscribers_count":           g.rng.IntN(100),
		"network_count":               g.rng.IntN(100),
		"license": map[string]any{
			"key":      "mit",
			"name":     "MIT License",
			"url":      "https://api.github.com/licenses/mit",
			"spdx_id":  "MIT",
			"node_id":  "MDc6TGljZW5zZW1pdA==",
			"html_url": "https://github.com/" + full + "/blob/main/LICENSE",
		},
		"forks":       g.rng.IntN(500),
		"open_issues": g.rng.IntN(100),
		"watchers":    g.rng.IntN(5000),
		"security_and_analysis": map[string]any{
			"advanced_security":               map[string]any{"status": "enabled"},
			"secret_scanning":                 map[string]any{"status": "enabled"},
			"secret_scanning_push_protection": map[string]any{"status": "disabled"},
		},
	}
	return r
}

func (g *ghGen) commit() map[string]any {
	sha := g.sha()
	full := g.login() + "/" + g.login()
	u := "https://api.github.com/repos/" + full
	author := g.user()
	person := map[string]any{
		"name":  strings.ToUpper(g.login()[:1]) + g.login() + " " + g.login(),
		"email": g.login() + "@users.noreply.github.com",
		"date":  g.when(),
	}
	tree := g.sha()
	parent := g.sha()
	msg := g.sentence(4+g.rng.IntN(8)) + "\n\n" + g.sentence(20+g.rng.IntN(30)) + "\n\nSigned-off-by: " + person["name"].(string) + " <" + person["email"].(string) + ">"
	payload := fmt.Sprintf("tree %s\nparent %s\nauthor %s <%s> 1700000000 +0000\ncommitter GitHub <noreply@github.com> 1700000000 +0000\n\n%s", tree, parent, person["name"], person["email"], msg)
	sig := "-----BEGIN PGP SIGNATURE-----\n\nwsFcBAABCAAQBQJl" + g.pick(Base64, 60)
	for range 6 {
		sig += "\n" + g.pick(Base64, 64)
	}
	sig += "\n=" + g.pick(Base64, 4) + "\n-----END PGP SIGNATURE-----\n"
	return map[string]any{
		"sha":     sha,
		"node_id": legacyNodeID("Commit", g.nextID()),
		"commit": map[string]any{
			"author":        person,
			"committer":     map[string]any{"name": "GitHub", "email": "noreply@github.com", "date": person["date"]},
			"message":       msg,
			"tree":          map[string]any{"sha": tree, "url": u + "/git/trees/" + tree},
			"url":           u + "/git/commits/" + sha,
			"comment_count": 0,
			"verification": map[string]any{
				"verified":    true,
				"reason":      "valid",
				"signature":   sig,
				"payload":     payload,
				"verified_at": person["date"],
			},
		},
		"url":          u + "/commits/" + sha,
		"html_url":     "https://github.com/" + full + "/commit/" + sha,
		"comments_url": u + "/commits/" + sha + "/comments",
		"author":       author,
		"committer":    g.user(),
		"parents":      []any{map[string]any{"sha": parent, "url": u + "/commits/" + parent, "html_url": "https://github.com/" + full + "/commit/" + parent}},
		"stats":        map[string]any{"total": g.rng.IntN(500), "additions": g.rng.IntN(400), "deletions": g.rng.IntN(100)},
	}
}

func (g *ghGen) issue() map[string]any {
	full := g.login() + "/" + g.login()
	num := g.rng.IntN(5000) + 1
	u := fmt.Sprintf("https://api.github.com/repos/%s/issues/%d", full, num)
	body := "## Summary\n\n" + g.sentence(30+g.rng.IntN(40)) + "\n\n```go\nclient := github.NewClient(nil).WithAuthToken(os.Getenv(\"GITHUB_TOKEN\"))\nrepos, _, err := client.Repositories.List(ctx, \"\", nil)\n```\n\n- [ ] " + g.sentence(8) + "\n- [x] " + g.sentence(6) + "\n\nSee https://github.com/" + full + "/pull/" + fmt.Sprint(num+1) + " and commit " + g.sha()[:7] + "."
	return map[string]any{
		"url":                u,
		"repository_url":     "https://api.github.com/repos/" + full,
		"labels_url":         u + "/labels{/name}",
		"comments_url":       u + "/comments",
		"events_url":         u + "/events",
		"html_url":           fmt.Sprintf("https://github.com/%s/issues/%d", full, num),
		"id":                 g.nextID(),
		"node_id":            g.nodeID("I"),
		"number":             num,
		"title":              g.sentence(5 + g.rng.IntN(6)),
		"user":               g.user(),
		"labels":             []any{map[string]any{"id": g.nextID(), "node_id": g.nodeID("LA"), "url": "https://api.github.com/repos/" + full + "/labels/bug", "name": "bug", "color": g.pick(LowerHex, 6), "default": true, "description": "Something isn't working"}},
		"state":              "open",
		"locked":             false,
		"assignee":           nil,
		"assignees":          []any{},
		"milestone":          nil,
		"comments":           g.rng.IntN(30),
		"created_at":         g.when(),
		"updated_at":         g.when(),
		"closed_at":          nil,
		"author_association": []string{"OWNER", "MEMBER", "CONTRIBUTOR", "COLLABORATOR", "FIRST_TIME_CONTRIBUTOR", "NONE"}[g.rng.IntN(6)],
		"active_lock_reason": nil,
		"body":               body,
		"reactions":          map[string]any{"url": u + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
		"timeline_url":       u + "/timeline",
		"state_reason":       nil,
	}
}

// RandomText is about n bytes of words, punctuation and line breaks, with
// the secrets planted at random places, each after a space and before a
// newline.
func RandomText(rng *rand.Rand, n int, secrets []string) []byte {
	var b []byte
	seps := []string{" ", "\n", ": ", " = ", "\t", `"`, ", "}
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, seps[rng.IntN(len(seps))]...)
	}
	for _, s := range secrets {
		at := rng.IntN(len(b))
		b = slices.Concat(b[:at], []byte(" "+s+"\n"), b[at:])
	}
	return b
}

// fullName is an owner/repository name.
func (g *ghGen) fullName() string {
	return g.login() + "/" + g.login() + "-" + words[g.rng.IntN(len(words))]
}

// gist is a gist as GET /gists/{id} returns it, with one file.
func (g *ghGen) gist(filename, language, content string) map[string]any {
	id := g.pick(LowerHex, 32)
	owner := g.user()
	u := "https://api.github.com/gists/" + id
	return map[string]any{
		"url":          u,
		"forks_url":    u + "/forks",
		"commits_url":  u + "/commits",
		"id":           id,
		"node_id":      g.nodeID("G"),
		"git_pull_url": "https://gist.github.com/" + id + ".git",
		"git_push_url": "https://gist.github.com/" + id + ".git",
		"html_url":     "https://gist.github.com/" + owner["login"].(string) + "/" + id,
		"files": map[string]any{filename: map[string]any{
			"filename":  filename,
			"type":      "text/plain",
			"language":  language,
			"raw_url":   "https://gist.githubusercontent.com/" + owner["login"].(string) + "/" + id + "/raw/" + g.sha() + "/" + filename,
			"size":      len(content),
			"truncated": false,
			"content":   content,
		}},
		"public":       false,
		"created_at":   g.when(),
		"updated_at":   g.when(),
		"description":  g.sentence(3 + g.rng.IntN(5)),
		"comments":     0,
		"user":         nil,
		"comments_url": u + "/comments",
		"owner":        owner,
		"truncated":    false,
	}
}

// commitWithPatch is a commit as GET /repos/{owner}/{repo}/commits/{ref}
// returns it, with one changed file and its patch.
func (g *ghGen) commitWithPatch(filename, patch string) map[string]any {
	c := g.commit()
	full := strings.TrimPrefix(c["html_url"].(string), "https://github.com/")
	full = full[:strings.Index(full, "/commit/")]
	sha := c["sha"].(string)
	adds := strings.Count(patch, "\n+")
	c["files"] = []any{map[string]any{
		"sha":          g.sha(),
		"filename":     filename,
		"status":       "modified",
		"additions":    adds,
		"deletions":    0,
		"changes":      adds,
		"blob_url":     "https://github.com/" + full + "/blob/" + sha + "/" + filename,
		"raw_url":      "https://github.com/" + full + "/raw/" + sha + "/" + filename,
		"contents_url": "https://api.github.com/repos/" + full + "/contents/" + filename + "?ref=" + sha,
		"patch":        patch,
	}}
	return c
}

// issueComment is a comment as GET /repos/{owner}/{repo}/issues/comments/{id}
// returns it.
func (g *ghGen) issueComment(body string) map[string]any {
	full := g.fullName()
	id := g.nextID()
	num := 1 + g.rng.IntN(3000)
	return map[string]any{
		"url":                      fmt.Sprintf("https://api.github.com/repos/%s/issues/comments/%d", full, id),
		"html_url":                 fmt.Sprintf("https://github.com/%s/issues/%d#issuecomment-%d", full, num, id),
		"issue_url":                fmt.Sprintf("https://api.github.com/repos/%s/issues/%d", full, num),
		"id":                       id,
		"node_id":                  g.nodeID("IC"),
		"user":                     g.user(),
		"created_at":               g.when(),
		"updated_at":               g.when(),
		"author_association":       "CONTRIBUTOR",
		"body":                     body,
		"reactions":                map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/%s/issues/comments/%d/reactions", full, id), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
		"performed_via_github_app": nil,
	}
}

// deployment is a deployment as GET /repos/{owner}/{repo}/deployments/{id}
// returns it: payload is whatever the caller of the deployments API put
// there, often the configuration the deploy job needs.
func (g *ghGen) deployment(payload map[string]any) map[string]any {
	full := g.fullName()
	id := g.nextID()
	u := fmt.Sprintf("https://api.github.com/repos/%s/deployments/%d", full, id)
	env := []string{"production", "staging", "preview"}[g.rng.IntN(3)]
	return map[string]any{
		"url":                    u,
		"id":                     id,
		"node_id":                g.nodeID("DE"),
		"sha":                    g.sha(),
		"ref":                    "main",
		"task":                   "deploy",
		"payload":                payload,
		"original_environment":   env,
		"environment":            env,
		"description":            "Deploy requested by " + g.login(),
		"creator":                g.user(),
		"created_at":             g.when(),
		"updated_at":             g.when(),
		"statuses_url":           u + "/statuses",
		"repository_url":         "https://api.github.com/repos/" + full,
		"transient_environment":  false,
		"production_environment": env == "production",
	}
}
