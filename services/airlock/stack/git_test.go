package stack

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/gittest"
)

// gitConnection routes /git/ to the test upstream, which serves git
// http-backend in TestGitThroughTheGateway.
const gitConnection = `  - name: git
    type: git
    upstream: ${TEST_UPSTREAM}
    credential: {env: TEST_SERVICE_CREDENTIAL}
`

const gitPolicy = `rules:
  - name: agents-fetch
    effect: allow
    when: '"agents" in identity.groups && git.service == "git-upload-pack"'
    reason: agents may fetch and clone
  - name: agents-push
    effect: allow
    when: >-
      "agents" in identity.groups && operation.write && git.service == "git-receive-pack"
      && !git.updates.exists(u, u.kind == "delete")
    reason: agents may push new commits
  - name: no-ref-deletes
    effect: deny
    when: git.updates.exists(u, u.kind == "delete")
    reason: agents never delete refs
`

// TestGitThroughTheGateway drives real git through the gateway to git
// http-backend: a clone, a push creating a branch, a push updating main,
// and a branch deletion that policy refuses. The upstream checks that
// every request carries the service credential and never the agent's
// token; the bus events must say what each push did.
func TestGitThroughTheGateway(t *testing.T) {
	tmp, local, root, bare := seedRepo(t)

	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     gitConnection,
		policy:          gitPolicy,
		handle:          local.Backend(t, root, nil),
	})
	agent := local.WithHeader("Authorization: Bearer " + ts.token(t, "agents"))
	remote := ts.IngressURL + "/git/acme/api.git"
	work := filepath.Join(tmp, "work")

	// Clone: every request is an upload-pack request, a fetch.
	mark := event.NewID()
	agent.Run(t, tmp, "clone", remote, work)
	clone := ts.events.exchanges(t, mark, event.NewID())
	if !slices.ContainsFunc(clone, isRPC) || !slices.ContainsFunc(clone, func(x exchange) bool { return !isRPC(x) }) {
		t.Errorf("clone: want both the advertisement and the rpc, got %s", describe(clone))
	}
	for _, x := range clone {
		if op := x.verdict.Operation; op == nil || op.Action != "git.fetch" || op.Write || op.Repo != "acme/api" ||
			x.verdict.Effect != event.EffectAllow || x.verdict.Rule != "agents-fetch" {
			t.Errorf("clone: %s %s?%s: verdict %s", x.request.Method, x.request.Path, x.request.Query, describeVerdict(x.verdict))
		}
	}

	// The token as the password in the URL, as git users write it: git
	// sends it only after a Basic challenge, which the 401 must offer.
	withPassword := strings.Replace(remote, "http://", "http://x-access-token:"+ts.token(t, "agents")+"@", 1)
	local.Run(t, tmp, "clone", withPassword, filepath.Join(tmp, "work-basic"))

	// A new branch.
	writeFile(t, filepath.Join(work, "feature.txt"), "feature\n")
	agent.Run(t, work, "add", "feature.txt")
	agent.Run(t, work, "commit", "-m", "feature")
	mark = event.NewID()
	agent.Run(t, work, "push", "origin", "HEAD:refs/heads/feature")
	create := ts.events.exchanges(t, mark, event.NewID())
	checkPush(t, "create", create, event.EffectAllow, "agents-push", "refs/heads/feature", "create refs/heads/feature")
	if got, want := local.Run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/feature"),
		agent.Run(t, work, "rev-parse", "HEAD"); got != want {
		t.Errorf("upstream feature = %s, want %s", got, want)
	}

	// An update of main.
	writeFile(t, filepath.Join(work, "README"), "seed\nand more\n")
	agent.Run(t, work, "commit", "-am", "more")
	mark = event.NewID()
	agent.Run(t, work, "push", "origin", "main")
	update := ts.events.exchanges(t, mark, event.NewID())
	checkPush(t, "update", update, event.EffectAllow, "agents-push", "refs/heads/main", "update refs/heads/main")
	if got, want := local.Run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/main"),
		agent.Run(t, work, "rev-parse", "main"); got != want {
		t.Errorf("upstream main = %s, want %s", got, want)
	}

	// A deletion: the advertisement is allowed, the push itself refused
	// and never forwarded.
	feature := local.Run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/feature")
	mark = event.NewID()
	out, err := agent.Try(work, "push", "origin", "--delete", "feature")
	if err == nil {
		t.Fatalf("git push --delete feature succeeded, want it refused:\n%s", out)
	}
	if !strings.Contains(out, "403") {
		t.Errorf("git push --delete: output does not mention the 403:\n%s", out)
	}
	del := ts.events.exchanges(t, mark, event.NewID())
	rpc := checkPush(t, "delete", del, event.EffectDeny, "no-ref-deletes", "refs/heads/feature", "delete refs/heads/feature")
	if rpc != nil {
		if a := rpc.audit; a.Decision != event.EffectDeny || a.Rule != "no-ref-deletes" || a.Status != http.StatusForbidden ||
			a.Action != "git.push" || !strings.Contains(a.Summary, "delete refs/heads/feature") {
			t.Errorf("delete: audit %+v", a)
		}
		if rpc.response.Forwarded {
			t.Error("delete: the refused push was forwarded")
		}
	}
	if got, err := local.Try(tmp, "--git-dir", bare, "rev-parse", "--verify", "refs/heads/feature"); err != nil || got != feature {
		t.Errorf("upstream feature after the refused delete = %q, %v; want %s", got, err, feature)
	}
}

