package stack

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/services/masker/corpus"
)

// TestPushProtectionWhateverItsLabel: a push is scanned as one whatever
// its Content-Type says. git labels its pushes
// application/x-git-receive-pack-request, but an agent need not: sent
// unlabelled, the pack was masked as text (its compressed objects hide a
// key from a text scan) and journaled whole; labelled with a parameter,
// it was taken for binary and not scanned at all. Either way no finding
// reached policy, and a rule allowing the push would have let the key
// through. Each spelling of the label is now refused like git's own push.
func TestPushProtectionWhateverItsLabel(t *testing.T) {
	tmp, local, root, bare := seedRepo(t)
	ts := startStackWith(t, stackOptions{
		decisionTimeout: 5 * time.Second,
		connections:     gitConnection,
		policy:          gitPolicy + maskPolicy[len("rules:\n"):],
		handle:          local.Backend(t, root, nil),
	})
	tok := ts.token(t, "agents")
	agent := local.WithHeader("Authorization: Bearer " + tok)
	work := filepath.Join(tmp, "work")
	agent.Run(t, tmp, "clone", ts.IngressURL+"/git/acme/api.git", work)
	before := strings.TrimSpace(local.Run(t, tmp, "--git-dir", bare, "rev-parse", "main"))

	var key corpus.Secret
	for _, s := range corpus.Secrets() {
		if s.Rule == "private-key" {
			key = s
		}
	}
	writeFile(t, filepath.Join(work, "deploy", "prod.pem"), key.Value+"\n")
	agent.Run(t, work, "add", "deploy/prod.pem")
	agent.Run(t, work, "commit", "-m", "add the deploy key")
	after := strings.TrimSpace(agent.Run(t, work, "rev-parse", "HEAD"))

	// The body git would send: the command, a flush, the pack.
	pack := exec.Command(local.Path, "pack-objects", "--stdout", "--revs")
	pack.Dir = work
	pack.Stdin = strings.NewReader(after + "\n^" + before + "\n")
	objects, err := pack.Output()
	if err != nil {
		t.Fatalf("git pack-objects: %v", err)
	}
	command := before + " " + after + " refs/heads/main\x00 report-status\n"
	body := append([]byte(fmt.Sprintf("%04x%s0000", len(command)+4, command)), objects...)

	for _, label := range []string{
		"",
		"application/x-git-receive-pack-request; charset=utf-8",
		"text/plain",
		"application/octet-stream",
		"application/x-git-upload-pack-request",
	} {
		t.Run(fmt.Sprintf("Content-Type %q", label), func(t *testing.T) {
			calls := ts.up.calls.Load()
			req, _ := http.NewRequest("POST", ts.IngressURL+"/git/acme/api.git/git-receive-pack", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if label != "" {
				req.Header.Set("Content-Type", label)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(answer), "deny-outgoing-secrets") {
				t.Errorf("%d %s, want 403 deny-outgoing-secrets", resp.StatusCode, answer)
			}
			if n := ts.up.calls.Load() - calls; n != 0 {
				t.Errorf("the push reached the upstream %d times", n)
			}
		})
	}
	if got := strings.TrimSpace(local.Run(t, tmp, "--git-dir", bare, "rev-parse", "main")); got != before {
		t.Errorf("upstream main moved to %s", got)
	}
}
