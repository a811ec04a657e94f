package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/event"
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
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	tmp := t.TempDir()
	local := newGitClient(t, gitPath, filepath.Join(tmp, "home"))
	root := filepath.Join(tmp, "srv")
	bare := filepath.Join(root, "acme", "api.git")

	// The upstream repository, seeded directly, not through the gateway.
	local.run(t, tmp, "init", "--bare", "--initial-branch=main", bare)
	local.run(t, bare, "config", "http.receivepack", "true")
	seed := filepath.Join(tmp, "seed")
	local.run(t, tmp, "init", "--initial-branch=main", seed)
	writeFile(t, filepath.Join(seed, "README"), "seed\n")
	local.run(t, seed, "add", "README")
	local.run(t, seed, "commit", "-m", "seed")
	local.run(t, seed, "push", bare, "main")

	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     gitConnection,
		policy:          gitPolicy,
		handle:          gitHTTPBackend(t, gitPath, root, filepath.Join(tmp, "home")),
	})
	agent := local.withHeader("Authorization: Bearer " + ts.token(t, "agents"))
	remote := ts.IngressURL + "/git/acme/api.git"
	work := filepath.Join(tmp, "work")

	// Clone: every request is an upload-pack request, a fetch.
	mark := event.NewID()
	agent.run(t, tmp, "clone", remote, work)
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
	local.run(t, tmp, "clone", withPassword, filepath.Join(tmp, "work-basic"))

	// A new branch.
	writeFile(t, filepath.Join(work, "feature.txt"), "feature\n")
	agent.run(t, work, "add", "feature.txt")
	agent.run(t, work, "commit", "-m", "feature")
	mark = event.NewID()
	agent.run(t, work, "push", "origin", "HEAD:refs/heads/feature")
	create := ts.events.exchanges(t, mark, event.NewID())
	checkPush(t, "create", create, event.EffectAllow, "agents-push", "refs/heads/feature", "create refs/heads/feature")
	if got, want := local.run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/feature"),
		agent.run(t, work, "rev-parse", "HEAD"); got != want {
		t.Errorf("upstream feature = %s, want %s", got, want)
	}

	// An update of main.
	writeFile(t, filepath.Join(work, "README"), "seed\nand more\n")
	agent.run(t, work, "commit", "-am", "more")
	mark = event.NewID()
	agent.run(t, work, "push", "origin", "main")
	update := ts.events.exchanges(t, mark, event.NewID())
	checkPush(t, "update", update, event.EffectAllow, "agents-push", "refs/heads/main", "update refs/heads/main")
	if got, want := local.run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/main"),
		agent.run(t, work, "rev-parse", "main"); got != want {
		t.Errorf("upstream main = %s, want %s", got, want)
	}

	// A deletion: the advertisement is allowed, the push itself refused
	// and never forwarded.
	feature := local.run(t, tmp, "--git-dir", bare, "rev-parse", "refs/heads/feature")
	mark = event.NewID()
	out, err := agent.try(work, "push", "origin", "--delete", "feature")
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
	if got, err := local.try(tmp, "--git-dir", bare, "rev-parse", "--verify", "refs/heads/feature"); err != nil || got != feature {
		t.Errorf("upstream feature after the refused delete = %q, %v; want %s", got, err, feature)
	}
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

// gitHTTPBackend serves the bare repositories under root with git
// http-backend, as a CGI process.
func gitHTTPBackend(t *testing.T, git, root, home string) http.HandlerFunc {
	backend := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + home,
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: logWriter{t},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		// net/http/cgi refuses a chunked body, which the ingress forwards
		// when git sent one: pass the body on buffered, with a length.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		backend.ServeHTTP(w, r)
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", bytes.TrimSpace(p))
	return len(p), nil
}

// gitClient runs git with a hermetic environment: no system or user
// configuration, no prompts, a fixed identity.
type gitClient struct {
	git string
	env []string
}

func newGitClient(t *testing.T, git, home string) gitClient {
	t.Helper()
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return gitClient{git: git, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Airlock Test",
		"GIT_AUTHOR_EMAIL=test@airlock.invalid",
		"GIT_COMMITTER_NAME=Airlock Test",
		"GIT_COMMITTER_EMAIL=test@airlock.invalid",
	}}
}

// withHeader returns a client that sends header on every HTTP request.
// It goes in the environment, not the command line, so that a failing
// command's message does not show the token.
func (g gitClient) withHeader(header string) gitClient {
	g.env = append(slices.Clip(g.env), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0="+header)
	return g
}

// try runs git in dir and returns its trimmed output.
func (g gitClient) try(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.git, args...)
	cmd.Dir = dir
	cmd.Env = g.env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (g gitClient) run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := g.try(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
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
