package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/event"
	"github.com/airlockhq/airlock/pkg/subject"
)

// TestPushReachesEveryReplica pushes a policy set and wants both replicas
// to decide by it; a set that does not compile, stored behind the CLI's
// back, changes nothing.
func TestPushReachesEveryReplica(t *testing.T) {
	h := start(t, "testdata/service.yaml")
	other := New(h.js, h.svc.Rules(), h.svc.log, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, s := range []*Service{h.svc, other} {
		go func() {
			if err := s.WatchPushed(ctx); err != nil {
				t.Errorf("WatchPushed: %v", err)
			}
		}()
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "pushed.yaml")
	if err := os.WriteFile(file, []byte("rules:\n  - {name: pushed-deny-all, effect: deny, when: 'true', reason: frozen}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, h.js, []string{file}, "test"); err != nil {
		t.Fatal(err)
	}
	waitRule(t, h.svc, "pushed-deny-all")
	waitRule(t, other, "pushed-deny-all")

	req := request("GET", "/repos/acme/api")
	h.publish(t, req, req.ID)
	if v := h.verdict(t, req.ID); v.Effect != event.EffectDeny || v.Rule != "pushed-deny-all" {
		t.Fatalf("verdict after push = %s/%q, want deny/pushed-deny-all", v.Effect, v.Rule)
	}

	// The CLI refuses a set that does not compile...
	if err := os.WriteFile(file, []byte("rules:\n  - {name: bad, effect: allow, when: 'request.methd == 1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, h.js, []string{file}, "test"); err == nil || !strings.Contains(err.Error(), "refusing to push") {
		t.Fatalf("Push of a bad set = %v, want refused", err)
	}
	// ...and the service refuses one stored behind its back.
	kv, err := h.js.KeyValue(ctx, subject.PoliciesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, PushedKey, []byte(`{"files":[{"Name":"x.yaml","Data":"cnVsZXM6CiAgLSB7bmFtZTogYmFkLCBlZmZlY3Q6IGFsbG93LCB3aGVuOiAnMSd9Cg=="}]}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.logs.String(), "does not compile") {
		if time.Now().After(deadline) {
			t.Fatalf("service did not report the bad set; logs:\n%s", h.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.svc.Rules().Rules()[0].Name; got != "pushed-deny-all" {
		t.Fatalf("rules in force = %q, want the last good push", got)
	}
}

func waitRule(t *testing.T, s *Service, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if rs := s.Rules().Rules(); len(rs) > 0 && rs[0].Name == name {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica did not load the pushed set")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
