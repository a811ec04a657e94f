// Package storetest runs a real MinIO server as a local process for tests,
// on random loopback ports with its data in a temp dir, over plain HTTP or
// TLS.
package storetest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/logtest"
	"github.com/airlockhq/airlock/pkg/tlstest"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// Credentials and bucket of the test server.
const (
	RootUser     = "airlock-test"
	RootPassword = "airlock-test-secret"
	Bucket       = "airlock-test"
	Region       = "us-east-1"
)

const (
	readyTimeout = 30 * time.Second
	stopGrace    = 5 * time.Second
)

// MinIO is a running test server. Stop and Restart keep its data dir and
// ports, so a client configured with Config reconnects after a restart.
type MinIO struct {
	// Config reaches the server, over plain HTTP or, started with TLS,
	// over HTTPS trusting the test's CA. Its bucket does not exist until
	// store.NewS3 creates it.
	Config store.S3Config

	t              testing.TB
	bin, dir       string
	console        string
	certsDir       string         // MinIO's --certs-dir; empty: plain HTTP
	roots          *x509.CertPool // trusted by the readiness probe, with TLS
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan struct{} // closed when cmd has been waited for
	output         *logtest.Buffer
	stoppedForGood bool
}

// Option changes how a server starts.
type Option func(*options)

type options struct {
	ca *tlstest.CA
}

// TLS serves HTTPS only, with a certificate for 127.0.0.1 signed by ca.
// The server's Config is then Secure, with ca's certificate as its CAFile.
func TLS(ca *tlstest.CA) Option {
	return func(o *options) { o.ca = ca }
}

// StartMinIO starts a server and returns how to reach it. The server stops
// when the test ends.
func StartMinIO(t testing.TB, opts ...Option) store.S3Config {
	t.Helper()
	return StartMinIOServer(t, opts...).Config
}

// StartMinIOServer starts a server and returns its handle, for tests that
// stop and restart it. The server stops when the test ends.
//
// The minio binary comes from PATH or $(go env GOPATH)/bin, where
// scripts/ci-deps.sh installs it. Without it the test is skipped, or fails
// when CI=true.
func StartMinIOServer(t testing.TB, opts ...Option) *MinIO {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin, err := findMinIO()
	if err != nil {
		msg := fmt.Sprintf("minio server binary not found (%v): run scripts/ci-deps.sh", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	m := &MinIO{
		t:       t,
		bin:     bin,
		dir:     t.TempDir(),
		console: freeAddr(t),
		Config: store.S3Config{
			Endpoint:  freeAddr(t),
			Bucket:    Bucket,
			AccessKey: RootUser,
			SecretKey: RootPassword,
			Region:    Region,
		},
	}
	if o.ca != nil {
		m.certsDir = certsDir(t, o.ca)
		m.roots = o.ca.Pool()
		m.Config.Secure = true
		m.Config.CAFile = o.ca.CertFile
	}
	// Registered after TempDir, so it runs before the dir is removed.
	t.Cleanup(func() {
		m.mu.Lock()
		m.stoppedForGood = true
		m.mu.Unlock()
		m.Stop()
	})
	m.Restart()
	return m
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for
// it to exit. Stopping a stopped server does nothing.
func (m *MinIO) Stop() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(stopGrace):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Restart starts the server again, on the same data dir and ports, and
// waits until it is ready; it fails the test if the server does not come
// up, so call it from the test's goroutine. Restarting a running server
// does nothing.
func (m *MinIO) Restart() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil || m.stoppedForGood {
		return
	}
	args := []string{"server", m.dir, "--address", m.Config.Endpoint, "--console-address", m.console}
	if m.certsDir != "" {
		args = append(args, "--certs-dir", m.certsDir)
	}
	cmd := exec.Command(m.bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+RootUser,
		"MINIO_ROOT_PASSWORD="+RootPassword,
		"MINIO_UPDATE=off",
	)
	m.output = &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = m.output, m.output
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("starting minio: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	m.cmd, m.exited = cmd, exited
	if err := waitReady(m.Config.Endpoint, m.roots, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		m.cmd = nil
		m.t.Fatalf("starting minio on %s: %v\n%s", m.Config.Endpoint, err, m.output)
	}
}

// certsDir lays out a directory for MinIO's --certs-dir: public.crt and
// private.key, a certificate for 127.0.0.1 signed by ca, and ca's
// certificate in CAs/, so that MinIO trusts itself.
func certsDir(t testing.TB, ca *tlstest.CA) string {
	t.Helper()
	dir := t.TempDir()
	cert := ca.Server(t, "127.0.0.1")
	if err := os.Mkdir(filepath.Join(dir, "CAs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{
		cert.CertFile: "public.crt",
		cert.KeyFile:  "private.key",
		ca.CertFile:   filepath.Join("CAs", "ca.crt"),
	} {
		data, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, to), data, 0o600)
		}
		if err != nil {
			t.Fatalf("laying out minio's certs dir: %v", err)
		}
	}
	return dir
}

// waitReady polls MinIO's readiness probe until it answers 200: over
// HTTPS trusting roots when they are set, else over plain HTTP.
func waitReady(addr string, roots *x509.CertPool, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + addr + "/minio/health/ready"
	if roots != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}}
		url = "https://" + addr + "/minio/health/ready"
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", readyTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("minio exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findMinIO looks in PATH, then in $(go env GOBIN) or $(go env GOPATH)/bin.
func findMinIO() (string, error) {
	if bin, err := exec.LookPath("minio"); err == nil {
		return bin, nil
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("not in PATH, and go env failed: %w", err)
	}
	// One line each, GOBIN's empty when unset.
	gobin, gopath, _ := strings.Cut(string(out), "\n")
	dir := strings.TrimSpace(gobin)
	if dir == "" {
		// go install uses the first GOPATH entry.
		gopaths := filepath.SplitList(strings.TrimSpace(gopath))
		if len(gopaths) == 0 {
			return "", errors.New("not in PATH, and no GOBIN nor GOPATH")
		}
		dir = filepath.Join(gopaths[0], "bin")
	}
	bin := filepath.Join(dir, "minio")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("not in PATH nor at %s", bin)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
