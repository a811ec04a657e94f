//go:build stack

// The separate-process stack test: `make stack` (scripts/stack-test.sh)
// builds the binaries and runs it. It is behind the stack build tag so that
// `make test` does not build and start a dozen processes twice.

package stack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/services/ingress"
	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// composeConfig is the compose stack's configuration, used as it is: what
// differs between the containers and these processes (addresses) comes
// from the environment, as in the compose file.
const composeConfig = "../../../deploy/compose/airlock.yaml"

// stackSecret is served by the upstream; the agent must only see it masked.
const stackSecret = "ghp_" + "Zq8mT2vR6xW1yK4nB7cD9fH3jL5pS0aE2gU8"

// TestSeparateProcessStack runs the stack as production does, one OS
// process per service: a nats-server built from source with
// deploy/nats/nats.conf (one user per service), MinIO, `airlock
// provision`, two policy replicas, the masker, the approver (asking in
// slacktest), the recorder (writing to MinIO) and the ingress, each with
// deploy/compose/airlock.yaml. curl and git drive it as an agent would.
func TestSeparateProcessStack(t *testing.T) {
	bin := os.Getenv("AIRLOCK_STACK_BIN")
	if bin == "" {
		t.Fatal("AIRLOCK_STACK_BIN is not set: run `make stack`, which builds the binaries first")
	}
	natsServer, err := findTool("nats-server")
	if err != nil {
		t.Fatalf("nats-server: %v (scripts/ci-deps.sh builds it)", err)
	}
	for _, tool := range []string{"curl", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	// Ports for processes to listen on: distinct, though each is free only
	// until someone takes it.
	taken := map[string]bool{}
	freePort := func(t *testing.T) string {
		for {
			if p := freePort(t); !taken[p] {
				taken[p] = true
				return p
			}
		}
	}
	env := map[string]string{
		"AIRLOCK_MASK_SALT":            "stack-test-salt-5b1c9e",
		"AIRLOCK_SLACK_BOT_TOKEN":      "xoxb-test",
		"AIRLOCK_SLACK_SIGNING_SECRET": slackSecret,
		"AIRLOCK_SLACK_CHANNEL":        "C0APPROVALS",
		"AIRLOCK_APPROVERS":            slackApprover,
		"AIRLOCK_RETENTION_DAYS":       "7",
		"GITHUB_TOKEN":                 serviceCredential,
	}
	for _, u := range []string{"admin", "ingress", "policy", "masker", "approver", "recorder", "cli"} {
		env["AIRLOCK_NATS_"+strings.ToUpper(u)+"_PASSWORD"] = "pw-" + u + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}

	// The bus: nats-server as its own process, configured by nats.conf.
	natsAddr, natsMon := freePort(t), freePort(t)
	_, natsPort, _ := net.SplitHostPort(natsAddr)
	_, monPort, _ := net.SplitHostPort(natsMon)
	env["AIRLOCK_NATS_STORE_DIR"] = filepath.Join(dir, "jetstream")
	start(t, "nats-server", natsServer, env, "-c", "../../../deploy/nats/nats.conf", "-a", "127.0.0.1", "-p", natsPort, "-m", monPort)
	awaitHTTP(t, "nats-server", "http://"+natsMon+"/healthz?js-enabled-only=true")
	env["AIRLOCK_NATS_URL"] = "nats://" + natsAddr

	// The recordings store.
	s3 := storetest.StartMinIOServer(t).Config
	env["AIRLOCK_S3_ENDPOINT"], env["AIRLOCK_S3_ACCESS_KEY"], env["AIRLOCK_S3_SECRET_KEY"] = s3.Endpoint, s3.AccessKey, s3.SecretKey

	// The identity provider, served over HTTP.
	iss, issuerURL := serveIssuer(t, filepath.Join(dir, "issuer"))
	env["AIRLOCK_OIDC_ISSUER"] = issuerURL

	// Slack, and the upstream: GitHub's API and git over HTTP.
	slack := newFakeSlack(t)
	env["AIRLOCK_SLACK_API_URL"] = slack.srv.GetAPIURL()
	up := newStackUpstream(t)
	env["AIRLOCK_GITHUB_API"], env["AIRLOCK_GIT_UPSTREAM"] = up.url, up.url

	// Provisioning, as the compose stack's one-shot job does.
	cfg, err := filepath.Abs(composeConfig)
	if err != nil {
		t.Fatal(err)
	}
	airlock := filepath.Join(bin, "airlock")
	if out, err := runAs(env, "admin", airlock, "provision", "--config", cfg); err != nil {
		t.Fatalf("airlock provision: %v\n%s", err, out)
	}

	// The services, each its own process and NATS user.
	type service struct{ name, user, admin string }
	services := []service{
		{"policy-1", "policy", freePort(t)}, {"policy-2", "policy", freePort(t)},
		{"masker", "masker", freePort(t)}, {"approver", "approver", freePort(t)},
		{"recorder", "recorder", freePort(t)}, {"ingress", "ingress", freePort(t)},
	}
	interactions, ingressAddr := freePort(t), freePort(t)
	env["AIRLOCK_SLACK_LISTEN"], env["AIRLOCK_INGRESS_LISTEN"] = interactions, ingressAddr
	procs := map[string]*process{}
	for _, s := range services {
		e := withUser(env, s.user)
		e["AIRLOCK_ADMIN_LISTEN"] = s.admin
		procs[s.name] = start(t, s.name, filepath.Join(bin, s.user), e, "-config", cfg)
	}
	for _, s := range services {
		awaitHTTP(t, s.name, "http://"+s.admin+"/readyz")
	}
	gateway := "http://" + ingressAddr
	admin := func(name string) string {
		for _, s := range services {
			if s.name == name {
				return s.admin
			}
		}
		panic(name)
	}

	// The audit stream, as an operator watches it.
	// From the stream's start: started with only new events, the tail
	// missed a request sent before its consumer existed on the server.
	tail := start(t, "audit tail", airlock, withUser(env, "cli"), "audit", "tail", "--since", "1h", "--nats", env["AIRLOCK_NATS_URL"])

	agent, err := iss.Sign(devissuer.Claims{Subject: "copilot", Email: "copilot@acme.test", Groups: []string{"agents"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	t.Run("allow", func(t *testing.T) {
		for i := range 40 {
			r := curl(t, gateway+"/github/repos/acme/api/issues/"+strconv.Itoa(i), agent)
			if r.status != http.StatusOK || !strings.Contains(r.body, `"full_name":"acme/api"`) {
				t.Fatalf("GET issue %d: %d %s", i, r.status, r.body)
			}
			ids = append(ids, r.id)
		}
	})
	t.Run("deny", func(t *testing.T) {
		calls := up.calls.Load()
		r := curl(t, gateway+"/github/repos/acme/api", agent, "-X", "DELETE")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "deny-repo-delete") {
			t.Fatalf("DELETE repo: %d %s", r.status, r.body)
		}
		if up.calls.Load() != calls {
			t.Fatal("the refused DELETE reached the upstream")
		}
		ids = append(ids, r.id)
	})
	t.Run("masked response", func(t *testing.T) {
		r := curl(t, gateway+"/github/repos/acme/api/contents/leaky.json", agent)
		if r.status != http.StatusOK || strings.Contains(r.body, stackSecret) || !strings.Contains(r.body, `"token":"`) {
			t.Fatalf("GET leaky.json: %d %s", r.status, r.body)
		}
		ids = append(ids, r.id)
	})
	t.Run("git", func(t *testing.T) {
		tmp, local, root, bare := seedRepo(t)
		var backend http.Handler = local.Backend(t, root, nil)
		up.git.Store(&backend)
		git := local.WithHeader("Authorization: Bearer " + agent)
		work := filepath.Join(tmp, "work")
		git.Run(t, tmp, "clone", gateway+"/git/acme/api.git", work)
		before := local.Run(t, tmp, "--git-dir", bare, "rev-parse", "main")
		writeFile(t, filepath.Join(work, "README"), "seed\nby the agent\n")
		git.Run(t, work, "commit", "-am", "agent change")
		// acme/api is not a production repository: the default pack
		// leaves writes there denied.
		if out, err := git.Try(work, "push", "origin", "main"); err == nil || !strings.Contains(out, "403") {
			t.Fatalf("git push to acme/api: err %v, want a 403:\n%s", err, out)
		}
		if after := local.Run(t, tmp, "--git-dir", bare, "rev-parse", "main"); after != before {
			t.Fatalf("upstream main moved to %s", after)
		}
	})
	t.Run("approval in Slack", func(t *testing.T) {
		calls := up.calls.Load()
		held := make(chan curlResult, 1)
		go func() {
			held <- curl(t, gateway+"/github/repos/acme/payments/contents/notes.txt", agent,
				"-X", "PUT", "-H", "Content-Type: application/json", "--data", `{"message":"notes","content":"bm90ZXM="}`)
		}()
		id := awaitApproval(t, airlock, withUser(env, "cli"))
		if up.calls.Load() != calls {
			t.Fatal("the held request reached the upstream before a decision")
		}
		if n := metricSum(t, "http://"+admin("ingress")+"/metrics", "airlock_ingress_requests_held"); n != 1 {
			t.Errorf("airlock_ingress_requests_held = %v while one request is held", n)
		}
		if got := deliver(t, "http://"+interactions+"/slack/interactions", click(slackApprover, id, "airlock_approve_once", 0, "1700000011.000001"),
			slackSecret, time.Time{}); got != http.StatusOK {
			t.Fatalf("signed click: %d", got)
		}
		select {
		case r := <-held:
			if r.status != http.StatusOK {
				t.Fatalf("released PUT: %d %s", r.status, r.body)
			}
			ids = append(ids, r.id)
		case <-time.After(20 * time.Second):
			t.Fatal("the approved request was not released in 20 s")
		}
		if up.calls.Load() != calls+1 {
			t.Fatalf("upstream calls %d, want %d", up.calls.Load(), calls+1)
		}
	})

	t.Run("policy replicas share the work", func(t *testing.T) {
		for _, name := range []string{"policy-1", "policy-2"} {
			if n := metricSum(t, "http://"+admin(name)+"/metrics", "airlock_policy_verdicts_total"); n < 3 {
				t.Errorf("%s gave %v verdicts of ~45: the replicas do not share the work", name, n)
			} else {
				t.Logf("%s: %v verdicts", name, n)
			}
		}
	})
	t.Run("one policy replica gone", func(t *testing.T) {
		procs["policy-1"].stop(t)
		for i := range 10 {
			r := curl(t, gateway+"/github/repos/acme/api/pulls/"+strconv.Itoa(i), agent)
			if r.status != http.StatusOK {
				t.Fatalf("GET pull %d with one policy replica: %d %s", i, r.status, r.body)
			}
			ids = append(ids, r.id)
		}
	})
	t.Run("audit tail", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			missing := tail.missing(ids)
			if len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("airlock audit tail printed no event for %d of %d requests, e.g. %s", len(missing), len(ids), missing[0])
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("recordings in MinIO", func(t *testing.T) {
		mc, err := minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, "")})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var found int
		deadline := time.Now().Add(20 * time.Second)
		for found < len(want) && time.Now().Before(deadline) {
			found = 0
			for obj := range mc.ListObjects(context.Background(), "airlock-recordings", minio.ListObjectsOptions{Prefix: "sessions/", Recursive: true}) {
				if obj.Err != nil {
					t.Fatal(obj.Err)
				}
				if want[strings.TrimSuffix(filepath.Base(obj.Key), ".json.gz")] {
					found++
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if found != len(want) {
			t.Fatalf("%d of %d requests recorded in MinIO", found, len(want))
		}
		recorder := "http://" + admin("recorder") + "/metrics"
		if n := metricSum(t, recorder, "airlock_recorder_records_total"); n < float64(len(want)) {
			t.Errorf("airlock_recorder_records_total = %v, want at least %d", n, len(want))
		}
		deadline = time.Now().Add(5 * time.Second)
		for metricSum(t, recorder, "airlock_recorder_lag_events") != 0 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		if n := metricSum(t, recorder, "airlock_recorder_lag_events"); n != 0 {
			t.Errorf("airlock_recorder_lag_events = %v with every request recorded", n)
		}
		out, err := runAs(env, "cli", airlock, "sessions", "ls", "--config", cfg, "--nats", env["AIRLOCK_NATS_URL"], "--connection", "github")
		if err != nil {
			t.Fatalf("airlock sessions ls: %v\n%s", err, out)
		}
		session := sessionOf(t, out)
		replay, err := runAs(env, "cli", airlock, "replay", session, "--config", cfg, "--nats", env["AIRLOCK_NATS_URL"], "--format", "json")
		if err != nil {
			t.Fatalf("airlock replay: %v\n%s", err, replay)
		}
		if strings.Contains(replay, stackSecret) || strings.Contains(replay, serviceCredential) || strings.Contains(replay, agent) {
			t.Fatal("a recording holds the secret, the service credential or the agent's token")
		}
		for _, want := range []string{"deny-repo-delete", "production-writes-need-approval", "/contents/leaky.json"} {
			if !strings.Contains(replay, want) {
				t.Errorf("airlock replay %s does not show %q", session, want)
			}
		}
	})

	// Graceful shutdown: each service exits 0 on SIGTERM.
	for _, s := range services {
		if s.name != "policy-1" {
			procs[s.name].stop(t)
		}
	}
}

// stackUpstream is GitHub for the stack test: JSON for the REST API, git
// http-backend for /acme/*.git once the git subtest has seeded a
// repository. It checks every request carries the service credential and
// nothing of the agent's.
type stackUpstream struct {
	url   string
	calls atomic.Int64
	git   atomic.Pointer[http.Handler]
}

func newStackUpstream(t *testing.T) *stackUpstream {
	u := &stackUpstream{}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+serviceCredential))
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		for k, v := range r.Header {
			if strings.Contains(strings.Join(v, " "), "eyJ") {
				t.Errorf("upstream got the agent's token in header %s", k)
			}
		}
		if strings.Contains(r.URL.Path, ".git/") {
			if got := r.Header.Get("Authorization"); got != basic {
				t.Errorf("git upstream got Authorization %q, want the service credential as Basic", got)
			}
			if git := u.git.Load(); git != nil {
				(*git).ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+serviceCredential {
			t.Errorf("upstream got Authorization %q, want the injected service credential", got)
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/leaky.json") {
			fmt.Fprintf(w, `{"name":"leaky.json","token":%q}`, stackSecret)
			return
		}
		fmt.Fprintf(w, `{"full_name":"acme/api","path":%q}`, r.URL.EscapedPath())
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	u.url = "http://" + ln.Addr().String()
	return u
}

// process is a service running as its own OS process.
type process struct {
	name   string
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	exited chan error
}

// start runs bin with args and env (on top of this process's own) until
// the test ends.
func start(t *testing.T, name, bin string, env map[string]string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), logs: &logtest.Buffer{}, exited: make(chan error, 1)}
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.logs)
		}
	})
	return p
}

