package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/airlockhq/airlock/services/recorder/store"
	"github.com/airlockhq/airlock/services/recorder/store/storetest"
)

// TestS3 shares one MinIO across its subtests, each on its own bucket. The
// outage subtest stops and restarts the server, so it runs last.
func TestS3(t *testing.T) {
	srv := storetest.StartMinIOServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := adminClient(t, srv.Config)
	withBucket := func(bucket string) store.S3Config {
		c := srv.Config
		c.Bucket = bucket
		return c
	}

	t.Run("contract", func(t *testing.T) {
		s, err := store.NewS3(ctx, withBucket("contract"))
		if err != nil {
			t.Fatal(err)
		}
		testContract(t, s)
	})

	t.Run("creates bucket when missing", func(t *testing.T) {
		if ok, err := admin.BucketExists(ctx, "created"); err != nil || ok {
			t.Fatalf("BucketExists before NewS3 = %v, %v", ok, err)
		}
		a, err := store.NewS3(ctx, withBucket("created"))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := admin.BucketExists(ctx, "created"); err != nil || !ok {
			t.Fatalf("BucketExists after NewS3 = %v, %v", ok, err)
		}
		if err := a.Put(ctx, "k/1", []byte("v")); err != nil {
			t.Fatal(err)
		}
		// An existing bucket is used as it is, objects and all.
		b, err := store.NewS3(ctx, withBucket("created"))
		if err != nil {
			t.Fatalf("NewS3 on an existing bucket: %v", err)
		}
		if got, err := b.Get(ctx, "k/1"); err != nil || string(got) != "v" {
			t.Fatalf("Get through a second client = %q, %v", got, err)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		_, err := store.NewS3(ctx, store.S3Config{SecretKey: "hunter22"})
		if err == nil || !strings.Contains(err.Error(), "endpoint") || !strings.Contains(err.Error(), "bucket") {
			t.Errorf("NewS3 with no endpoint nor bucket: %v, want both named", err)
		}
		c := withBucket("wrongcreds")
		c.SecretKey = "not-the-secret"
		_, err = store.NewS3(ctx, c)
		if err == nil {
			t.Fatal("NewS3 with a wrong secret key succeeded")
		}
		if strings.Contains(err.Error(), c.SecretKey) {
			t.Errorf("error shows the secret key: %v", err)
		}
		if s := srv.Config.String(); strings.Contains(s, srv.Config.SecretKey) {
			t.Errorf("S3Config.String shows the secret key: %s", s)
		}
	})

	t.Run("retention per prefix", func(t *testing.T) {
		s, err := store.NewS3(ctx, withBucket("retention"))
		if err != nil {
			t.Fatal(err)
		}
		// A rule someone else set survives ours.
		if err := admin.SetBucketLifecycle(ctx, "retention", &lifecycle.Configuration{Rules: []lifecycle.Rule{{
			ID: "ops-tmp", Status: "Enabled",
			RuleFilter: lifecycle.Filter{Prefix: "tmp/"},
			Expiration: lifecycle.Expiration{Days: 1},
		}}}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			prefix string
			days   int
			want   map[string]int // rule prefix → expiry days
		}{
			{"conn-a/", 30, map[string]int{"tmp/": 1, "conn-a/": 30}},
			{"conn-b/", 7, map[string]int{"tmp/": 1, "conn-a/": 30, "conn-b/": 7}},
			{"conn-a/", 14, map[string]int{"tmp/": 1, "conn-a/": 14, "conn-b/": 7}},
			{"conn-a/", 14, map[string]int{"tmp/": 1, "conn-a/": 14, "conn-b/": 7}},
			{"conn-a/", 0, map[string]int{"tmp/": 1, "conn-b/": 7}},
			{"conn-c/", 0, map[string]int{"tmp/": 1, "conn-b/": 7}},
			{"conn-b/", 0, map[string]int{"tmp/": 1}},
		}
		for _, st := range steps {
			if err := s.SetRetention(ctx, st.prefix, st.days); err != nil {
				t.Fatalf("SetRetention(%q, %d): %v", st.prefix, st.days, err)
			}
			cfg, err := admin.GetBucketLifecycle(ctx, "retention")
			if err != nil {
				t.Fatalf("after SetRetention(%q, %d): GetBucketLifecycle: %v", st.prefix, st.days, err)
			}
			got := map[string]int{}
			for _, r := range cfg.Rules {
				if r.Status != "Enabled" {
					t.Errorf("rule %s is %s", r.ID, r.Status)
				}
				got[r.RuleFilter.Prefix] = int(r.Expiration.Days)
			}
			if !mapsEqual(got, st.want) {
				t.Fatalf("after SetRetention(%q, %d): rules %v, want %v", st.prefix, st.days, got, st.want)
			}
		}

		// With only our rules, removing the last one removes the
		// configuration.
		if err := admin.SetBucketLifecycle(ctx, "retention", lifecycle.NewConfiguration()); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRetention(ctx, "conn-a/", 3); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRetention(ctx, "conn-a/", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.GetBucketLifecycle(ctx, "retention"); minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			t.Errorf("GetBucketLifecycle after removing every rule: %v, want NoSuchLifecycleConfiguration", err)
		}

		if err := s.SetRetention(ctx, "conn-a/", -1); err == nil {
			t.Error("SetRetention with -1 days succeeded")
		}
	})

	// Last: it stops the shared server.
	t.Run("outage", func(t *testing.T) {
		s, err := store.NewS3(ctx, withBucket("outage"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "before", []byte("1")); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		start := time.Now()
		putCtx, putCancel := context.WithTimeout(ctx, 20*time.Second)
		defer putCancel()
		if err := s.Put(putCtx, "during", []byte("2")); err == nil {
			t.Fatal("Put while MinIO is stopped succeeded")
		} else {
			t.Logf("Put while stopped failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
		}
		srv.Restart()
		if err := s.Put(ctx, "after", []byte("3")); err != nil {
			t.Fatalf("Put after Restart: %v", err)
		}
		keys, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"after", "before"}; !slices.Equal(keys, want) {
			t.Errorf("keys after the outage = %q, want %q (data dir kept, nothing from the outage)", keys, want)
		}
	})
}

// adminClient is a plain minio-go client, to look at the server without
// going through the Store.
func adminClient(t *testing.T, c store.S3Config) *minio.Client {
	t.Helper()
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Region: c.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
