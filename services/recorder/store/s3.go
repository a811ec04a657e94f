package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// S3Config says how to reach an S3 bucket. Its String method hides the
// secret key, so a config may be logged whole.
type S3Config struct {
	// Endpoint is the server's host:port, without a scheme
	// ("minio.internal:9000", "s3.eu-west-1.amazonaws.com").
	Endpoint string
	// Bucket is the bucket objects are written to. NewS3 creates it when
	// it is missing.
	Bucket string
	// AccessKey and SecretKey are the static credentials requests are
	// signed with.
	AccessKey string
	SecretKey string
	// Region is the bucket's region. Empty lets the client ask the server
	// (one extra request per bucket); MinIO's default is "us-east-1".
	Region string
	// Secure turns TLS on. Off is for a MinIO on localhost or a private
	// network.
	Secure bool
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate, trusted instead of the system's roots. Empty
	// means the system's roots. Only with Secure.
	CAFile string
}

// String describes c without its secret key.
func (c S3Config) String() string {
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	return fmt.Sprintf("s3 %s://%s/%s (region %q, access key %q)", scheme, c.Endpoint, c.Bucket, c.Region, c.AccessKey)
}

// S3 is a Store in an S3 bucket. Safe for concurrent use.
//
// minio-go retries a failed request up to 10 times with backoff: with the
// server down, a call returns its error after about 5 s unless its context
// ends first.
type S3 struct {
	client *minio.Client
	bucket string

	// lifecycleMu serializes SetRetention's read-modify-write of the
	// bucket's lifecycle configuration within this process.
	lifecycleMu sync.Mutex
}

// NewS3 connects and creates the bucket if it is missing.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	var problems []error
	if c.Endpoint == "" {
		problems = append(problems, errors.New("s3 endpoint missing"))
	}
	if c.Bucket == "" {
		problems = append(problems, errors.New("s3 bucket missing"))
	}
	if c.CAFile != "" && !c.Secure {
		problems = append(problems, errors.New("s3 ca file set without TLS"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.Secure,
		Region: c.Region,
	}
	if c.CAFile != "" {
		tr, err := transportTrusting(c.CAFile)
		if err != nil {
			return nil, err
		}
		opts.Transport = tr
	}
	client, err := minio.New(c.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("creating s3 client for %s: %w", c.Endpoint, err)
	}
	exists, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("checking s3 bucket %s at %s: %w", c.Bucket, c.Endpoint, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region})
		// Another recorder may have created it since BucketExists.
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return nil, fmt.Errorf("creating s3 bucket %s at %s: %w", c.Bucket, c.Endpoint, err)
		}
	}
	return &S3{client: client, bucket: c.Bucket}, nil
}

// transportTrusting is minio-go's default transport with TLS on, trusting
// the certificate authorities in caFile only.
func transportTrusting(caFile string) (*http.Transport, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the s3 ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading the s3 ca file %s: no PEM certificate in it", caFile)
	}
	tr, err := minio.DefaultTransport(true)
	if err != nil {
		return nil, fmt.Errorf("creating the s3 transport: %w", err)
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return tr, nil
}

// Put writes data under key in one request (multipart above minio-go's
// 16 MiB part size).
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return fmt.Errorf("putting in s3 bucket %s: %w", s.bucket, errEmptyKey)
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		return fmt.Errorf("putting %s in s3 bucket %s: %w", key, s.bucket, err)
	}
	return nil
}

// Get reads the object under key.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if key == "" {
		return nil, fmt.Errorf("getting from s3 bucket %s: %w", s.bucket, errEmptyKey)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting %s from s3 bucket %s: %w", key, s.bucket, err)
	}
	defer obj.Close()
	// GetObject sends no request; the first read does, and reports a
	// missing key.
	data, err := io.ReadAll(obj)
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("getting %s from s3 bucket %s: %w", key, s.bucket, err)
	}
	return data, nil
}

// List returns the keys under prefix, sorted.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	// Cancelling stops minio-go's lister if we return early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keys []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("listing %q in s3 bucket %s: %w", prefix, s.bucket, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	// S3 lists in UTF-8 byte order already; not every S3 look-alike does.
	slices.Sort(keys)
	return keys, nil
}

// Delete removes the object under key.
func (s *S3) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("deleting from s3 bucket %s: %w", s.bucket, errEmptyKey)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("deleting %s from s3 bucket %s: %w", key, s.bucket, err)
	}
	return nil
}

// SetRetention applies a lifecycle rule expiring objects under prefix after
// days; days 0 removes the rule for that prefix. Rules for several prefixes
// coexist (one per connection), and rules someone else set on the bucket
// are kept.
//
// The rule's ID is "airlock-retention:<prefix>". S3 has no conditional
// write for a bucket's lifecycle configuration, so this reads, edits and
// writes it whole: two processes setting retention for different prefixes
// on one bucket at the same instant can lose one rule. Within a process,
// calls are serialized.
func (s *S3) SetRetention(ctx context.Context, prefix string, days int) error {
	if days < 0 {
		return fmt.Errorf("setting retention of %q in s3 bucket %s: days must be 0 or more, got %d", prefix, s.bucket, days)
	}
	s.lifecycleMu.Lock()
	defer s.lifecycleMu.Unlock()

	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return fmt.Errorf("reading lifecycle of s3 bucket %s: %w", s.bucket, err)
		}
		cfg = lifecycle.NewConfiguration()
	}
	id := retentionRuleID(prefix)
	before := len(cfg.Rules)
	cfg.Rules = slices.DeleteFunc(cfg.Rules, func(r lifecycle.Rule) bool { return r.ID == id })
	if days == 0 && len(cfg.Rules) == before {
		return nil // no rule to remove
	}
	if days > 0 {
		cfg.Rules = append(cfg.Rules, lifecycle.Rule{
			ID:         id,
			Status:     "Enabled",
			RuleFilter: lifecycle.Filter{Prefix: prefix},
			Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
		})
	}
	// An empty configuration deletes the bucket's lifecycle.
	if err := s.client.SetBucketLifecycle(ctx, s.bucket, cfg); err != nil {
		return fmt.Errorf("writing lifecycle of s3 bucket %s (%q: %d days): %w", s.bucket, prefix, days, err)
	}
	return nil
}

// retentionRuleID names the rule SetRetention keeps for prefix. S3 caps
// rule IDs at 255 characters; a longer one uses the prefix's hash.
func retentionRuleID(prefix string) string {
	const tag = "airlock-retention:"
	if len(tag)+len(prefix) <= 255 {
		return tag + prefix
	}
	sum := sha256.Sum256([]byte(prefix))
	return tag + "sha256:" + hex.EncodeToString(sum[:])
}

var _ Store = (*S3)(nil)
