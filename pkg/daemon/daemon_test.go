package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/airlockhq/airlock/pkg/admin"
	"github.com/airlockhq/airlock/pkg/config"
)

// TestHealthcheck runs -healthcheck's code against a real admin listener
// bound to every interface, as in the compose stack: ready, not ready, and
// a configuration that does not load. Each prints one line.
func TestHealthcheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	dir := t.TempDir()
	good := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(good, []byte(`
identity: {dev_issuer: {enabled: true}}
connections:
  - {name: gh, type: github, upstream: "http://127.0.0.1:9", credential: {value: x}}
policies: [policy.yaml]
admin: {policy: 0.0.0.0:`+port+`}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("connections: [{name: gh}]\nadmin: {policy: 9092}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var reason atomic.Pointer[string]
	ready := func() error {
		if r := reason.Load(); r != nil {
			return errors.New(*r)
		}
		return nil
	}
	srv, err := admin.Start("0.0.0.0:"+port, admin.NewRegistry(), ready, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	policyAdmin := func(c *config.Config) string { return c.Admin.Policy }

	for _, c := range []struct {
		name   string
		path   string
		reason string // of the service's unreadiness; "" when ready
		code   int
		out    string // the line, on stdout when ready and on stderr otherwise
	}{
		{"ready", good, "", 0, "policy: ready\n"},
		{"not ready", good, "not connected to NATS", 1, "policy: not ready: probing http://127.0.0.1:" + port + "/readyz: 503 Service Unavailable: not connected to NATS\n"},
		{"bad config", bad, "", 1, "policy: not ready: " + bad + ": invalid configuration: "},
		{"no config", filepath.Join(dir, "missing.yaml"), "", 1, "policy: not ready: reading config: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason.Store(nil)
			if c.reason != "" {
				reason.Store(&c.reason)
			}
			var stdout, stderr bytes.Buffer
			code := Healthcheck("policy", c.path, policyAdmin, &stdout, &stderr)
			got, quiet := stderr.String(), stdout.String()
			if c.code == 0 {
				got, quiet = quiet, got
			}
			t.Log(strings.TrimSpace(got))
			if code != c.code || !strings.HasPrefix(got, c.out) || strings.Count(got, "\n") != 1 || quiet != "" {
				t.Errorf("Healthcheck = %d, stdout %q, stderr %q; want %d and the one line %q…", code, stdout.String(), stderr.String(), c.code, c.out)
			}
		})
	}
}
