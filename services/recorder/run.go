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
		SecretKey: s3.SecretKey, Region: s3.Region, Secure: !s3.Insecure})
}

// setRetention applies each connection's retention as a lifecycle rule on
// its prefix.
func setRetention(ctx context.Context, cfg *config.Config, st store.Store) error {
	s3, ok := st.(*store.S3)
	if !ok {
		return nil
	}
	for _, c := range cfg.Connections {
		days := c.RetentionDays
		if days == 0 {
			days = cfg.Recorder.RetentionDays
		}
		if err := s3.SetRetention(ctx, SessionsPrefix+subject.Token(c.Name)+"/", days); err != nil {
			return fmt.Errorf("connection %s: setting retention: %w", c.Name, err)
		}
	}
	return nil
}

// Running is a recorder at work: the exchanges and the audit chain.
type Running struct {
	Service *Service
	Store   store.Store
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start starts recording on js.
func Start(ctx context.Context, cfg *config.Config, js jetstream.JetStream, log *slog.Logger) (*Running, error) {
	st, err := OpenStore(ctx, cfg, js)
	if err != nil {
		return nil, fmt.Errorf("opening the recordings store: %w", err)
	}
	if err := setRetention(ctx, cfg, st); err != nil {
		return nil, err
	}
	chain, err := NewChain(ctx, js, st, log)
	if err != nil {
		return nil, err
	}
	svc := New(js, st, log)
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
	return r, nil
}

// Stop stops recording; what was not written waits in JetStream.
func (r *Running) Stop() {
	r.cancel()
	r.wg.Wait()
}
