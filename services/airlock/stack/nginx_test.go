package stack

import (
	"context"
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
)

// startNginx runs nginx as a plain proxy_pass reverse proxy to upstream,
// the baseline a gateway is compared with. It skips the benchmark when
// nginx is not installed (scripts/bench-deps.sh installs it).
func startNginx(b *testing.B, upstream string) string {
	b.Helper()
	url, _ := startNginxProcess(b, upstream)
	return url
}

// startNginxProcess is startNginx, with the master process's pid (nginx
// runs in the foreground: the process started is the master).
func startNginxProcess(b *testing.B, upstream string) (string, int) {
	b.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		b.Skip("nginx not installed: run scripts/bench-deps.sh")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	conf := fmt.Sprintf(`worker_processes 2;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  # In memory, never in temp files (its workers may not write to the
  # test's directory): request bodies up to 128 KiB, responses streamed
  # past the buffers.
  client_body_buffer_size 128k;
  proxy_max_temp_file_size 0;
  upstream backend { server %[2]s; keepalive 256; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, strings.TrimPrefix(upstream, "http://"), addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	// SIGTERM, not SIGKILL: the master stops its workers, which a killed
	// master would leave running.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(5 * time.Second); ; {
		req, _ := http.NewRequest("GET", url+"/", nil)
		req.Header.Set("Authorization", "Bearer "+serviceCredential) // the test upstream insists
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return url, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			b.Fatal("nginx did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