// stop sends SIGTERM and expects the process to exit 0 within 15 s.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("%s: %v", p.name, err)
		return
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s still running 15 s after SIGTERM", p.name)
	}
}

// missing are the request ids the process has not printed yet.
func (p *process) missing(ids []string) []string {
	out := p.logs.String()
	var m []string
	for _, id := range ids {
		if !strings.Contains(out, `"id":"`+id+`"`) {
			m = append(m, id)
		}
	}
	return m
}

func withUser(env map[string]string, user string) map[string]string {
	e := make(map[string]string, len(env)+2)
	for k, v := range env {
		e[k] = v
	}
	e["AIRLOCK_NATS_USER"], e["AIRLOCK_NATS_PASSWORD"] = user, env["AIRLOCK_NATS_"+strings.ToUpper(user)+"_PASSWORD"]
	return e
}

// runAs runs the airlock CLI as a NATS user and returns its output.
func runAs(env map[string]string, user, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	for k, v := range withUser(env, user) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// awaitHTTP waits up to 30 s for url to answer 200.
func awaitHTTP(t *testing.T, name, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s in 30 s (last: %v)", name, url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type curlResult struct {
	status   int
	id, body string
}

// curl runs curl against the gateway as the agent: it is the client, not a
// Go http.Client.
func curl(t *testing.T, url, token string, args ...string) curlResult {
	dir, err := os.MkdirTemp("", "curl")
	if err != nil {
		t.Error(err)
		return curlResult{}
	}
	defer os.RemoveAll(dir)
	headers, body := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	args = append([]string{"-sS", "--max-time", "60", "-o", body, "-D", headers, "-w", "%{http_code}",
		"-H", "Authorization: Bearer " + token}, append(args, url)...)
	out, err := exec.Command("curl", args...).CombinedOutput()
	if err != nil {
		t.Errorf("curl %s: %v\n%s", url, err, out)
		return curlResult{}
	}
	r := curlResult{}
	r.status, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	b, _ := os.ReadFile(body)
	r.body = string(b)
	h, _ := os.ReadFile(headers)
	for _, line := range strings.Split(string(h), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, ingress.RequestIDHeader) {
			r.id = strings.TrimSpace(v)
		}
	}
	if !event.ValidID(r.id) {
		t.Errorf("curl %s: no request id in the answer (%d %s)", url, r.status, r.body)
	}
	return r
}

// awaitApproval waits for one pending approval in `airlock approvals ls`
// and returns its id.
func awaitApproval(t *testing.T, airlock string, env map[string]string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := runAs(env, "cli", airlock, "approvals", "ls", "--nats", env["AIRLOCK_NATS_URL"])
		if err != nil {
			t.Fatalf("airlock approvals ls: %v\n%s", err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[1] == "pending" && strings.Contains(line, "acme/payments") {
				return f[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending approval in 15 s:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var sessionLine = regexp.MustCompile(`(?m)^(\S+)\s+github\s+copilot\s+(\d+)`)

// sessionOf is the agent's session in `airlock sessions ls` output.
func sessionOf(t *testing.T, out string) string {
	t.Helper()
	m := sessionLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no session of copilot on github in:\n%s", out)
	}
	return m[1]
}

// findTool finds a binary on PATH or in $(go env GOPATH)/bin.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", errors.New("not on PATH nor in GOPATH/bin")
	}
	return p, nil
}
