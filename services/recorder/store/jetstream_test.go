package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/airlockhq/airlock/pkg/bustest"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder/store"
)

func TestJetStream(t *testing.T) {
	srv := bustest.Start(t)
	_, js := srv.Connect(t, "store-test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("contract", func(t *testing.T) {
		s, err := store.NewJetStream(ctx, js, "store-contract")
		if err != nil {
			t.Fatal(err)
		}
		testContract(t, s)
	})

	t.Run("creates bucket once", func(t *testing.T) {
		if _, err := js.ObjectStore(ctx, "store-new"); err == nil {
			t.Fatal("bucket store-new exists before NewJetStream")
		}
		a, err := store.NewJetStream(ctx, js, "store-new")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Put(ctx, "k/1", []byte("v")); err != nil {
			t.Fatal(err)
		}
		// Opening again finds the bucket and its objects.
		b, err := store.NewJetStream(ctx, js, "store-new")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(ctx, "k/1"); err != nil || string(got) != "v" {
			t.Fatalf("Get through a second handle = %q, %v", got, err)
		}
	})

	t.Run("opens the provisioned recordings bucket", func(t *testing.T) {
		s, err := store.NewJetStream(ctx, js, subject.RecordingsBucket)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "2026/11/23/s/r.json.gz", []byte("x")); err != nil {
			t.Fatal(err)
		}
		obs, err := js.ObjectStore(ctx, subject.RecordingsBucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := obs.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Description() == "airlock recorder objects" {
			t.Error("NewJetStream replaced the provisioned bucket's config")
		}
	})

	t.Run("invalid bucket name", func(t *testing.T) {
		if _, err := store.NewJetStream(ctx, js, "no.dots"); err == nil {
			t.Error("NewJetStream accepted bucket name no.dots")
		}
	})
}
