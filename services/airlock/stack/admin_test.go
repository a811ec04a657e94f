package stack

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminGet waits up to 5s for the admin endpoint path to answer status
// with a body containing every want, and returns the last body.
func adminGet(t *testing.T, ts *testStack, path string, status int, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(ts.AdminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body, ok := string(data), resp.StatusCode == status
		for _, w := range want {
			ok = ok && strings.Contains(body, w)
		}
		if ok {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d with %q:\n%s", path, resp.StatusCode, status, want, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminListenerServesEveryService(t *testing.T) {
	ts := startStackQuiet(t, 2*time.Second)
	if ts.AdminURL == "" {
		t.Fatal("no admin listener")
	}
	adminGet(t, ts, "/healthz", http.StatusOK)
	adminGet(t, ts, "/readyz", http.StatusOK, "ready")

	if resp, body := ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	adminGet(t, ts, "/metrics", http.StatusOK,
		`airlock_ingress_requests_total{connection="gh",decision="allow"} 1`,
		`airlock_ingress_upstream_duration_seconds_count{connection="gh"} 1`,
		`airlock_policy_verdicts_total{effect="allow",rule="agents-read"} 1`,
		`airlock_policy_evaluation_duration_seconds_count 1`,
		"go_goroutines", "process_cpu_seconds_total")

	// A stopped policy service makes the stack unready; restarted, it
	// counts on the same series.
	ts.StopPolicy()
	adminGet(t, ts, "/readyz", http.StatusServiceUnavailable, "policy: stopped")
	if err := ts.StartPolicy(context.Background()); err != nil {
		t.Fatal(err)
	}
	adminGet(t, ts, "/readyz", http.StatusOK)
	if resp, body := ts.do(t, "GET", "/gh/repos/acme/api", ts.token(t, "agents"), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	adminGet(t, ts, "/metrics", http.StatusOK, `airlock_policy_verdicts_total{effect="allow",rule="agents-read"} 2`)

	// The agents' listener does not serve the metrics.
	if resp, _ := ts.do(t, "GET", "/metrics", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("ingress /metrics = %d, want 404", resp.StatusCode)
	}
}
