// Package storetest runs a real MinIO server as a local process for tests,
// on random loopback ports with its data in a temp dir.
package storetest

import (
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
	// Config reaches the server over plain HTTP. Its bucket does not exist
	// until store.NewS3 creates it.
	Config store.S3Config

	t              testing.TB
	bin, dir       string
	console        string
	mu             sync.Mutex
	cmd            *exec.Cmd
	exited         chan struct{} // closed when cmd has been waited for
	output         *logtest.Buffer
	stoppedForGood bool
}

// StartMinIO starts a server and returns how to reach it. The server stops
// when the test ends.
func StartMinIO(t testing.TB) store.S3Config {
	t.Helper()
	return StartMinIOServer(t).Config
}

// StartMinIOServer starts a server and returns its handle, for tests that
// stop and restart it. The server stops when the test ends.
//
// The minio binary comes from PATH or $(go env GOPATH)/bin, where
// scripts/ci-deps.sh installs it. Without it the test is skipped, or fails
// when CI=true.
func StartMinIOServer(t testing.TB) *MinIO {
	t.Helper()
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
	cmd := exec.Command(m.bin, "server", m.dir, "--address", m.Config.Endpoint, "--console-address", m.console)
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
	if err := waitReady(m.Config.Endpoint, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		m.cmd = nil
		m.t.Fatalf("starting minio on %s: %v\n%s", m.Config.Endpoint, err, m.output)
	}
}

// waitReady polls MinIO's readiness probe until it answers 200.
func waitReady(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + addr + "/minio/health/ready"
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
