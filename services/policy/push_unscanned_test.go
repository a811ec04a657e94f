package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/schemas"
	"github.com/airlockhq/airlock/services/policy/rules"
)

// ruleUnscanned is the masker's finding for a push whose pack it could not
// read whole (services/masker/push.go, RuleUnscanned).
const ruleUnscanned = "airlock-push-unscanned"

// gitPushEvent is the request event the ingress publishes for a git push
// to repo: the body it carries is what the masker answers for a push, the
// commands and the pack's 12-byte header (the objects are omitted), and
// findings are the masker's.
func gitPushEvent(t *testing.T, repo string, inspected int64, truncated bool, findings ...event.Finding) *event.Request {
	t.Helper()
	cmd := strings.Repeat("0", 40) + " " + strings.Repeat("1", 40) +
		" refs/heads/main\x00 report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.43.0\n"
	carried := fmt.Appendf(nil, "%04x%s0000PACK\x00\x00\x00\x02\x00\x00\x00\x03", len(cmd)+4, cmd)
	sum := sha256.Sum256(carried)
	req := request("POST", "/"+repo+".git/git-receive-pack")
	req.Connection, req.ConnectionType, req.Host = "git", "git", "github.com"
	req.Headers = map[string][]string{"Content-Type": {"application/x-git-receive-pack-request"}}
	req.Body = &event.Body{Size: inspected, ContentLength: inspected, Truncated: truncated,
		SHA256: hex.EncodeToString(sum[:]), Inline: carried, Omitted: inspected - int64(len(carried))}
	if truncated {
		req.Body.ContentLength = -1
	}
	req.Findings = findings
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("request", data); err != nil {
		t.Fatalf("test request is invalid: %v", err)
	}
	return req
}

// TestUnscannedPushIsDenied: with the default pack, a push carrying the
// masker's airlock-push-unscanned finding (past the inspect limit, or a
// pack that could not be read) is denied by deny-outgoing-secrets,
// whatever the push would otherwise get: approval (a production
// repository), an allow (a sandbox an operator opened), the default deny.
// The same pushes without the finding are the control: they are not
// decided by deny-outgoing-secrets.
func TestUnscannedPushIsDenied(t *testing.T) {
	const pack = "../../deploy/examples/policies/default.yaml"
	sandbox := filepath.Join(t.TempDir(), "sandbox.yaml")
	if err := os.WriteFile(sandbox, []byte(`rules:
  - name: agent-sandboxes
    effect: allow
    when: identity.in_group("agents") && glob(operation.repo, "*/sandbox-*")
    reason: agents may work in sandboxes
`), 0o600); err != nil {
		t.Fatal(err)
	}
	defaults, err := rules.Load([]string{pack})
	if err != nil {
		t.Fatal(err)
	}
	withSandbox, err := rules.Load([]string{pack, sandbox})
	if err != nil {
		t.Fatal(err)
	}

	const limit = 1 << 20
	pastLimit := event.Finding{Rule: ruleUnscanned, Location: fmt.Sprintf("push: the pack is larger than the %d bytes inspected", limit)}
	corrupt := event.Finding{Rule: ruleUnscanned, Location: "push: reading packfile: checksum: pack checksum mismatch"}
	tests := []struct {
		name string
		set  *rules.Set
		repo string
		// without is the verdict for the push without the finding.
		withoutEffect, withoutRule string
	}{
		{"production repository", defaults, "acme/payments", event.EffectApprove, "production-writes-need-approval"},
		{"other repository", defaults, "acme/api", event.EffectDeny, ""},
		{"sandbox allowed", withSandbox, "acme/sandbox-api", event.EffectAllow, "agent-sandboxes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(tt.set, gitPushEvent(t, tt.repo, 4096, false), nil).Verdict
			if v.Effect != tt.withoutEffect || v.Rule != tt.withoutRule {
				t.Errorf("control, no finding: %s/%q, want %s/%q", v.Effect, v.Rule, tt.withoutEffect, tt.withoutRule)
			}
			for _, c := range []struct {
				what string
				req  *event.Request
			}{
				{"past the inspect limit", gitPushEvent(t, tt.repo, limit, true, pastLimit)},
				{"unreadable pack", gitPushEvent(t, tt.repo, 4096, false, corrupt)},
			} {
				v := Judge(tt.set, c.req, nil).Verdict
				if v.Effect != event.EffectDeny || v.Rule != "deny-outgoing-secrets" {
					t.Errorf("%s: %s/%q (%s), want deny/deny-outgoing-secrets", c.what, v.Effect, v.Rule, v.Reason)
				}
			}
		})
	}
}
