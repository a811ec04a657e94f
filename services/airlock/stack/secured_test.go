package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/devissuer"
	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/pkg/maskstream"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/approver"
	"github.com/airlockhq/airlock/services/ingress"
	"github.com/airlockhq/airlock/services/ingress/identity"
	"github.com/airlockhq/airlock/services/masker"
	"github.com/airlockhq/airlock/services/policy"
	"github.com/airlockhq/airlock/services/recorder"
)

// TestServicesRunAsTheirOwnUsers runs the real ingress and policy service
// against a server configured by deploy/nats/nats.conf, each as its own
// user, after `airlock provision` (the admin user) and with a policy set
// pushed by the cli user: least privilege is enough for their work.
func TestServicesRunAsTheirOwnUsers(t *testing.T) {
	passwords := map[string]string{}
	for _, u := range []string{"admin", "ingress", "policy", "masker", "approver", "recorder", "cli"} {
		passwords[u] = "pw-" + u + "-" + fmt.Sprint(time.Now().UnixNano())
		t.Setenv("AIRLOCK_NATS_"+strings.ToUpper(u)+"_PASSWORD", passwords[u])
	}
	t.Setenv("AIRLOCK_NATS_STORE_DIR", t.TempDir())
	opts, err := server.ProcessConfigFile("../../../deploy/nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.NoSigs = "127.0.0.1", server.RANDOM_PORT, 0, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(user string) jetstream.JetStream {
		t.Helper()
		nc, err := bus.Connect(ns.ClientURL(), nil, user, log.With("service", user), bus.WithAuth(bus.Auth{User: user, Password: passwords[user]}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	if err := bus.Provision(ctx, dial("admin"), bus.Limits{}); err != nil {
		t.Fatalf("provisioning as admin: %v", err)
	}

	dir := t.TempDir()
	pushed := filepath.Join(dir, "pushed.yaml")
	if err := os.WriteFile(pushed, []byte(testPolicy+`  - name: held
    effect: approve
    when: request.path.startsWith("/held")
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deny-all.yaml"), []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	iss, issuerURL := serveIssuer(t, filepath.Join(dir, "issuer"))
	up := newUpstream(t)
	t.Setenv("TEST_SERVICE_CREDENTIAL", serviceCredential)

	// The services' configuration: the ingress takes its user from it.
	cfgPath := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
nats:
  url: %s
  user: ingress
  password: ${AIRLOCK_NATS_INGRESS_PASSWORD}
identity:
  issuers: [{url: %q, audiences: [airlock]}]
ingress:
  inline_limit: 1KiB
connections:
  - {name: gh, type: github, upstream: %q, credential: {env: TEST_SERVICE_CREDENTIAL}}
policies: [deny-all.yaml]
`, ns.ClientURL(), issuerURL, up.url)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	// policy, as the policy user: binds, follows pushes, consumes.
	polJS := dial("policy")
	if err := bus.AwaitStreams(ctx, polJS, 10*time.Millisecond, subject.Stream, bus.PoliciesStream, bus.BodiesStream); err != nil {
		t.Fatal(err)
	}
	set, err := policy.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := policy.New(polJS, set, log.With("service", "policy"), nil)
	pctx, pcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = svc.WatchPushed(pctx) }()
	go func() { defer wg.Done(); _ = svc.Run(pctx) }()
	t.Cleanup(func() { pcancel(); wg.Wait() })

	// The operator pushes the rules, as the cli user.
	if _, err := policy.Push(ctx, dial("cli"), []string{pushed}, "test"); err != nil {
		t.Fatalf("pushing as cli: %v", err)
	}
	for svc.Rules().Len() == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the pushed rules never arrived\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}

	// masker, as the masker user: answers the ingress's pieces.
	mnc, err := bus.Connect(ns.ClientURL(), nil, "masker", log.With("service", "masker"), bus.WithAuth(bus.Auth{User: "masker", Password: passwords["masker"]}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mnc.Close)
	mk, err := masker.New(cfg, log.With("service", "masker"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msrv, err := maskstream.Serve(mnc, mk.Handle, log.With("service", "masker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = msrv.Drain() })
	if err := mnc.Flush(); err != nil {
		t.Fatal(err)
	}

	// ingress, as the ingress user named in the configuration.
	nc, err := bus.Connect(cfg.NATS.URL, nil, "ingress", log.With("service", "ingress"), bus.WithAuth(bus.AuthFrom(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ingJS, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.AwaitStreams(ctx, ingJS, 10*time.Millisecond, subject.Stream, subject.AuditStream, bus.BodiesStream); err != nil {
		t.Fatal(err)
	}
	verifier := identity.New(cfg.Identity.Issuers, cfg.Identity.ClockSkew, nil)
	srv, err := ingress.New(cfg, nc, verifier, log.With("service", "ingress"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	tok, err := iss.Sign(devissuer.Claims{Subject: "copilot", Groups: []string{"agents"}})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		method, path string
		body         string
		want         int
	}{
		{"GET", "/gh/repos/acme/api", "", http.StatusOK},
		{"DELETE", "/gh/repos/acme/api", "", http.StatusForbidden},
		// Above the inline limit: through the object store.
		{"PUT", "/gh/upload/big", strings.Repeat("x", 4096), http.StatusOK},
	} {
		req, err := http.NewRequest(tt.method, hs.URL+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d\n%s", tt.method, tt.path, resp.StatusCode, tt.want, logs)
		}
	}
	// The recorder, as its own user: it records the exchanges that follow
	// into the embedded store and chains the audit stream.
	rec, err := recorder.Start(ctx, cfg, dial("recorder"), log.With("service", "recorder"), nil)
	if err != nil {
		t.Fatalf("recorder as its user: %v", err)
	}
	t.Cleanup(rec.Stop)

	// A held request, decided by an operator as the cli user and carried
	// out by the approver as its own user.
	appr, err := approver.Start(ctx, cfg, dial("approver"), log.With("service", "approver"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(appr.Stop)
	heldDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PUT", hs.URL+"/gh/held/x", strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			heldDone <- 0
			return
		}
		resp.Body.Close()
		heldDone <- resp.StatusCode
	}()
	cliKV, err := dial("cli").KeyValue(ctx, subject.ApprovalsBucket)
	if err != nil {
		t.Fatalf("cli opens the approvals: %v", err)
	}
	var pendingID string
	for pendingID == "" {
		as, err := approver.List(ctx, cliKV, approver.StatePending)
		if err != nil {
			t.Fatalf("cli lists the approvals: %v", err)
		}
		if len(as) > 0 {
			pendingID = as[0].ID
		}
		if ctx.Err() != nil {
			t.Fatalf("no pending approval\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd, _ := json.Marshal(approver.Command{ApprovalID: pendingID, Outcome: "approve", By: "ops"})
	if _, err := cliKV.Create(ctx, approver.CommandKey(pendingID, "1"), cmd); err != nil {
		t.Fatalf("cli writes a command: %v", err)
	}
	if got := <-heldDone; got != http.StatusOK {
		t.Errorf("held request approved by the cli: %d\n%s", got, logs)
	}
	// The cli may not write an approval itself (on a connection of its own:
	// the refusal is logged, and the services' logs must stay clean).
	quiet, err := bus.Connect(ns.ClientURL(), nil, "cli", slog.New(slog.DiscardHandler), bus.WithAuth(bus.Auth{User: "cli", Password: passwords["cli"]}))
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	qjs, _ := jetstream.New(quiet)
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	if _, err := qjs.Publish(short, "$KV."+subject.ApprovalsBucket+".approval."+pendingID, []byte(`{"state":"approved"}`)); err == nil {
		t.Error("the cli user wrote an approval")
	}

	// Everything so far is recorded and chained, and the cli user can
	// read the recordings (airlock audit verify, sessions, replay).
	cliStore, err := recorder.OpenStore(ctx, cfg, dial("cli"))
	if err != nil {
		t.Fatalf("cli opens the recordings: %v", err)
	}
	for {
		keys, err := cliStore.List(ctx, recorder.SessionsPrefix)
		if err != nil {
			t.Fatalf("cli lists the recordings: %v", err)
		}
		chained, verr := recorder.Verify(ctx, cliStore)
		if len(keys) >= 2 && chained >= 2 && verr == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("recordings: %d records, %d chained (%v)\n%s", len(keys), chained, verr, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := srv.Ready(); err != nil {
		t.Errorf("ingress not ready: %v", err)
	}
	if err := svc.Ready(); err != nil {
		t.Errorf("policy not ready: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A refused publish or subscription is logged as an error ("nats
	// error", "publishing event"): none may be.
	time.Sleep(50 * time.Millisecond) // the journal's asynchronous acks
	if strings.Contains(logs.String(), `"level":"ERROR"`) || strings.Contains(logs.String(), "ermission") {
		t.Errorf("a service was refused something it needs:\n%s", logs)
	}
}

// serveIssuer serves a dev issuer over HTTP on loopback, its keys in dir,
// until the test ends: an identity provider the gateway reaches as it
// would a real one.
func serveIssuer(t *testing.T, dir string) (*devissuer.Issuer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	iss, err := devissuer.Open(dir, url, "airlock")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return iss, url
}
