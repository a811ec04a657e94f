package bus

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/pkg/tlstest"
)

// TestTLS goes the way a standalone service goes: nats.tls in a
// configuration file, with paths relative to it, through config.Load and
// Join to a real server that requires TLS, with and without verifying
// clients (tls { verify: true } in nats.conf).
func TestTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	client := ca.Client(t, "recorder")
	stranger := tlstest.NewCA(t).Client(t, "recorder")
	tlsOnly := startTLS(t, ca, false)
	mutual := startTLS(t, ca, true)

	tests := []struct {
		name string
		url  string
		tls  string // the nats.tls section, paths relative to the config
		// check the error of Join; nil means Join must succeed.
		check func(t *testing.T, err error)
	}{
		{name: "trusted CA", url: tlsOnly, tls: fmt.Sprintf("{ca: %s}", rel(t, ca.Dir, ca.CertFile))},
		{name: "no CA: the system's roots", url: tlsOnly, check: unknownAuthority},
		{name: "verified client", url: mutual, tls: fmt.Sprintf("{ca: %s, cert: %s, key: %s}",
			rel(t, ca.Dir, ca.CertFile), rel(t, ca.Dir, client.CertFile), rel(t, ca.Dir, client.KeyFile))},
		{name: "verify: no client certificate", url: mutual, tls: fmt.Sprintf("{ca: %s}", rel(t, ca.Dir, ca.CertFile)), check: refused},
		{name: "verify: a client certificate of another CA", url: mutual, tls: fmt.Sprintf("{ca: %s, cert: %s, key: %s}",
			rel(t, ca.Dir, ca.CertFile), stranger.CertFile, stranger.KeyFile), check: refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, ca.Dir, tt.url, tt.tls)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			nc, js, err := Join(ctx, cfg, "tls-test", nil)
			if tt.check != nil {
				if err == nil {
					nc.Close()
					t.Fatal("Join succeeded, want it refused")
				}
				tt.check(t, err)
				return
			}
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			defer nc.Close()
			if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete {
				t.Fatalf("TLS state = %+v, %v: want a completed handshake", st, err)
			}
			// Join provisioned the streams over TLS; a publish is stored.
			ack, err := js.Publish(ctx, subject.Verdict("01TLS"), []byte(`{}`))
			if err != nil {
				t.Fatalf("publishing over TLS: %v", err)
			}
			if ack.Stream != subject.Stream {
				t.Errorf("stored in %q, want %q", ack.Stream, subject.Stream)
			}
		})
	}
}

// startTLS starts a JetStream server on a random loopback port that
// requires TLS with a certificate signed by ca and, with verify, a client
// certificate signed by ca. It returns a nats:// URL: the client's TLS
// files alone must turn TLS on.
func startTLS(t *testing.T, ca *tlstest.CA, verify bool) string {
	t.Helper()
	cert := ca.Server(t, "127.0.0.1")
	// As nats.conf's tls block builds it.
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert.CertFile, KeyFile: cert.KeyFile, CaFile: ca.CertFile, Verify: verify})
	if err != nil {
		t.Fatalf("nats server TLS config: %v", err)
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		TLS: true, TLSVerify: verify, TLSConfig: tc, TLSTimeout: 5,
	})
	if err != nil {
		t.Fatalf("creating nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server not ready after 10s")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return "nats://" + ns.Addr().String()
}

// loadConfig writes an airlock.yaml into dir that joins the bus at url
// with nats.tls set to tls (none when empty), and loads it.
func loadConfig(t *testing.T, dir, url, tls string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf("nats:\n  url: %s\n  provision: true\n", url)
	if tls != "" {
		yaml += "  tls: " + tls + "\n"
	}
	yaml += "identity: {dev_issuer: {enabled: true}}\nconnections: [{name: demo, type: http, upstream: builtin:echo}]\npolicies: [p.yaml]\n"
	path := filepath.Join(dir, "airlock-"+filepath.Base(t.Name())+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	return cfg
}

// rel is file relative to dir, as a configuration names it.
func rel(t *testing.T, dir, file string) string {
	t.Helper()
	r, err := filepath.Rel(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func unknownAuthority(t *testing.T, err error) {
	t.Helper()
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("err = %v, want x509.UnknownAuthorityError", err)
	}
}

// refused wants the connection refused. How the client hears of it (an
// alert, usually "certificate required" or "unknown certificate
// authority"; a reset or EOF if the server closes first) depends on
// timing, so the error is logged rather than matched.
func refused(t *testing.T, err error) {
	t.Helper()
	if !strings.Contains(err.Error(), "connecting to nats") {
		t.Errorf("err = %v, want the connection refused", err)
	}
	t.Logf("refused: %v", err)
}
