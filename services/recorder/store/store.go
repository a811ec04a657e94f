// Package store is where the recorder keeps its objects: an S3 bucket
// (MinIO, AWS S3, anything minio-go speaks) or, for `airlock up`, a
// JetStream object store bucket. Keys are slash-separated paths
// ("2026/11/23/<session>/<request-id>.json.gz").
package store

import (
	"context"
	"errors"
)

// ErrNotFound is returned, wrapped, by Get when the key holds no object.
var ErrNotFound = errors.New("object not found")

// Store keeps whole objects under slash-separated keys. Implementations are
// safe for concurrent use.
type Store interface {
	// Put writes an object whole; it is durable when Put returns nil.
	// Putting an existing key replaces it (the recorder relies on replacing
	// with identical content being harmless).
	Put(ctx context.Context, key string, data []byte) error
	// Get reads the object under key; an error wrapping ErrNotFound says
	// there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys under prefix, sorted. The prefix is a plain
	// string prefix, not a directory: "2026/11/2" matches "2026/11/23/…".
	// No match is an empty list, not an error.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object under key. Deleting a missing key is not
	// an error.
	Delete(ctx context.Context, key string) error
}

var errEmptyKey = errors.New("empty object key")
