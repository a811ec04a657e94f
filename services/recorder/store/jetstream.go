package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStream is a Store in a JetStream object store bucket, for the
// all-in-one `airlock up`. Safe for concurrent use.
type JetStream struct {
	obs    jetstream.ObjectStore
	bucket string
}

// NewJetStream opens (creating if missing) a JetStream object store bucket
// as a Store. A bucket created here is file-backed with one replica; one
// provisioned beforehand keeps its own settings.
func NewJetStream(ctx context.Context, js jetstream.JetStream, bucket string) (*JetStream, error) {
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "airlock recorder objects",
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Created by someone else since, possibly with other settings.
			obs, err = js.ObjectStore(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening object store %s: %w", bucket, err)
	}
	return &JetStream{obs: obs, bucket: bucket}, nil
}

// Put writes data under key. It returns once the server has acknowledged
// every chunk and the object's metadata.
func (s *JetStream) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return fmt.Errorf("putting in object store %s: %w", s.bucket, errEmptyKey)
	}
	if _, err := s.obs.PutBytes(ctx, key, data); err != nil {
		return fmt.Errorf("putting %s in object store %s: %w", key, s.bucket, err)
	}
	return nil
}

// Get reads the object under key.
func (s *JetStream) Get(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, fmt.Errorf("getting from object store %s: %w", s.bucket, errEmptyKey)
	}
	data, err := s.obs.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s from object store %s: %w", key, s.bucket, err)
	}
	return data, nil
}

// List returns the keys under prefix, sorted. The object store has no
// prefix query: this reads the metadata of every object in the bucket.
func (s *JetStream) List(ctx context.Context, prefix string) ([]string, error) {
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %q in object store %s: %w", prefix, s.bucket, err)
	}
	var keys []string
	for _, info := range infos {
		if strings.HasPrefix(info.Name, prefix) {
			keys = append(keys, info.Name)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Delete removes the object under key.
func (s *JetStream) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("deleting from object store %s: %w", s.bucket, errEmptyKey)
	}
	err := s.obs.Delete(ctx, key)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("deleting %s from object store %s: %w", key, s.bucket, err)
	}
	return nil
}

var _ Store = (*JetStream)(nil)
