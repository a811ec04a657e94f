// Package gittest runs real git in tests: a client with a hermetic
// environment, and git http-backend served over HTTP as a CGI process.
package gittest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Timeout bounds every git command.
const Timeout = 30 * time.Second

// Git runs git with no system or user configuration, no prompts, and fixed
// identities and dates, so that object ids do not change from run to run.
type Git struct {
	// Path is the git binary.
	Path string
	home string
	env  []string
}

// New returns a Git whose HOME is home (created if missing). It skips the
// test when git is not installed.
func New(t testing.TB, home string) Git {
	t.Helper()
	path, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return Git{Path: path, home: home, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Airlock Test",
		"GIT_AUTHOR_EMAIL=test@airlock.invalid",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
		"GIT_COMMITTER_NAME=Airlock Test",
		"GIT_COMMITTER_EMAIL=test@airlock.invalid",
		"GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
	}}
}

// WithHeader returns a Git that sends header on every HTTP request. It goes
// in the environment, not the command line, so that a failing command's
// message does not show a token.
func (g Git) WithHeader(header string) Git {
	g.env = append(slices.Clip(g.env), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0="+header)
	return g
}

// Try runs git in dir and returns its trimmed combined output.
func (g Git) Try(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.Path, args...)
	cmd.Dir = dir
	cmd.Env = g.env
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Run is Try that fails the test when git fails.
func (g Git) Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := g.Try(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Backend serves the bare repositories under root with git http-backend.
// observe, when not nil, sees each request and its body (as sent, still
// compressed if git compressed it) before the backend does.
func (g Git) Backend(t testing.TB, root string, observe func(r *http.Request, body []byte)) http.HandlerFunc {
	backend := &cgi.Handler{
		Path: g.Path,
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + g.home,
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: logWriter{t},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if observe != nil {
			observe(r, body)
		}
		// git sends a large push chunked, which net/http/cgi refuses: pass
		// the buffered body on with a length instead.
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		backend.ServeHTTP(w, r)
	}
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", bytes.TrimSpace(p))
	return len(p), nil
}
