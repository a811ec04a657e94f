package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bus"
	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/logtest"
)

// freePort is a port nothing listens on, for a process started later.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestStandaloneServicesStartAndStop builds each service's binary, runs it
// against a NATS server the way a deployment does (its own process, the
// configuration file, nats.url), waits for its /readyz, and stops it with
// SIGTERM: each must be ready, and exit 0. Its -healthcheck (the compose
// stack's health check) must say ready while it runs, and not once it has
// stopped.
func TestStandaloneServicesStartAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds five binaries")
	}
	srv := bustest.Start(t)
	_, js := srv.Connect(t, "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, js, bus.Limits{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	admins := map[string]string{}
	for _, s := range []string{"ingress", "policy", "masker", "approver", "recorder"} {
		admins[s] = freePort(t)
	}
	cfg := fmt.Sprintf(`
nats: {url: %q}
identity: {dev_issuer: {enabled: true, listen: %q}}
ingress: {listen: %q}
connections:
  - {name: gh, type: github, upstream: "http://127.0.0.1:9", credential: {value: x}}
policies: [policy.yaml]
admin: {listen: none, ingress: %q, policy: %q, masker: %q, approver: %q, recorder: %q}
`, srv.URL, freePort(t), freePort(t), admins["ingress"], admins["policy"], admins["masker"], admins["approver"], admins["recorder"])
	cfgPath := filepath.Join(dir, "airlock.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ingress", "policy", "masker", "approver", "recorder"} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, name)
			build := exec.Command("go", "build", "-o", bin, "./services/"+name+"/cmd/"+name)
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			cmd := exec.Command(bin, "-config", cfgPath)
			logs := &logtest.Buffer{}
			cmd.Stdout, cmd.Stderr = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			url := "http://" + admins[name] + "/readyz"
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp, err := http.Get(url)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				select {
				case err := <-exited:
					t.Fatalf("%s exited before it was ready: %v\n%s", name, err, logs)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s not ready in 20 s\n%s", name, logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			checkHealthcheck(t, bin, cfgPath, 0, name+": ready\n")
			// SIGHUP (a terminal closing, a careless kill -HUP) does not
			// stop a service; the policy service reloads on it.
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				t.Fatalf("%s exited on SIGHUP: %v\n%s", name, err, logs)
			case <-time.After(300 * time.Millisecond):
			}
			checkHealthcheck(t, bin, cfgPath, 0, name+": ready\n")
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("%s exited with %v after SIGTERM\n%s", name, err, logs)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%s still running 15 s after SIGTERM\n%s", name, logs)
			}
			checkHealthcheck(t, bin, cfgPath, 1, name+": not ready: probing readiness: ")
		})
	}
}

// checkHealthcheck runs bin -config cfgPath -healthcheck and wants exit code
// code and one line starting with want.
func checkHealthcheck(t *testing.T, bin, cfgPath string, code int, want string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "-config", cfgPath, "-healthcheck")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if got := cmd.ProcessState.ExitCode(); (err != nil && !errors.As(err, &exit)) || got != code ||
		!strings.HasPrefix(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("%s -healthcheck: exit %d (%v), printed %q; want exit %d and one line %q…", filepath.Base(bin), got, err, out.String(), code, want)
	}
}
