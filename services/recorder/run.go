package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Running is a recorder at work: the exchanges and the audit chain.
type Running struct {
	Service *Service
	Store   store.Store
	cancel  context.CancelFunc
	wg      sync.WaitGroup
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
// that is slow on purpose.
func StartOn(ctx context.Context, cfg *config.Config, st store.Store, js jetstream.JetStream, log *slog.Logger, m *Metrics) (*Running, error) {
	lifecycle, err := setRetention(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	chain, err := NewChain(ctx, js, st, log)
	if err != nil {
		return nil, err
	}
	chain.m = m
	svc := New(js, st, log, m)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{Service: svc, Store: st, cancel: cancel}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := svc.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("recorder stopped", "err", err)
		}
	}()
	go func() {
		defer r.wg.Done()
		if err := chain.Run(rctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("audit chain stopped", "err", err)
		}
	}()
	if !lifecycle {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			sweep(rctx, st, retentions(cfg), log)
		}()
	}
	return r, nil
}

// Stop stops recording; what was not written waits in JetStream.
func (r *Running) Stop() {
	r.cancel()
	r.wg.Wait()
}
