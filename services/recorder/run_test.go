package recorder_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/tlstest"
	"github.com/airlockhq/airlock/services/recorder"
	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// TestOpenStoreTLS: recorder.s3.ca, relative to the configuration file,
// reaches the S3 client, which then trusts a MinIO whose certificate the
// system does not.
func TestOpenStoreTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	s3 := storetest.StartMinIO(t, storetest.TLS(ca))
	yaml := fmt.Sprintf(`identity: {dev_issuer: {enabled: true}}
connections: [{name: demo, type: http, upstream: builtin:echo}]
policies: [p.yaml]
recorder:
  s3:
    endpoint: %s
    bucket: recordings
    access_key: %s
    secret_key: %s
    region: %s
    ca: %s
`, s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region, filepath.Base(s3.CAFile))
	path := filepath.Join(filepath.Dir(s3.CAFile), "airlock.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := recorder.OpenStore(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	if err := st.Put(ctx, "k", []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, "k"); err != nil || string(got) != "over TLS" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}
