package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/airlockhq/airlock/pkg/config"
	"github.com/airlockhq/airlock/pkg/subject"
	"github.com/airlockhq/airlock/services/recorder/store"
)

// OpenStore opens where recordings are: the configured S3 store, or the
// JetStream object store bucket. The recorder's own opening (Start) also
// sets the retention rules; readers (the CLI) leave them.
func OpenStore(ctx context.Context, cfg *config.Config, js jetstream.JetStream) (store.Store, error) {
	s3 := cfg.Recorder.S3
	if !s3.Enabled() {
		return store.NewJetStream(ctx, js, subject.RecordingsBucket)
	}
	return store.NewS3(ctx, store.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, AccessKey: s3.AccessKey,
		SecretKey: s3.SecretKey, Region: s3.Region, Secure: !s3.Insecure, CAFile: cfg.Path(s3.CA)})
}

// Running is a recorder replica: recording while it holds the lease,
// standing by otherwise.
type Running struct {
	Store  store.Store
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts recording on js to the configured store, counting in m
// (nil: no metrics).
func Start(ctx context.Context, cfg *config.Config, js jetstream.JetStream, log *slog.Logger, m *Metrics) (*Running, error) {
	st, err := OpenStore(ctx, cfg, js)
	if err != nil {
		return nil, fmt.Errorf("opening the recordings store: %w", err)
	}
	return StartOn(ctx, cfg, st, js, log, m)
}

// StartOn is Start on a store already open: the benchmarks give it one
// that is slow on purpose. The replica records only while it holds the
// recorder's lease (lease.go); until then it stands by.
func StartOn(ctx context.Context, cfg *config.Config, st store.Store, js jetstream.JetStream, log *slog.Logger, m *Metrics) (*Running, error) {
	l, err := newLease(ctx, js, holderName())
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{Store: st, cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		lead(rctx, l, log, m, func(ctx context.Context) error { return record(ctx, cfg, st, js, log, m) })
	}()
	return r, nil
}

// record is the active replica's work until ctx ends: the exchanges, the
// audit chain from its last link in the store, and the retention.
func record(ctx context.Context, cfg *config.Config, st store.Store, js jetstream.JetStream, log *slog.Logger, m *Metrics) error {
	lifecycle, err := setRetention(ctx, cfg, st)
	if err != nil {
		return err
	}
	chain, err := NewChain(ctx, js, st, log)
	if err != nil {
		return err
	}
	chain.m = m
	svc := New(js, st, log, m)
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := svc.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- err
		}
	}()
	go func() {
		defer wg.Done()
		if err := chain.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("audit chain stopped", "err", err)
		}
	}()
	if !lifecycle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sweep(ctx, st, retentions(cfg), log)
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// holderName names this replica in the lease: host and process.
func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// Stop stops recording; what was not written waits in JetStream.
func (r *Running) Stop() {
	r.cancel()
	r.wg.Wait()
}