// seedRepo makes the upstream repository acme/api.git under root, with
// one commit on main, seeded directly, not through the gateway; local is
// a hermetic git client.
func seedRepo(t *testing.T) (tmp string, local gittest.Git, root, bare string) {
	t.Helper()
	tmp = t.TempDir()
	local = gittest.New(t, filepath.Join(tmp, "home"))
	root = filepath.Join(tmp, "srv")
	bare = filepath.Join(root, "acme", "api.git")
	local.Run(t, tmp, "init", "--bare", "--initial-branch=main", bare)
	local.Run(t, bare, "config", "http.receivepack", "true")
	seed := filepath.Join(tmp, "seed")
	local.Run(t, tmp, "init", "--initial-branch=main", seed)
	writeFile(t, filepath.Join(seed, "README"), "seed\n")
	local.Run(t, seed, "add", "README")
	local.Run(t, seed, "commit", "-m", "seed")
	local.Run(t, seed, "push", bare, "main")
	return tmp, local, root, bare
}

// checkPush checks a push's exchanges: advertisements allowed by
// agents-push and one rpc touching ref, decided effect by rule, whose
// summary contains summary. It returns the rpc, nil when there is none.
func checkPush(t *testing.T, step string, xs []exchange, effect, rule, ref, summary string) *exchange {
	t.Helper()
	var rpcs []exchange
	for _, x := range xs {
		op := x.verdict.Operation
		if op == nil || op.Action != "git.push" || !op.Write || op.Repo != "acme/api" {
			t.Errorf("%s: %s %s?%s: verdict %s, want a git.push on acme/api", step, x.request.Method, x.request.Path, x.request.Query,
				describeVerdict(x.verdict))
			continue
		}
		if isRPC(x) {
			rpcs = append(rpcs, x)
			continue
		}
		if x.request.Query != "service=git-receive-pack" || len(op.Refs) != 0 || x.verdict.Effect != event.EffectAllow ||
			x.verdict.Rule != "agents-push" {
			t.Errorf("%s: advertisement %s?%s: verdict %s", step, x.request.Path, x.request.Query, describeVerdict(x.verdict))
		}
	}
	if len(rpcs) != 1 {
		t.Errorf("%s: want one git-receive-pack rpc, got %s", step, describe(xs))
		return nil
	}
	x := rpcs[0]
	v := x.verdict
	if !slices.Equal(v.Operation.Refs, []string{ref}) || !strings.Contains(v.Operation.Summary, summary) ||
		v.Effect != effect || v.Rule != rule {
		t.Errorf("%s: verdict %s, want %s by %s with refs [%s] and a summary containing %q", step, describeVerdict(v), effect, rule, ref, summary)
	}
	return &x
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exchange is one request through the gateway, as its events tell it.
type exchange struct {
	request  event.Request
	verdict  event.Verdict
	response event.Response
	audit    event.Audit
}

func isRPC(x exchange) bool { return x.request.Method == http.MethodPost }

// exchanges returns the requests whose ids sort between from and to,
// which the test takes with event.NewID around a step: request ids are
// ULIDs from the same monotonic source. It waits until each has all four
// events and the last is an rpc (a POST): a step's requests are published
// in order, and every git exchange ends with one.
func (el *eventLog) exchanges(t *testing.T, from, to string) []exchange {
	t.Helper()
	kinds := []string{"request", "verdict", "response", "audit"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var xs []exchange
		var missing []string
		el.mu.Lock()
		var ids []string
		for id := range el.byID {
			if id > from && id < to {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			var x exchange
			for i, dst := range []any{&x.request, &x.verdict, &x.response, &x.audit} {
				data := el.byID[id][kinds[i]]
				if data == nil {
					missing = append(missing, id+" "+kinds[i])
					continue
				}
				if err := json.Unmarshal(data, dst); err != nil {
					el.mu.Unlock()
					t.Fatalf("decoding %s event of %s: %v", kinds[i], id, err)
				}
			}
			xs = append(xs, x)
		}
		el.mu.Unlock()
		if len(missing) == 0 && len(xs) > 0 && isRPC(xs[len(xs)-1]) {
			return xs
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests between %s and %s: want each with its four events, the last an rpc; missing %q in%s",
				from, to, missing, describe(xs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describe(xs []exchange) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString("\n\t" + x.request.Method + " " + x.request.Path + "?" + x.request.Query + ": " + describeVerdict(x.verdict))
	}
	return b.String()
}

func describeVerdict(v event.Verdict) string {
	s := v.Effect + " by " + v.Rule
	if v.Rule == "" {
		s = v.Effect + " (" + v.Reason + ")"
	}
	if v.Operation != nil {
		s += ", " + v.Operation.Summary + " refs " + strings.Join(v.Operation.Refs, ",")
	}
	return s
}
