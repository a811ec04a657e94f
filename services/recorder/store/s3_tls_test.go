package store_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/tlstest"
	"github.com/airlockhq/airlock/services/recorder/store"
	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// TestS3TLS runs MinIO with a certificate signed by a throwaway CA: the
// store reaches it when told to trust the CA, and only then.
func TestS3TLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	srv := storetest.StartMinIOServer(t, storetest.TLS(ca))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	notPEM := filepath.Join(t.TempDir(), "not-a-ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(c *store.S3Config)
		// check the error of NewS3; nil means NewS3 must succeed.
		check func(t *testing.T, err error)
	}{
		{name: "trusting the CA", change: func(*store.S3Config) {}},
		{name: "the system's roots", change: func(c *store.S3Config) { c.CAFile = "" }, check: unknownAuthority},
		{name: "plain HTTP to a TLS server", change: func(c *store.S3Config) { c.Secure, c.CAFile = false, "" }, check: anyError},
		{name: "a CA without TLS", change: func(c *store.S3Config) { c.Secure = false }, check: contains("s3 ca file set without TLS")},
		{name: "a missing CA file", change: func(c *store.S3Config) { c.CAFile = "/nonexistent/ca.pem" }, check: contains("/nonexistent/ca.pem")},
		{name: "a CA file without a certificate", change: func(c *store.S3Config) { c.CAFile = notPEM }, check: contains(notPEM + ": no PEM certificate")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := srv.Config
			c.Bucket = "tls"
			tt.change(&c)
			s, err := store.NewS3(ctx, c)
			if tt.check != nil {
				if err == nil {
					t.Fatalf("NewS3 with %s succeeded", c)
				}
				tt.check(t, err)
				return
			}
			if err != nil {
				t.Fatalf("NewS3: %v", err)
			}
			if err := s.Put(ctx, "k/1", []byte("over TLS")); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, "k/1"); err != nil || string(got) != "over TLS" {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}
}

func unknownAuthority(t *testing.T, err error) {
	t.Helper()
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("err = %v, want x509.UnknownAuthorityError", err)
	}
}

func anyError(t *testing.T, err error) {
	t.Helper()
	t.Logf("refused: %v", err)
}

func contains(want string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
