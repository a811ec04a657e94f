package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/airlockhq/airlock/services/recorder/store"
)

// testContract checks what the recorder relies on from any Store. s must
// be empty.
func testContract(t *testing.T, s store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	mustPut := func(t *testing.T, key string, data []byte) {
		t.Helper()
		if err := s.Put(ctx, key, data); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	mustGet := func(t *testing.T, key string, want []byte) {
		t.Helper()
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Get(%q) = %d bytes %.40q, want %d bytes %.40q", key, len(got), got, len(want), want)
		}
	}
	mustNotFind := func(t *testing.T, key string) {
		t.Helper()
		if got, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
		}
	}

	t.Run("missing key is ErrNotFound", func(t *testing.T) {
		mustNotFind(t, "2026/11/23/nosuch/req.json.gz")
	})

	t.Run("put get replace", func(t *testing.T) {
		const key = "2026/11/23/sess-1/req-1.json.gz"
		mustPut(t, key, []byte("first"))
		mustGet(t, key, []byte("first"))
		mustPut(t, key, []byte("second, longer than the first"))
		mustGet(t, key, []byte("second, longer than the first"))
		// The recorder re-puts after a redelivery: same content, no harm.
		mustPut(t, key, []byte("second, longer than the first"))
		mustGet(t, key, []byte("second, longer than the first"))
		if keys, err := s.List(ctx, key); err != nil || !slices.Equal(keys, []string{key}) {
			t.Fatalf("List after replacing = %q, %v; want the key once", keys, err)
		}
	})

	t.Run("empty object", func(t *testing.T) {
		mustPut(t, "empty/object", []byte{})
		mustGet(t, "empty/object", []byte{})
	})

	t.Run("5 MiB object", func(t *testing.T) {
		big := make([]byte, 5<<20)
		rand.Read(big)
		mustPut(t, "big/2026/11/23/sess/big.bin", big)
		mustGet(t, "big/2026/11/23/sess/big.bin", big)
	})

	t.Run("list sorted by prefix", func(t *testing.T) {
		// Put out of order; several slashes deep.
		keys := []string{
			"list/2026/11/24/sess-a/req-1.json.gz",
			"list/2026/11/23/sess-b/req-9.json.gz",
			"list/2026/11/23/sess-a/req-10.json.gz",
			"list/2026/11/23/sess-a/req-9.json.gz",
			"list/2026/11/23/sess-a/sub/deeper/req-1.json.gz",
			"list/2026/11/23/sess-a.json.gz",
			"list/2027/01/01/sess-c/req-1.json.gz",
		}
		for _, k := range keys {
			mustPut(t, k, []byte(k))
		}
		for _, k := range keys {
			mustGet(t, k, []byte(k))
		}
		tests := []struct {
			prefix string
			want   []string
		}{
			{"list/", []string{
				"list/2026/11/23/sess-a.json.gz",
				"list/2026/11/23/sess-a/req-10.json.gz",
				"list/2026/11/23/sess-a/req-9.json.gz",
				"list/2026/11/23/sess-a/sub/deeper/req-1.json.gz",
				"list/2026/11/23/sess-b/req-9.json.gz",
				"list/2026/11/24/sess-a/req-1.json.gz",
				"list/2027/01/01/sess-c/req-1.json.gz",
			}},
			{"list/2026/11/23/sess-a/", []string{
				"list/2026/11/23/sess-a/req-10.json.gz",
				"list/2026/11/23/sess-a/req-9.json.gz",
				"list/2026/11/23/sess-a/sub/deeper/req-1.json.gz",
			}},
			// A prefix is a string prefix, not a directory.
			{"list/2026/11/23/sess-a", []string{
				"list/2026/11/23/sess-a.json.gz",
				"list/2026/11/23/sess-a/req-10.json.gz",
				"list/2026/11/23/sess-a/req-9.json.gz",
				"list/2026/11/23/sess-a/sub/deeper/req-1.json.gz",
			}},
			{"list/2026/11/2", []string{
				"list/2026/11/23/sess-a.json.gz",
				"list/2026/11/23/sess-a/req-10.json.gz",
				"list/2026/11/23/sess-a/req-9.json.gz",
				"list/2026/11/23/sess-a/sub/deeper/req-1.json.gz",
				"list/2026/11/23/sess-b/req-9.json.gz",
				"list/2026/11/24/sess-a/req-1.json.gz",
			}},
			{"list/2026/11/23/sess-a/req-9.json.gz", []string{"list/2026/11/23/sess-a/req-9.json.gz"}},
			{"list/2025/", nil},
			{"nosuch", nil},
		}
		for _, tt := range tests {
			got, err := s.List(ctx, tt.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) =\n%q\nwant\n%q", tt.prefix, got, tt.want)
			}
		}
		all, err := s.List(ctx, "")
		if err != nil {
			t.Fatalf("List(\"\"): %v", err)
		}
		if !slices.IsSorted(all) || !slices.Contains(all, "empty/object") || !slices.Contains(all, keys[0]) {
			t.Errorf("List(\"\") = %q, want every key, sorted", all)
		}
	})

	t.Run("delete", func(t *testing.T) {
		const key = "del/2026/11/23/sess/req.json.gz"
		mustPut(t, key, []byte("gone soon"))
		mustPut(t, "del/2026/11/23/sess/kept.json.gz", []byte("kept"))
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		mustNotFind(t, key)
		if keys, err := s.List(ctx, "del/"); err != nil || !slices.Equal(keys, []string{"del/2026/11/23/sess/kept.json.gz"}) {
			t.Fatalf("List after Delete = %q, %v", keys, err)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete of a missing key: %v, want nil", err)
		}
		// A deleted key can be written again.
		mustPut(t, key, []byte("back"))
		mustGet(t, key, []byte("back"))
	})

	t.Run("empty key is refused", func(t *testing.T) {
		if err := s.Put(ctx, "", []byte("x")); err == nil {
			t.Error("Put with an empty key succeeded")
		}
		if _, err := s.Get(ctx, ""); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get with an empty key: %v, want a non-ErrNotFound error", err)
		}
		if err := s.Delete(ctx, ""); err == nil {
			t.Error("Delete with an empty key succeeded")
		}
	})
}
