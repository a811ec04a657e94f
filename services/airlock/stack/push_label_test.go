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
	ps := startPushStack(t)
	ts, agent, work, before := ps.ts, ps.agent, ps.work, ps.before
	writeFile(t, filepath.Join(work, "deploy", "prod.pem"), privateKey(t).Value+"\n")
	agent.Run(t, work, "add", "deploy/prod.pem")
	agent.Run(t, work, "commit", "-m", "add the deploy key")
	after := strings.TrimSpace(agent.Run(t, work, "rev-parse", "HEAD"))

	// The body git would send: the command, a flush, the pack.
	pack := exec.Command(ps.local.Path, "pack-objects", "--stdout", "--revs")
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
			req.Header.Set("Authorization", "Bearer "+ps.token)
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
	if got := ps.upstreamMain(t); got != before {
		t.Errorf("upstream main moved to %s", got)
	}
}
